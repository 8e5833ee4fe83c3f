"""Domain exceptions: what went wrong, in the words of the domain."""


class ChunksError(Exception):
    """Base class of every error this library raises on purpose."""


class InvalidChunkError(ChunksError, ValueError):
    """A chunk cannot be stored as given; the message names the chunk and the field."""


class DuplicateChunkError(ChunksError):
    """A chunk id that is already stored was given again."""


class ConfigurationError(ChunksError, ValueError):
    """Configuration that cannot work (partition count out of range, mismatch with the database)."""


class MonitoringUnavailableError(ChunksError):
    """The statistics cannot be read: database unreachable or a monitoring object missing."""


class SchemaMissingError(MonitoringUnavailableError):
    """The database is reachable but the library's schema is not installed there."""


class DatabaseTimeoutError(MonitoringUnavailableError):
    """A statement gave up: lock_timeout or statement_timeout fired (a lock held elsewhere, a slow read)."""
