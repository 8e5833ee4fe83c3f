"""Statement statistics kept in memory: what a test or a demo says was run, and what its plan reads.

There is no planner here: ``record`` takes how many partitions a statement's plan reads (or why
it could not be planned) as given, and repeated records of one text add up like
``pg_stat_statements`` does. ``available=False`` behaves like a database without
``pg_stat_statements``."""

from __future__ import annotations

import re

import attrs

from semantik_chunks.domain.hashing import validate_partition_count
from semantik_chunks.domain.pruning import (
    ENABLE_HINT,
    StatementPlan,
    StatementStatisticsUnavailableError,
    StatementStats,
    unplannable_reason,
)

_CHUNKS = re.compile(r"(?<![\w$])chunks(_part_[0-9]+)?(?![\w$])", re.IGNORECASE)


class InMemoryStatementStatistics:
    """The ``StatementStatistics`` port over statements recorded by hand."""

    def __init__(self, partition_count: int, *, available: bool = True) -> None:
        self._partition_count = validate_partition_count(partition_count)
        self.available = available
        self._plans: dict[str, StatementPlan] = {}

    @property
    def partition_count(self) -> int:
        return self._partition_count

    def record(
        self,
        query: str,
        *,
        partitions_read: int | None,
        calls: int = 1,
        total_time_ms: float = 0.0,
        rows: int = 0,
        problem: str | None = None,
    ) -> None:
        """Count ``calls`` more calls of ``query``; ``partitions_read`` None means it cannot be planned."""
        if partitions_read is None and problem is None:
            problem = unplannable_reason(query) or "not planned"
        previous = self._plans.get(query)
        if previous is not None:
            calls += previous.stats.calls
            total_time_ms += previous.stats.total_time_ms
            rows += previous.stats.rows
        stats = StatementStats(
            query_id=previous.stats.query_id if previous else len(self._plans) + 1,
            query=query,
            calls=calls,
            total_time_ms=total_time_ms,
            rows=rows,
        )
        self._plans[query] = attrs.evolve(
            previous or StatementPlan(stats, partitions_read, problem),
            stats=stats,
            partitions_read=partitions_read,
            problem=problem,
        )

    def _check(self) -> None:
        if not self.available:
            raise StatementStatisticsUnavailableError(f"pg_stat_statements is not enabled: {ENABLE_HINT}")

    async def chunk_statements(self) -> list[StatementPlan]:
        self._check()
        return [plan for query, plan in self._plans.items() if _CHUNKS.search(query)]

    async def reset(self) -> None:
        self._check()
        self._plans.clear()
