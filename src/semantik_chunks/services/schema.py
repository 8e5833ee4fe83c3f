"""The operator's schema chores as use cases: install or upgrade the schema, take over a host's table.

``semantik-chunks migrate`` is ``install`` then ``move_rows``; ``migrate --dry-run`` is
``preview_moves``. The work is done by the ports' adapters (the Postgres migrations and row mover).
"""

from __future__ import annotations

from semantik_chunks.domain.adoption import MoveReport, Progress
from semantik_chunks.domain.schema import SchemaRevision
from semantik_chunks.ports import SchemaMigrations, TableAdoption


class SchemaService:
    def __init__(self, migrations: SchemaMigrations, adoption: TableAdoption) -> None:
        self._migrations = migrations
        self._adoption = adoption

    async def revisions(self) -> tuple[str, ...]:
        """The library's revisions applied to the database."""
        return await self._migrations.applied()

    async def install(self) -> tuple[str, ...]:
        """Apply the library's migrations; return the revisions now applied. A host's table that the
        migrations take over keeps its misplaced rows for ``move_rows``."""
        return await self._migrations.upgrade()

    async def migrate_to(self, revision: str) -> tuple[str, ...]:
        """Upgrade or downgrade the library's schema to ``revision`` (``base`` removes all of it)."""
        return await self._migrations.migrate_to(revision)

    async def history(self) -> list[SchemaRevision]:
        """The library's revisions, oldest first, with which are applied."""
        return await self._migrations.history()

    async def move_rows(self, progress: Progress | None = None) -> MoveReport:
        """Move every misplaced row of an adopted host table to its partition (nothing to do otherwise)."""
        return await self._adoption.move_misplaced_rows(progress)

    async def preview_moves(self) -> MoveReport:
        """What ``move_rows`` would do, per partition, changing nothing."""
        return await self._adoption.preview_moves()
