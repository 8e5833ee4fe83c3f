"""SchemaService: migrate's use cases over the SchemaMigrations and TableAdoption ports (fakes here;
tests/integration/test_adoption.py runs them on PostgreSQL through the CLI)."""

from __future__ import annotations

from semantik_chunks.domain.adoption import MoveProgress, MoveReport, Progress
from semantik_chunks.services.schema import SchemaService


class FakeMigrations:
    def __init__(self) -> None:
        self.revisions: tuple[str, ...] = ()

    async def applied(self) -> tuple[str, ...]:
        return self.revisions

    async def upgrade(self) -> tuple[str, ...]:
        self.revisions = ("sc0003",)
        return self.revisions


class FakeAdoption:
    def __init__(self) -> None:
        self.misplaced = 7

    async def move_misplaced_rows(self, progress: Progress | None = None) -> MoveReport:
        moved, self.misplaced = self.misplaced, 0
        if progress is not None:
            progress(MoveProgress(0, 1, 1, moved, 1, 0.5))
        return MoveReport(partition_count=1, moved=moved, batches=1, seconds=0.5, validated=True)

    async def preview_moves(self) -> MoveReport:
        lose = {0: self.misplaced}
        return MoveReport(1, 0, 0, 0.0, validated=False, dry_run=True, would_gain={0: 0}, would_lose=lose)


async def test_install_then_move_rows_then_nothing_is_left() -> None:
    service = SchemaService(FakeMigrations(), FakeAdoption())
    assert await service.revisions() == ()
    assert (await service.preview_moves()).would_move == 7

    assert await service.install() == ("sc0003",)
    seen: list[MoveProgress] = []
    report = await service.move_rows(seen.append)

    assert (report.moved, report.validated, report.rows_per_second) == (7, True, 14.0)
    assert [p.moved for p in seen] == [7]
    assert await service.revisions() == ("sc0003",)
    assert (await service.preview_moves()).would_move == 0
    assert (await service.move_rows()).moved == 0
