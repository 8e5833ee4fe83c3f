"""Statements on ``chunks`` that miss partition pruning: the use case over the statement statistics port."""

from __future__ import annotations

from collections.abc import Sequence

from semantik_chunks.domain import pruning
from semantik_chunks.domain.model import Alert
from semantik_chunks.domain.pruning import DEFAULT_ALERT_SHARE, PruningReport
from semantik_chunks.ports import StatementStatistics


class StatementPruningService:
    """Which statements on ``chunks`` read more than one partition, what they cost, how to fix them."""

    def __init__(self, statements_port: StatementStatistics, alert_share: float = DEFAULT_ALERT_SHARE) -> None:
        self._statements = statements_port
        self.alert_share = alert_share

    @property
    def partition_count(self) -> int:
        return self._statements.partition_count

    async def find_unpruned_statements(self) -> PruningReport:
        """Every statement naming ``chunks`` judged by its plan (raises
        ``StatementStatisticsUnavailableError`` when the database keeps no statement statistics)."""
        plans = await self._statements.chunk_statements()
        return pruning.pruning_report(plans, self.partition_count, self.alert_share)

    async def pruning_alerts(self) -> Sequence[Alert]:
        """The alerts of ``find_unpruned_statements`` alone (for a scheduled check)."""
        return (await self.find_unpruned_statements()).alerts

    async def reset_statistics(self) -> None:
        await self._statements.reset()
