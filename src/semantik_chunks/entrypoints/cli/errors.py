"""The exit codes a cron job or monitoring agent acts on, and the error the operator acts on."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    HEALTHY = 0
    WARNING = 1
    UNBALANCED = 2  # also click's code for a usage error, which happens before any check
    COULD_NOT_CHECK = 3


class CommandError(Exception):
    """A failure the operator can act on; its message names the problem and the fix."""
