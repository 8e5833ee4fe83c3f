"""The exit codes a cron job or monitoring agent acts on, and the error the operator acts on."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Each code means one thing: a verdict (0, 1, 4), a usage error (2, click's), or no check (3).

    A cron job can tell "the table is unbalanced" (4) from "the command line is wrong" (2)."""

    HEALTHY = 0
    WARNING = 1
    USAGE_ERROR = 2  # click's code for a bad option or argument, found before anything is read
    COULD_NOT_CHECK = 3
    UNBALANCED = 4
    ABORTED = 130  # interrupted (Ctrl-C), as a shell reports SIGINT


class CommandError(Exception):
    """A failure the operator can act on; its message names the problem and the fix."""
