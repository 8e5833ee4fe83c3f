"""The library's schema revisions, in the domain's words (``semantik-chunks migrate history``)."""

from __future__ import annotations

import attrs

BASE = "base"  # before the first revision: nothing of the library's schema, not even its version table
HEAD = "heads"


@attrs.frozen
class SchemaRevision:
    revision: str
    down_revision: str | None
    description: str
    applied: bool
