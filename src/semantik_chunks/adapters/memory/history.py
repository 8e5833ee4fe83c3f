"""The partition history in memory, with the Postgres adapter's semantics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.domain.history import ClockWentBackwardsError, PartitionSample
from semantik_chunks.domain.model import PartitionSnapshot


class InMemoryPartitionHistory:
    """Samples kept in the ``MemoryDatabase`` (in time order: ``record`` refuses anything older), so
    that containers sharing one database share its history, as they would share PostgreSQL."""

    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    @property
    def _samples(self) -> list[PartitionSample]:
        return self._db.history

    @_samples.setter
    def _samples(self, value: list[PartitionSample]) -> None:
        self._db.history = value

    async def record(self, snapshots: Sequence[PartitionSnapshot], taken_at: datetime) -> int:
        if not snapshots:
            return 0
        newest = self._samples[-1].taken_at if self._samples else None
        if newest is not None and newest >= taken_at:
            raise ClockWentBackwardsError(
                f"the clock went backwards: a snapshot taken at {newest.isoformat()} is stored already, "
                f"this one is at {taken_at.isoformat()}; nothing was written"
            )
        self._samples += [
            PartitionSample(s.partition_num, taken_at, s.row_count, s.size_bytes, s.dead_rows, s.writes)
            for s in sorted(snapshots, key=lambda s: s.partition_num)
        ]
        return len(snapshots)

    async def read(self, since: datetime, partition_num: int | None = None) -> list[PartitionSample]:
        return [
            s
            for s in self._samples
            if s.taken_at >= since and (partition_num is None or s.partition_num == partition_num)
        ]

    async def prune(self, older_than: datetime) -> int:
        before = len(self._samples)
        self._samples = [s for s in self._samples if s.taken_at >= older_than]
        return before - len(self._samples)
