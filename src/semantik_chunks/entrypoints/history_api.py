"""``GET /api/v2/partitions/history`` and ``/forecast``: the history endpoints of the partition router.

``create_partition_router`` adds them to its router, so they share its access rules (an admin,
or the internal API key) and its 503 for a database that cannot be read.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at runtime.
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.errors import DatabaseUnavailableError
from semantik_chunks.domain.hashing import partition_table_name
from semantik_chunks.domain.history import (
    DEFAULT_FORECAST_WINDOW,
    ESTIMATOR,
    MIN_SAMPLES,
    InvalidSinceError,
    describe,
    parse_since,
    parse_span,
)
from semantik_chunks.entrypoints.report_models import (
    CapacityBudget,
    HistoryPoint,
    PartitionForecastEntry,
    PartitionForecastResponse,
    PartitionHistoryEntry,
    PartitionHistoryResponse,
)
from semantik_chunks.services.history import PartitionHistoryService

logger = logging.getLogger(__name__)


# A whole number and a unit (seconds, minutes, hours, days, weeks): every value it admits is one
# ``parse_span`` reads, so a request the schema admits is never refused.
SPAN_PATTERN = "^[1-9][0-9]{0,3}[smhdw]$"


class _Error(BaseModel):
    detail: str


_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": _Error, "description": "A since or window that cannot be read"},
    503: {"model": _Error, "description": "The database cannot be read"},
}


@contextmanager
def _answering() -> Iterator[None]:
    try:
        yield
    except InvalidSinceError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    except DatabaseUnavailableError as exc:
        logger.warning("partition history unavailable: %s", exc)
        raise HTTPException(503, detail=f"partition history unavailable: {exc}") from None


def add_history_routes(router: APIRouter, container: Container) -> None:
    """Add ``/history`` and ``/forecast`` to the partition router."""
    partition_count: int = container.partition_count()

    def history_service() -> PartitionHistoryService:
        return container.history_service()

    Service = Annotated[PartitionHistoryService, Depends(history_service)]

    @router.get(
        "/history",
        response_model=PartitionHistoryResponse,
        responses=_RESPONSES,
        summary="Each partition's snapshots since a point in time, with its growth per day",
    )
    async def partition_history(
        service: Service,
        since: Annotated[
            str, Query(pattern=SPAN_PATTERN, description="How far back from now: 30m, 12h, 7d, 2w, ...")
        ] = "7d",
        partition_num: Annotated[
            int | None,
            Query(ge=0, le=partition_count - 1, description=f"One partition, 0 to {partition_count - 1}"),
        ] = None,
    ) -> PartitionHistoryResponse:
        with _answering():
            start = parse_since(since, utc_now())
            found = await service.history(start, partition_num)
        return PartitionHistoryResponse(
            since=start,
            partition_num=partition_num,
            snapshots=len({s.taken_at for series in found for s in series.samples}),
            partitions=[
                PartitionHistoryEntry(
                    partition_num=s.partition_num,
                    partition_name=partition_table_name(s.partition_num, partition_count),
                    row_count=s.last.row_count,
                    row_change=s.row_change,
                    rows_per_day=s.rows_per_day,
                    writes=s.writes,
                    points=[
                        HistoryPoint(
                            taken_at=p.taken_at,
                            row_count=p.row_count,
                            size_bytes=p.size_bytes,
                            dead_rows=p.dead_rows,
                            writes=p.writes,
                        )
                        for p in s.samples
                    ],
                )
                for s in found
            ],
        )

    @router.get(
        "/forecast",
        response_model=PartitionForecastResponse,
        responses=_RESPONSES,
        summary="Each partition's growth rate and when it crosses its capacity budget",
    )
    async def partition_forecast(
        service: Service,
        window: Annotated[
            str, Query(pattern=SPAN_PATTERN, description="How much history the growth rates are read from (e.g. 14d)")
        ] = f"{DEFAULT_FORECAST_WINDOW.days}d",
    ) -> PartitionForecastResponse:
        with _answering():
            report = await service.forecast(parse_span(window))
        budget = report.budget
        return PartitionForecastResponse(
            generated_at=report.generated_at,
            window_days=report.window.total_seconds() / 86_400,
            snapshots=report.snapshots,
            min_snapshots=MIN_SAMPLES,
            estimator=ESTIMATOR,
            budget=CapacityBudget(share_factor=budget.share_factor, max_bytes=budget.max_bytes),
            partitions=[
                PartitionForecastEntry(
                    partition_num=f.partition_num,
                    partition_name=partition_table_name(f.partition_num, partition_count),
                    samples=f.samples,
                    row_count=f.row_count,
                    size_bytes=f.size_bytes,
                    rows_per_day=f.rows_per_day,
                    bytes_per_day=f.bytes_per_day,
                    share_of_fair=f.share_of_fair,
                    status=f.status,
                    budget_kind=f.budget_kind.value if f.budget_kind else None,
                    crosses_at=f.crosses_at,
                    days_to_budget=f.days_to_budget,
                    summary=describe(f, partition_table_name(f.partition_num, partition_count), budget),
                )
                for f in report.partitions
            ],
        )
