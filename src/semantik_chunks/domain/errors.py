"""Domain exceptions: what went wrong, in the words of the domain."""


class ChunksError(Exception):
    """Base class of every error this library raises on purpose."""


class InvalidChunkError(ChunksError, ValueError):
    """A chunk cannot be stored as given; the message names the chunk and the field."""


class DuplicateChunkError(ChunksError):
    """A chunk id that is already stored was given again."""


class ConfigurationError(ChunksError, ValueError):
    """Configuration that cannot work (partition count out of range, mismatch with the database)."""


class IdsExhaustedError(ChunksError):
    """No chunk id is left to generate: the bigint id sequence reached its maximum."""


class DatabaseUnavailableError(ChunksError):
    """The database cannot be read or written: unreachable, credentials refused, or a library object missing."""


class SchemaMissingError(DatabaseUnavailableError):
    """The database is reachable but the library's schema is not installed there."""


class DatabaseTimeoutError(DatabaseUnavailableError):
    """A statement gave up: lock_timeout or statement_timeout fired (a lock held elsewhere, a slow read)."""


class AlertDeliveryError(ChunksError):
    """Alerts could not be delivered (after the sinks' own retries). The message says where, by
    sink type and host, never with a webhook's secret path; ``sinks`` names the sinks that failed."""

    def __init__(self, message: str, sinks: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.sinks = sinks
