"""Prometheus metrics for the partitions, named like postgres_exporter's (prefix, base units, ``_bytes``).

Why a snapshot: prometheus_client calls ``collect()`` synchronously, and its ASGI app calls
it on the event loop's own thread, while the monitoring service is async and (with
PostgreSQL) holds connections bound to the host's loop. Blocking that loop to wait for a
query on the same loop would deadlock, and a second loop in a thread would need an engine of
its own. So the collector serves the last snapshot, and the ``/metrics`` ASGI app refreshes
that snapshot (awaiting the service on the host's loop) before it renders, at most once per
``max_age_seconds`` however many scrapers there are. A host exposing the collector through a
registry of its own instead awaits ``collector.refresh()`` on a schedule of its choosing.

Series (``partition`` is the partition number; docs/integration.md has the table):

- ``semantik_chunks_up`` 1 when the last health check read the statistics, else 0 (and no other
  series are exposed, rather than stale ones);
- ``semantik_chunks_statistics_read_timestamp_seconds`` when they were read (Unix time);
- ``semantik_chunks_verdict`` the health check's verdict as a level: 0 HEALTHY, 1 WARNING,
  2 UNBALANCED (``Verdict.level``, the same verdict as the CLI's exit code and the API's ``overall``);
- ``semantik_chunks_alerts{cause,level}`` the check's alerts per cause and level (a pair the check
  did not raise is absent, not 0);
- ``semantik_chunks_chance_skew`` the standard deviation of a partition's skew under random
  placement, and ``semantik_chunks_effective_collections`` (K_eff); absent for an empty table;
- ``semantik_chunks_capacity_budget_share_ratio`` a partition's share budget (``(1 + capacity) / N``),
  ``semantik_chunks_capacity_budget_bytes`` its byte budget (only when one is set);
- ``semantik_chunks_partition_rows{partition}``, ``semantik_chunks_partition_size_bytes{partition}``;
- ``semantik_chunks_partition_chunk_share_ratio{partition}``, ``..._size_share_ratio`` (0..1);
- ``semantik_chunks_partition_chunk_skew{partition}``, ``..._size_skew`` (``|share - 1/N| / (1/N)``,
  0 to N - 1, hence no ``_ratio``);
- ``semantik_chunks_partition_health_status{partition,status}`` 1 for the partition's status, 0 for
  the others, and ``semantik_chunks_partitions{status}`` how many partitions have each status, over
  the statuses a partition can have (HEALTHY, WARNING, UNBALANCED);
- ``semantik_chunks_collection_rows{collection,partition}`` the largest ``TOP_COLLECTIONS``
  collections (from ``collection_chunking_stats``: as fresh as its last refresh);
- ``semantik_chunks_partition_days_until_budget{partition}`` days until the partition's forecast
  crosses its capacity budget (0 when over it already; absent when it never does at its current
  growth, or with too little history).

And one counter of the Celery worker, ``semantik_chunks_alert_delivery_failures_total{sink}``:
monitor runs whose alerts a sink could not deliver (after the sink's own retries; each retry
of the task that fails again counts again). It lives in prometheus_client's default registry,
which a worker exposes with ``prometheus_client.start_http_server(port)`` (with prefork
workers, in multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR``); ``make_metrics_app`` serves it too.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs
from prometheus_client import CollectorRegistry, Counter, make_asgi_app
from prometheus_client.core import GaugeMetricFamily, Metric

from semantik_chunks.container import Container
from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.domain.history import PartitionForecast
from semantik_chunks.domain.model import CollectionCount, MonitoringResult, PartitionHealth, PartitionHealthStatus
from semantik_chunks.services.monitoring import PartitionMonitoringService

if TYPE_CHECKING:  # the Celery worker imports this module for the counter, without the api extra
    from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

PREFIX = "semantik_chunks"
DEFAULT_MAX_AGE_SECONDS = 15.0

ALERT_DELIVERY_FAILURES = Counter(
    f"{PREFIX}_alert_delivery_failures",
    "Monitor runs whose alerts a sink could not deliver, after the sink's own retries",
    ["sink"],
)


def count_alert_delivery_failures(sinks: Iterable[str]) -> None:
    """One more failed delivery for each sink named (by type, e.g. ``WebhookAlertSink``)."""
    for sink in sinks:
        ALERT_DELIVERY_FAILURES.labels(sink=sink).inc()


PARTITION_STATUSES = (PartitionHealthStatus.HEALTHY, PartitionHealthStatus.WARNING, PartitionHealthStatus.UNBALANCED)
"""The statuses a partition can have (CRITICAL is never produced per partition: no series for it)."""
TOP_COLLECTIONS = 10


@attrs.frozen
class _Snapshot:
    up: bool
    partitions: Sequence[PartitionHealth] = ()
    result: MonitoringResult | None = None
    collections: Sequence[CollectionCount] = ()
    forecasts: Sequence[PartitionForecast] = ()
    read_at: float | None = None  # Unix time of a successful read
    taken_at: float | None = None  # monotonic time of the attempt, for max_age


class PartitionMetricsCollector:
    """A prometheus_client collector serving the last snapshot of partition health."""

    def __init__(
        self,
        service: PartitionMonitoringService,
        *,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._snapshot = _Snapshot(up=False)
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Run the health check now (statistics mode: catalog statistics, O(partitions))."""
        taken_at = self._monotonic()
        try:
            result, partitions, collections, forecasts = await asyncio.gather(
                self._service.check_partition_health(),
                self._service.get_partition_health_summary(),
                self._service.get_top_collections(TOP_COLLECTIONS),
                self._service.get_forecasts(),
            )
            if not result.succeeded:
                raise ChunksError(result.error or "the health check failed")
        except Exception as exc:
            if isinstance(exc, ChunksError):
                logger.warning("partition metrics unavailable: %s", exc)
            else:
                logger.exception("partition metrics unavailable")
            self._snapshot = _Snapshot(up=False, taken_at=taken_at)
            return
        self._snapshot = _Snapshot(
            up=True,
            partitions=sorted(partitions, key=lambda p: p.partition_num),
            result=result,
            collections=tuple(collections),
            forecasts=tuple(forecasts),
            read_at=time.time(),
            taken_at=taken_at,
        )

    async def refresh_if_stale(self) -> None:
        """Refresh unless the snapshot is younger than ``max_age_seconds``; concurrent callers share one read."""
        async with self._lock:
            taken_at = self._snapshot.taken_at
            if taken_at is not None and self._monotonic() - taken_at < self._max_age:
                return
            await self.refresh()

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(_Snapshot(up=False, read_at=0.0)))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(self._snapshot))

    def _families(self, snapshot: _Snapshot) -> list[Metric]:
        def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))

        up = gauge("up", "Whether the last health check read the partition statistics (1) or failed (0)")
        up.add_metric([], 1.0 if snapshot.up else 0.0)
        read_at = gauge("statistics_read_timestamp_seconds", "When the partition statistics were last read")
        if snapshot.read_at is not None:
            read_at.add_metric([], snapshot.read_at)
        verdict = gauge("verdict", "The health check's verdict: 0 HEALTHY, 1 WARNING, 2 UNBALANCED")
        alerts = gauge("alerts", "The health check's alerts by cause and level", ["cause", "level"])
        sigma = gauge("chance_skew", "Standard deviation of a partition's chunk skew under random placement")
        k_eff = gauge("effective_collections", "How many equal collections would spread like these (K_eff)")
        budget_share = gauge(
            "capacity_budget_share_ratio", "A partition's share budget of all chunks, (1 + capacity) / N"
        )
        budget_bytes = gauge("capacity_budget_bytes", "A partition's size budget on disk (only when one is set)")
        rows = gauge(
            "partition_rows",
            "Chunks in the partition, from the database's statistics (an estimate on PostgreSQL)",
            ["partition"],
        )
        size = gauge("partition_size_bytes", "On-disk size of the partition", ["partition"])
        chunk_share = gauge("partition_chunk_share_ratio", "The partition's share of all chunks (0..1)", ["partition"])
        size_share = gauge("partition_size_share_ratio", "The partition's share of all bytes (0..1)", ["partition"])
        chunk_skew = gauge("partition_chunk_skew", "|share of chunks - 1/N| / (1/N): 0 is a fair share", ["partition"])
        size_skew = gauge("partition_size_skew", "|share of bytes - 1/N| / (1/N): 0 is a fair share", ["partition"])
        status = gauge(
            "partition_health_status", "1 for the partition's health status, 0 for others", ["partition", "status"]
        )
        by_status = gauge("partitions", "Partitions by health status", ["status"])
        collection_rows = gauge(
            "collection_rows",
            f"Chunks of the {TOP_COLLECTIONS} largest collections (collection_chunking_stats)",
            ["collection", "partition"],
        )
        days = gauge(
            "partition_days_until_budget",
            "Days until the partition crosses its capacity budget at its current growth (0: over it already; "
            "absent: never, or not enough history)",
            ["partition"],
        )
        for f in snapshot.forecasts:
            if f.days_to_budget is not None:
                days.add_metric([str(f.partition_num)], f.days_to_budget)
        result = snapshot.result
        if snapshot.up and result is not None and result.verdict is not None and result.metrics is not None:
            verdict.add_metric([], result.verdict.level)
            counted = collections.Counter((a.cause.value, a.level.value) for a in result.alerts)
            for (cause, level), found in sorted(counted.items()):
                alerts.add_metric([cause, level], found)
            if result.metrics.chance_skew is not None:
                sigma.add_metric([], result.metrics.chance_skew)
            if result.metrics.effective_collections is not None:
                k_eff.add_metric([], result.metrics.effective_collections)
            thresholds = self._service.thresholds
            budget_share.add_metric([], min(1.0, thresholds.capacity_share_factor / self._service.partition_count))
            if thresholds.max_partition_bytes is not None:
                budget_bytes.add_metric([], thresholds.max_partition_bytes)
            for candidate in PARTITION_STATUSES:
                count = sum(1 for p in snapshot.partitions if p.health_status is candidate)
                by_status.add_metric([candidate.value], count)
        for p in snapshot.partitions:
            label = str(p.partition_num)
            rows.add_metric([label], p.chunk_count)
            size.add_metric([label], p.size_bytes)
            chunk_share.add_metric([label], p.chunk_percentage / 100.0)
            size_share.add_metric([label], p.size_percentage / 100.0)
            chunk_skew.add_metric([label], p.chunk_skew)
            size_skew.add_metric([label], p.size_skew)
            for candidate in PARTITION_STATUSES:
                status.add_metric([label, candidate.value], 1.0 if p.health_status is candidate else 0.0)
        for c in snapshot.collections:
            collection_rows.add_metric([c.collection_id, str(c.partition_num)], c.chunk_count)
        return [
            up,
            read_at,
            verdict,
            alerts,
            sigma,
            k_eff,
            budget_share,
            budget_bytes,
            rows,
            size,
            chunk_share,
            size_share,
            chunk_skew,
            size_skew,
            status,
            by_status,
            collection_rows,
            days,
        ]


def make_metrics_app(container: Container, *, max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS) -> ASGIApp:
    """An ASGI app serving the partition metrics: ``app.mount("/metrics", make_metrics_app(container))``.

    The app's registry holds only this collector and the alert delivery counter, so it does not
    repeat the host's own metrics."""
    collector = PartitionMetricsCollector(container.monitoring_service(), max_age_seconds=max_age_seconds)
    registry = CollectorRegistry()
    registry.register(collector)
    registry.register(ALERT_DELIVERY_FAILURES)
    export = make_asgi_app(registry)

    async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await collector.refresh_if_stale()
        await export(scope, receive, send)

    return metrics_app
