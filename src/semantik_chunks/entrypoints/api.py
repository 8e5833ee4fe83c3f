"""The partition monitoring API (seed 002's ``/api/v2/partitions``) as a router the host mounts.

Access is granted to an admin user of the host, or to a request whose ``X-Internal-Api-Key``
header equals ``SEMANTIK_INTERNAL_API_KEY`` (compared in constant time; with no key configured
that way in is closed). The host tells the router who the user is:

``current_user``
    a FastAPI dependency of the host (it may use ``Depends`` itself) that returns the request's
    user, or ``None`` when the request carries no user credentials. It must not raise for
    missing credentials (use ``OAuth2PasswordBearer(auto_error=False)`` and the like), or a
    request holding only the internal key could never get through.
``is_admin``
    ``is_admin(user) -> bool`` for a user ``current_user`` returned.

Outcome: valid internal key → allowed; else no user → 401; a user who is not an admin → 403.

Responses are the pydantic models of ``report_models`` (shared with the CLI's JSON and the
Celery result; timestamps ISO 8601 UTC with a ``Z``), so the OpenAPI schema documents them.
An unreachable database answers 503 (for ``/health`` with the failed health check as body),
never a 500.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at
# runtime, and those built inside create_partition_router refer to its local names.
import hmac
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from semantik_chunks.container import Container
from semantik_chunks.domain.errors import (
    ChunksError,
    ConfigurationError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    SchemaMissingError,
)
from semantik_chunks.domain.model import PartitionDetail, PartitionHealthStatus
from semantik_chunks.entrypoints.api_queries import add_query_routes
from semantik_chunks.entrypoints.history_api import add_history_routes
from semantik_chunks.entrypoints.report_models import (
    IsolatedCollectionRow,
    IsolatedCollections,
    PartitionHealthCheckFailed,
    PartitionHealthEntry,
    PartitionHealthReport,
    PartitionHealthSummary,
    PartitionsError,
    PartitionServer,
    PartitionServers,
    PartitionStatisticsDetail,
    PartitionStatisticsResponse,
    PartitionStatisticsSummary,
    RebalancingRecommendation,
    RebalancingRecommendations,
    health_report,
)
from semantik_chunks.services.monitoring import PartitionMonitoringService

logger = logging.getLogger(__name__)

__all__ = [
    "INTERNAL_KEY_HEADER",
    "PREFIX",
    "PartitionHealthCheckFailed",
    "PartitionHealthReport",
    "create_partition_router",
    "health_report",
]

PREFIX = "/api/v2/partitions"
INTERNAL_KEY_HEADER = "X-Internal-Api-Key"


_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": PartitionsError, "description": "No admin user and no valid internal API key"},
    403: {"model": PartitionsError, "description": "The user is not an admin"},
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": PartitionsError, "description": "The database cannot be read"}
}


# -- access -----------------------------------------------------------------------------------
def _access_guard(
    internal_api_key: str | None, current_user: Callable[..., Any], is_admin: Callable[[Any], bool]
) -> Callable[..., Any]:
    def require_admin(user: Any) -> None:
        if user is None:
            raise HTTPException(401, detail=f"authentication required: an admin user or a valid {INTERNAL_KEY_HEADER}")
        if not is_admin(user):
            raise HTTPException(403, detail="admin rights required")

    if not internal_api_key:

        async def admin_only(user: Annotated[Any, Depends(current_user)]) -> None:
            require_admin(user)

        return admin_only

    expected = internal_api_key.encode()
    key_header = APIKeyHeader(
        name=INTERNAL_KEY_HEADER,
        scheme_name="InternalApiKey",
        description="The host's internal API key (SEMANTIK_INTERNAL_API_KEY), for scripts and dashboards",
        auto_error=False,
    )

    async def admin_or_internal_key(
        request: Request,
        user: Annotated[Any, Depends(current_user)],
        presented: Annotated[str | None, Security(key_header)],
    ) -> None:
        if presented is not None:
            if hmac.compare_digest(presented.encode(), expected):
                return
            logger.warning("rejected a wrong %s on %s", INTERNAL_KEY_HEADER, request.url.path)
        require_admin(user)

    return admin_or_internal_key


# What a client reads when the database cannot answer: fixed sentences, never the driver's text
# (which may name hosts, roles or SQL); the full cause goes to the log. Most specific first.
UNAVAILABLE_DETAILS: tuple[tuple[type[ChunksError], str], ...] = (
    (SchemaMissingError, "partition statistics unavailable: the semantik-chunks schema is not installed"),
    (DatabaseTimeoutError, "partition statistics unavailable: the database did not answer in time"),
    (DatabaseUnavailableError, "partition statistics unavailable: the database cannot be read"),
    (ConfigurationError, "partition statistics unavailable: the service's database configuration is wrong"),
    (ChunksError, "partition statistics unavailable"),
)
HEALTH_CHECK_FAILED = (
    "the partition health check could not read the database: it is unreachable, did not answer in time, "
    "or lacks the semantik-chunks schema (run `semantik-chunks migrate`); the cause is in the server log"
)


def unavailable_detail(exc: ChunksError) -> str:
    return next(detail for kind, detail in UNAVAILABLE_DETAILS if isinstance(exc, kind))


@contextmanager
def _unavailable_as_503() -> Iterator[None]:
    """Every domain error (unreachable, timed out, misconfigured, schema missing) as a 503 with a stable body."""
    try:
        yield
    except ChunksError as exc:
        logger.warning("partition statistics unavailable: %s", exc)
        raise HTTPException(503, detail=unavailable_detail(exc)) from None


# -- the router -------------------------------------------------------------------------------
def create_partition_router(
    container: Container,
    current_user: Callable[..., Any],
    *,
    is_admin: Callable[[Any], bool],
) -> APIRouter:
    """The ``/api/v2/partitions`` router over ``container``'s monitoring service (see the module
    docstring for the ``current_user`` / ``is_admin`` contract). A container without a database URL is
    a ``ConfigurationError`` here, when the app is built, not at its first request."""
    container.backend()
    partition_count: int = container.partition_count()
    guard = _access_guard(container.settings().internal_api_key, current_user, is_admin)
    router = APIRouter(prefix=PREFIX, tags=["partitions"], dependencies=[Depends(guard)], responses=_AUTH_RESPONSES)

    def monitoring_service() -> PartitionMonitoringService:
        return container.monitoring_service()

    Service = Annotated[PartitionMonitoringService, Depends(monitoring_service)]

    @router.get(
        "/health",
        response_model=PartitionHealthReport,
        responses={503: {"model": PartitionHealthCheckFailed, "description": "The health check could not run"}},
        summary="Full partition health check: alerts and metrics",
    )
    async def partition_health(service: Service) -> PartitionHealthReport | JSONResponse:
        report = health_report(await service.check_partition_health())
        if isinstance(report, PartitionHealthCheckFailed):
            # The failure's text (the driver's words) was logged by the service; the client gets a fixed sentence.
            public = report.model_copy(update={"error": HEALTH_CHECK_FAILED})
            return JSONResponse(status_code=503, content=public.model_dump(mode="json"))
        return report

    @router.get(
        "/statistics",
        response_model=PartitionStatisticsResponse,
        responses=_UNAVAILABLE,
        summary="One partition's statistics, or the aggregate over all partitions",
    )
    async def partition_statistics(
        service: Service,
        partition_num: Annotated[
            int | None,
            Query(
                ge=0,
                le=partition_count - 1,
                description=f"A partition number, 0 to {partition_count - 1}; omit it for the aggregate",
            ),
        ] = None,
    ) -> PartitionStatisticsResponse:
        with _unavailable_as_503():
            found = await service.get_partition_statistics(partition_num)
        statistics: PartitionStatisticsDetail | PartitionStatisticsSummary
        if isinstance(found, PartitionDetail):
            statistics = PartitionStatisticsDetail.model_validate(found)
        else:
            statistics = PartitionStatisticsSummary.model_validate(found)
        return PartitionStatisticsResponse(partition_num=partition_num, statistics=statistics)

    @router.get(
        "/recommendations",
        response_model=RebalancingRecommendations,
        responses=_UNAVAILABLE,
        summary="Rebalancing advice for partitions at or above the rebalance threshold",
    )
    async def rebalancing_recommendations(service: Service) -> RebalancingRecommendations:
        with _unavailable_as_503():
            found = await service.get_rebalancing_recommendations()
        return RebalancingRecommendations(
            count=len(found), recommendations=[RebalancingRecommendation.model_validate(r) for r in found]
        )

    @router.get(
        "/health-summary",
        response_model=PartitionHealthSummary,
        responses=_UNAVAILABLE,
        summary="Every partition's health, most skewed first, for dashboards",
    )
    async def partition_health_summary(service: Service) -> PartitionHealthSummary:
        with _unavailable_as_503():
            healths = await service.get_partition_health_summary()
        counts = {status: sum(1 for h in healths if h.health_status is status) for status in PartitionHealthStatus}
        healthy = counts[PartitionHealthStatus.HEALTHY]
        return PartitionHealthSummary(
            total_partitions=len(healths),
            healthy_count=healthy,
            warning_count=counts[PartitionHealthStatus.WARNING],
            unbalanced_count=counts[PartitionHealthStatus.UNBALANCED],
            health_percentage=100.0 * healthy / len(healths) if healths else 100.0,
            partitions=[PartitionHealthEntry.model_validate(h) for h in healths],
        )

    @router.get(
        "/servers",
        response_model=PartitionServers,
        responses=_UNAVAILABLE,
        summary="Per server holding partitions: partitions, rows, bytes, and whether it answered",
    )
    async def partition_servers(service: Service) -> PartitionServers:
        with _unavailable_as_503():
            found = await service.get_server_totals()
        return PartitionServers(
            status="success" if all(s.reachable for s in found) else "degraded",
            servers=[PartitionServer.model_validate(s) for s in found],
        )

    @router.get(
        "/isolated",
        response_model=IsolatedCollections,
        responses=_UNAVAILABLE,
        summary="Collections with a sub-partition of their own (semantik-chunks isolate), by partition then id",
    )
    async def isolated_collections(service: Service) -> IsolatedCollections:
        with _unavailable_as_503():
            found = await service.get_isolated_collections()
        return IsolatedCollections(count=len(found), isolated=[IsolatedCollectionRow.model_validate(i) for i in found])

    add_query_routes(router, container, unavailable_detail)
    add_history_routes(router, container)
    return router
