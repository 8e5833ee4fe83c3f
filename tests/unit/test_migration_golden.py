"""The migrations are frozen: the DDL each revision emits (Alembic's offline ``--sql`` rendering, on a fresh
database, 100 partitions, upgrade and downgrade) is pinned in ``tests/unit/golden/<revision>.sql``.

A change to the schema-rendering code (``adapters/postgres/schema.py``, ``monitoring_sql.py``) that would
rewrite what a released revision does fails here; it ships as a new revision instead. A new revision
gets its golden file with ``SEMANTIK_WRITE_GOLDEN=1 pytest tests/unit/test_migration_golden.py``, which
writes only files that do not exist yet (a released file is never rewritten by a test run).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from semantik_chunks.adapters.postgres import migrate

GOLDEN = Path(__file__).parent / "golden"


def revisions() -> list[tuple[str, str | None]]:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://golden@localhost/golden"))
    ordered = reversed(list(script.walk_revisions()))
    return [(r.revision, r.down_revision if isinstance(r.down_revision, str) else None) for r in ordered]


def rendered(revision: str, down: str | None) -> str:
    """``alembic upgrade down:revision --sql`` then ``downgrade revision:down --sql``."""
    parts = []
    for direction, span in (("upgrade", f"{down or 'base'}:{revision}"), ("downgrade", f"{revision}:{down or 'base'}")):
        buffer = io.StringIO()
        config = migrate.alembic_config("postgresql://golden@localhost/golden", 100)
        config.output_buffer = buffer
        getattr(command, direction)(config, span, sql=True)
        parts.append(f"-- {direction} {span}\n{buffer.getvalue()}")
    return "\n".join(parts)


@pytest.mark.parametrize(("revision", "down"), revisions(), ids=[r for r, _ in revisions()])
def test_each_revision_emits_exactly_its_pinned_ddl(revision: str, down: str | None) -> None:
    path = GOLDEN / f"{revision}.sql"
    ddl = rendered(revision, down)
    if not path.exists() and os.environ.get("SEMANTIK_WRITE_GOLDEN") == "1":
        path.write_text(ddl, encoding="utf-8")
    assert path.exists(), f"no golden DDL for {revision}: SEMANTIK_WRITE_GOLDEN=1 writes {path.name}"
    assert ddl == path.read_text(encoding="utf-8"), (
        f"{revision} would now emit other DDL than when it was released: schema changes ship as a new revision"
    )


def test_every_golden_file_is_a_revision() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.sql")) == sorted(r for r, _ in revisions())
