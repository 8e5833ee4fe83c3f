"""Prometheus metrics for the partitions, named like postgres_exporter's (prefix, base units, ``_bytes``).

Why a snapshot: prometheus_client calls ``collect()`` synchronously, and its ASGI app calls
it on the event loop's own thread, while the monitoring service is async and (with
PostgreSQL) holds connections bound to the host's loop. Blocking that loop to wait for a
query on the same loop would deadlock, and a second loop in a thread would need an engine of
its own. So the collector serves the last snapshot, and the ``/metrics`` ASGI app refreshes
that snapshot (awaiting the service on the host's loop) before it renders, at most once per
``max_age_seconds`` however many scrapers there are. A host exposing the collector through a
registry of its own instead awaits ``collector.refresh()`` on a schedule of its choosing.

Series (``partition`` is the partition number, ``status`` a ``PartitionHealthStatus``):

- ``semantik_chunks_up`` 1 when the last read of the statistics succeeded, else 0 (and no
  partition series are exposed, rather than stale ones);
- ``semantik_chunks_statistics_read_timestamp_seconds`` when they were read (Unix time);
- ``semantik_chunks_partition_rows{partition}``, ``semantik_chunks_partition_size_bytes{partition}``;
- ``semantik_chunks_partition_chunk_skew_ratio{partition}``, ``semantik_chunks_partition_size_skew_ratio{partition}``;
- ``semantik_chunks_partition_health_status{partition,status}`` 1 for the partition's status, 0 for the others;
- ``semantik_chunks_partitions{status}`` how many partitions have each status.

And one counter of the Celery worker, ``semantik_chunks_alert_delivery_failures_total{sink}``:
monitor runs whose alerts a sink could not deliver (after the sink's own retries; each retry
of the task that fails again counts again). It lives in prometheus_client's default registry,
which a worker exposes with ``prometheus_client.start_http_server(port)`` (with prefork
workers, in multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR``); ``make_metrics_app`` serves it too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs
from prometheus_client import CollectorRegistry, Counter, make_asgi_app
from prometheus_client.core import GaugeMetricFamily, Metric

from semantik_chunks.container import Container
from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.domain.model import PartitionHealth, PartitionHealthStatus
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


@attrs.frozen
class _Snapshot:
    up: bool
    partitions: Sequence[PartitionHealth] = ()
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
        """Read the partitions' health now (statistics mode: cheap, catalog-based)."""
        taken_at = self._monotonic()
        try:
            partitions = await self._service.get_partition_health_summary()
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

        up = gauge("up", "Whether the last read of the partition statistics succeeded (1) or failed (0)")
        up.add_metric([], 1.0 if snapshot.up else 0.0)
        read_at = gauge("statistics_read_timestamp_seconds", "When the partition statistics were last read")
        if snapshot.read_at is not None:
            read_at.add_metric([], snapshot.read_at)
        rows = gauge(
            "partition_rows",
            "Chunks in the partition, from the database's statistics (an estimate on PostgreSQL)",
            ["partition"],
        )
        size = gauge("partition_size_bytes", "On-disk size of the partition", ["partition"])
        chunk_skew = gauge(
            "partition_chunk_skew_ratio", "|share of chunks - 1/N| / (1/N): 0 is a fair share", ["partition"]
        )
        size_skew = gauge(
            "partition_size_skew_ratio", "|share of bytes - 1/N| / (1/N): 0 is a fair share", ["partition"]
        )
        status = gauge(
            "partition_health_status", "1 for the partition's health status, 0 for others", ["partition", "status"]
        )
        by_status = gauge("partitions", "Partitions by health status", ["status"])
        for p in snapshot.partitions:
            label = str(p.partition_num)
            rows.add_metric([label], p.chunk_count)
            size.add_metric([label], p.size_bytes)
            chunk_skew.add_metric([label], p.chunk_skew)
            size_skew.add_metric([label], p.size_skew)
            for candidate in PartitionHealthStatus:
                status.add_metric([label, candidate.value], 1.0 if p.health_status is candidate else 0.0)
        if snapshot.up:
            for candidate in PartitionHealthStatus:
                count = sum(1 for p in snapshot.partitions if p.health_status is candidate)
                by_status.add_metric([candidate.value], count)
        return [up, read_at, rows, size, chunk_skew, size_skew, status, by_status]


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
