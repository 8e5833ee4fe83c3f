"""One command, one reading of the statistics: a ``PartitionStatistics`` in front of another.

A report asks the services several questions that read the same facts (``full`` reads the
partition snapshots five times and last hour's writes twice). Read once, the sections of a
report describe the same moment (the alerts and the hot-partition table cannot disagree
about a write that landed in between) and the costlier reads (write activity scans the
last week's rows, last hour's writes the last hour's) run once.
``container.bootstrap(settings, statistics_read_once=True)`` puts it in front of the chosen
adapter (the CLI's containers).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from semantik_chunks.domain.model import (
    CollectionCount,
    CollectionStats,
    IsolatedCollection,
    PartitionSnapshot,
    WriteActivity,
)
from semantik_chunks.ports import PartitionStatistics

T = TypeVar("T")


class ReadOnce:
    """A ``PartitionStatistics`` that answers each question from its first answer. A refresh
    forgets every answer, so a command that refreshes then reads sees the refresh."""

    def __init__(self, inner: PartitionStatistics) -> None:
        self._inner = inner
        self._answers: dict[Hashable, Any] = {}

    @property
    def partition_count(self) -> int:
        return self._inner.partition_count

    async def _once(self, question: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        if question not in self._answers:
            self._answers[question] = await read()
        answer: T = copy.copy(self._answers[question])  # a copy: callers may sort or change what they get
        return answer

    async def partition_snapshots(self, *, exact: bool = False) -> list[PartitionSnapshot]:
        return await self._once(("snapshots", exact), lambda: self._inner.partition_snapshots(exact=exact))

    async def write_activity(self) -> list[WriteActivity]:
        return await self._once("activity", self._inner.write_activity)

    async def last_hour_writes(self) -> dict[int, int]:
        return await self._once("hour_writes", self._inner.last_hour_writes)

    async def collection_counts(
        self, *, partition_num: int | None = None, limit: int | None = None, exact: bool = False
    ) -> list[CollectionCount]:
        return await self._once(
            ("counts", partition_num, limit, exact),
            lambda: self._inner.collection_counts(partition_num=partition_num, limit=limit, exact=exact),
        )

    async def recent_collection_counts(self, partition_num: int, limit: int) -> list[CollectionCount]:
        return await self._once(
            ("recent", partition_num, limit), lambda: self._inner.recent_collection_counts(partition_num, limit)
        )

    async def collection_stats(self) -> list[CollectionStats]:
        return await self._once("collection_stats", self._inner.collection_stats)

    async def isolated_collections(self) -> list[IsolatedCollection]:
        return await self._once("isolated", self._inner.isolated_collections)

    async def refresh_collection_stats(self) -> None:
        self._answers.clear()
        await self._inner.refresh_collection_stats()

    async def analyze(self, partitions: Sequence[int]) -> None:
        self._answers.clear()
        await self._inner.analyze(partitions)
