"""``GET /api/v2/partitions/queries``: statements on chunks that read more than one partition.

Added to the partition router by ``create_partition_router`` (same access rules). Without
``pg_stat_statements`` it answers 503 with one line saying how to enable it.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's annotations at runtime.
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from semantik_chunks.container import Container
from semantik_chunks.domain.errors import DatabaseUnavailableError
from semantik_chunks.domain.model import AlertLevel
from semantik_chunks.domain.pruning import PruningReport, StatementStatisticsUnavailableError
from semantik_chunks.services.queries import StatementPruningService

logger = logging.getLogger(__name__)


class _FromDomain(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PruningAlert(BaseModel):
    cause: Literal["pruning"]
    level: AlertLevel
    message: str
    action: str


class UnprunedStatementEntry(_FromDomain):
    query_id: int | None
    query: str
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int
    partitions_read: int
    reads_every_partition: bool
    share_of_chunks_time: float
    fix: str


class UnanalysedStatementEntry(_FromDomain):
    query_id: int | None
    query: str | None
    calls: int
    total_time_ms: float
    reason: str


class StatementPruning(BaseModel):
    """Statements on chunks (from pg_stat_statements) judged by how many partitions their plans read."""

    partition_count: int
    statements: int
    analysed: int
    pruned: int
    chunks_time_ms: float
    every_partition_time_ms: float
    every_partition_time_share: float
    alert_share: float
    alerts: list[PruningAlert]
    unpruned: list[UnprunedStatementEntry]
    not_analysed: list[UnanalysedStatementEntry]


class _Error(BaseModel):
    detail: str


def pruning_response(report: PruningReport) -> StatementPruning:
    return StatementPruning(
        partition_count=report.partition_count,
        statements=report.statements,
        analysed=report.analysed,
        pruned=report.pruned,
        chunks_time_ms=report.chunks_time_ms,
        every_partition_time_ms=report.every_partition_time_ms,
        every_partition_time_share=report.every_partition_time_share,
        alert_share=report.alert_share,
        alerts=[
            PruningAlert(cause="pruning", level=a.level, message=a.message, action=a.action) for a in report.alerts
        ],
        unpruned=[UnprunedStatementEntry.model_validate(s) for s in report.unpruned],
        not_analysed=[UnanalysedStatementEntry.model_validate(s) for s in report.not_analysed],
    )


def add_query_routes(router: APIRouter, container: Container) -> None:
    """Add ``/queries`` to the partition ``router``."""

    def pruning_service() -> StatementPruningService:
        return container.pruning_service()

    @router.get(
        "/queries",
        response_model=StatementPruning,
        responses={503: {"model": _Error, "description": "pg_stat_statements missing, or the database unreadable"}},
        summary="Statements on chunks whose plans read more than one partition, with the fix",
    )
    async def statement_pruning(
        service: Annotated[StatementPruningService, Depends(pruning_service)],
    ) -> StatementPruning:
        try:
            report = await service.find_unpruned_statements()
        except (StatementStatisticsUnavailableError, DatabaseUnavailableError) as exc:
            logger.warning("statement statistics unavailable: %s", exc)
            raise HTTPException(503, detail=f"statement statistics unavailable: {exc}") from None
        return pruning_response(report)
