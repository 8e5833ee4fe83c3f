"""``GET /api/v2/partitions/queries``: statements on chunks that read more than one partition.

Added to the partition router by ``create_partition_router`` (same access rules). Without
``pg_stat_statements`` it answers 503 with one line saying how to enable it.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's annotations at runtime.
import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from semantik_chunks.container import Container
from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.domain.pruning import ENABLE_HINT, PruningReport, StatementStatisticsUnavailableError
from semantik_chunks.entrypoints.report_models import PartitionsError, StatementPruning, statement_pruning_fields
from semantik_chunks.services.queries import StatementPruningService

logger = logging.getLogger(__name__)


def pruning_response(report: PruningReport) -> StatementPruning:
    return StatementPruning(**statement_pruning_fields(report))


def add_query_routes(router: APIRouter, container: Container, unavailable_detail: Callable[[ChunksError], str]) -> None:
    """Add ``/queries`` to the partition ``router``; ``unavailable_detail`` words a 503 without the
    driver's text (the router's own)."""

    def pruning_service() -> StatementPruningService:
        return container.pruning_service()

    @router.get(
        "/queries",
        response_model=StatementPruning,
        responses={
            503: {"model": PartitionsError, "description": "pg_stat_statements missing, or the database unreadable"}
        },
        summary="Statements on chunks whose plans read more than one partition, with the fix",
    )
    async def statement_pruning(
        service: Annotated[StatementPruningService, Depends(pruning_service)],
    ) -> StatementPruning:
        try:
            report = await service.find_unpruned_statements()
        except StatementStatisticsUnavailableError as exc:
            logger.warning("statement statistics unavailable: %s", exc)
            raise HTTPException(503, detail=f"statement statistics unavailable: {ENABLE_HINT}") from None
        except ChunksError as exc:
            logger.warning("statement statistics unavailable: %s", exc)
            raise HTTPException(503, detail=unavailable_detail(exc)) from None
        return pruning_response(report)
