"""Prometheus metrics for the partitions, named like postgres_exporter's (prefix, base units, ``_bytes``).

Why a snapshot: prometheus_client calls ``collect()`` synchronously, and its ASGI app calls
it on the event loop's own thread, while the monitoring service is async and (with
PostgreSQL) holds connections bound to the host's loop. Blocking that loop to wait for a
query on the same loop would deadlock, and a second loop in a thread would need an engine of
its own. So the collector serves the last snapshot, and the ``/metrics`` ASGI app refreshes
that snapshot (awaiting the service on the host's loop) before it renders, at most once per
``max_age_seconds`` however many scrapers there are. A host exposing the collector through a
registry of its own instead awaits ``collector.refresh()`` on a schedule of its choosing.

A scrape stays small whatever the partition count. Table-level series are always there; which
partitions get per-partition series of their own is ``partition_series``:

- ``top`` (default): the ``top_k`` most skewed partitions, plus every partition whose status is not
  HEALTHY or whose forecast crosses its capacity budget, at most ``max_partition_series`` in all (most
  skewed first; the rest are counted in ``semantik_chunks_partition_series_omitted``). At 1,024
  partitions a scrape has well under 1,000 samples;
- ``all``: every partition (about 10 samples each: some 10,000 at 1,024 partitions);
- ``none``: table-level series only.

Series (``partition`` is the partition number; docs/integration.md has the table). Table level:

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
- ``semantik_chunks_partitions{status}`` how many partitions have each status (below);
- ``semantik_chunks_partition_count`` partitions of the table; ``semantik_chunks_table_rows`` and
  ``semantik_chunks_table_size_bytes`` the whole table;
- ``semantik_chunks_max_chunk_skew``, ``semantik_chunks_max_size_skew`` the worst partition's skew;
- ``semantik_chunks_top_partition_share_ratio{rank,partition}`` the share of all chunks of the
  ``top_k`` largest partitions;
- ``semantik_chunks_partition_series_exported``, ``semantik_chunks_partition_series_omitted``
  partitions with per-partition series in this scrape, and non-HEALTHY ones the limit left out;

Per partition (the selected ones):

- ``semantik_chunks_partition_rows{partition}``, ``semantik_chunks_partition_size_bytes{partition}``;
- ``semantik_chunks_partition_chunk_share_ratio{partition}``, ``..._size_share_ratio`` (0..1);
- ``semantik_chunks_partition_chunk_skew{partition}``, ``..._size_skew`` (``|share - 1/N| / (1/N)``,
  0 to N - 1, hence no ``_ratio``);
- ``semantik_chunks_partition_health_status{partition,status}`` 1 for the partition's status, 0 for
  the others, and ``semantik_chunks_partitions{status}`` how many partitions have each status, over
  the statuses a partition can have (HEALTHY, WARNING, UNBALANCED);
- per server holding partitions (``server`` is ``coordinator`` or a postgres_fdw server's name):
  ``semantik_chunks_server_up{server}`` 1 when it answered, ``semantik_chunks_server_partitions{server}``,
  ``semantik_chunks_server_rows{server}``, ``semantik_chunks_server_size_bytes{server}`` (0 rows and
  bytes while it does not answer);
- ``semantik_chunks_collection_rows{collection,partition}`` the largest ``TOP_COLLECTIONS``
  collections (from ``collection_chunking_stats``: as fresh as its last refresh);
- ``semantik_chunks_partition_days_until_budget{partition}`` days until the partition's forecast
  crosses its capacity budget (0 when over it already; absent when it never does at its current
  growth, or with too little history, or for a partition with isolated collections, whose budget is
  judged per leaf table).

Isolated collections (``semantik-chunks isolate``; one series each per isolated collection, whatever
``partition_series`` says: an operator isolates a handful, so the count stays small):

- ``semantik_chunks_isolated_collections`` how many collections are isolated;
- ``semantik_chunks_isolated_collection_rows{collection,partition}``,
  ``semantik_chunks_isolated_collection_size_bytes{collection,partition}`` the rows and bytes of its
  sub-partition (all its parts), ``semantik_chunks_isolated_collection_parts{collection,partition}``
  its hash parts (1: one sub-partition). The verdict judges the partition's budget per part.

Statements on chunks (``pg_stat_statements``, read at most once per ``statements_max_age_seconds``;
``kind`` is ``pruned``, ``reads_several_partitions``, ``reads_every_partition`` or ``not_analysed``):

- ``semantik_chunks_statements_up`` 1 when the statement statistics could be read and planned;
- ``semantik_chunks_statements{kind}``, ``semantik_chunks_statements_time_seconds{kind}`` (execution time
  pg_stat_statements has summed since its last reset);
- ``semantik_chunks_statements_every_partition_time_ratio`` the share of the time on chunks taken by
  statements reading every partition (the pruning alert's input);
- ``semantik_chunks_statements_alert_share_ratio`` the share above which the pruning alert fires
  (``SEMANTIK_PRUNING_ALERT_SHARE``; the Prometheus rule compares the two);
- ``semantik_chunks_statements_read_timestamp_seconds``.

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
from semantik_chunks.domain.concurrency import concurrently
from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.domain.history import PartitionForecast
from semantik_chunks.domain.model import (
    CollectionCount,
    IsolatedCollection,
    MonitoringResult,
    PartitionHealth,
    PartitionHealthStatus,
    ServerTotals,
)
from semantik_chunks.domain.pruning import PruningReport
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.queries import StatementPruningService

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
DEFAULT_STATEMENTS_MAX_AGE_SECONDS = 300.0
PARTITION_SERIES = ("top", "all", "none")
DEFAULT_TOP_K = 10
DEFAULT_MAX_PARTITION_SERIES = 64
STATEMENT_KINDS = ("pruned", "reads_several_partitions", "reads_every_partition", "not_analysed")


@attrs.frozen
class _Snapshot:
    up: bool
    partitions: Sequence[PartitionHealth] = ()
    result: MonitoringResult | None = None
    collections: Sequence[CollectionCount] = ()
    forecasts: Sequence[PartitionForecast] = ()
    servers: Sequence[ServerTotals] = ()
    isolated: Sequence[IsolatedCollection] = ()
    read_at: float | None = None  # Unix time of a successful read
    taken_at: float | None = None  # monotonic time of the attempt, for max_age


@attrs.frozen
class _Statements:
    up: bool
    report: PruningReport | None = None
    read_at: float | None = None
    taken_at: float | None = None


def select_partitions(
    partitions: Sequence[PartitionHealth],
    mode: str,
    top_k: int,
    max_series: int,
    also: frozenset[int] = frozenset(),
) -> tuple[list[PartitionHealth], int]:
    """``(exported, omitted)``: the partitions that get series of their own under ``mode``. ``also``:
    partitions wanted besides the non-HEALTHY ones (those whose forecast crosses the budget)."""
    if mode == "all":
        return sorted(partitions, key=lambda p: p.partition_num), 0
    if mode == "none":
        return [], 0
    ranked = sorted(partitions, key=lambda p: (-p.chunk_skew, p.partition_num))
    wanted = [
        p
        for i, p in enumerate(ranked)
        if i < top_k or p.health_status is not PartitionHealthStatus.HEALTHY or p.partition_num in also
    ]
    chosen = wanted[: max(max_series, min(top_k, len(ranked)))]
    return sorted(chosen, key=lambda p: p.partition_num), len(wanted) - len(chosen)


class PartitionMetricsCollector:
    """A prometheus_client collector serving the last snapshot of partition health (and statement pruning)."""

    def __init__(
        self,
        service: PartitionMonitoringService,
        *,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        partition_series: str = "top",
        top_k: int = DEFAULT_TOP_K,
        max_partition_series: int = DEFAULT_MAX_PARTITION_SERIES,
        pruning: StatementPruningService | None = None,
        statements_max_age_seconds: float = DEFAULT_STATEMENTS_MAX_AGE_SECONDS,
    ) -> None:
        if partition_series not in PARTITION_SERIES:
            raise ValueError(f"partition_series must be one of {', '.join(PARTITION_SERIES)}, got {partition_series!r}")
        if top_k < 0 or max_partition_series < 0:
            raise ValueError("top_k and max_partition_series must not be negative")
        self._service = service
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._mode = partition_series
        self._top_k = top_k
        self._max_series = max_partition_series
        self._pruning = pruning
        self._statements_max_age = statements_max_age_seconds
        self._snapshot = _Snapshot(up=False)
        self._statements = _Statements(up=False)
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Run the health check now (statistics mode: catalog statistics, O(partitions))."""
        taken_at = self._monotonic()
        try:
            result, partitions, collections, forecasts, servers, isolated = await concurrently(
                self._service.check_partition_health(),
                self._service.get_partition_health_summary(),
                self._service.get_top_collections(TOP_COLLECTIONS),
                self._service.get_forecasts(),
                self._service.get_server_totals(),
                self._service.get_isolated_collections(),
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
            servers=servers,
            isolated=tuple(isolated),
            read_at=time.time(),
            taken_at=taken_at,
        )

    async def refresh_statements(self) -> None:
        """Read and plan the statements on chunks now (no-op without a pruning service)."""
        if self._pruning is None:
            return
        taken_at = self._monotonic()
        try:
            report = await self._pruning.find_unpruned_statements()
        except Exception as exc:
            if isinstance(exc, ChunksError):
                logger.warning("statement metrics unavailable: %s", exc)
            else:
                logger.exception("statement metrics unavailable")
            self._statements = _Statements(up=False, taken_at=taken_at)
            return
        self._statements = _Statements(up=True, report=report, read_at=time.time(), taken_at=taken_at)

    def _stale(self, taken_at: float | None, max_age: float) -> bool:
        return taken_at is None or self._monotonic() - taken_at >= max_age

    async def refresh_if_stale(self) -> None:
        """Refresh what is older than its max age; concurrent callers share one read."""
        async with self._lock:
            if self._stale(self._snapshot.taken_at, self._max_age):
                await self.refresh()
            if self._pruning is not None and self._stale(self._statements.taken_at, self._statements_max_age):
                await self.refresh_statements()

    def describe(self) -> Iterator[Metric]:
        return iter(
            self._families(_Snapshot(up=False, read_at=0.0))
            + self._statement_families(_Statements(up=False, read_at=0.0))
        )

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(self._snapshot) + self._statement_families(self._statements))

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
        count = gauge("partition_count", "Partitions of the chunks table")
        table_rows = gauge("table_rows", "Chunks in the table, from the database's statistics (an estimate)")
        table_size = gauge("table_size_bytes", "On-disk size of the chunks table, all partitions")
        max_chunk = gauge("max_chunk_skew", "The largest partition chunk skew: |share - 1/N| / (1/N)")
        max_size = gauge("max_size_skew", "The largest partition size skew: |share of bytes - 1/N| / (1/N)")
        top = gauge(
            "top_partition_share_ratio",
            "Share of all chunks held by each of the largest partitions",
            ["rank", "partition"],
        )
        exported = gauge("partition_series_exported", "Partitions with per-partition series in this scrape")
        omitted = gauge("partition_series_omitted", "Non-healthy partitions left out by the per-partition series limit")
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
        isolated_count = gauge("isolated_collections", "Collections with a sub-partition of their own")
        isolated_rows = gauge(
            "isolated_collection_rows",
            "Chunks of an isolated collection, all its parts (from the database's statistics)",
            ["collection", "partition"],
        )
        isolated_bytes = gauge(
            "isolated_collection_size_bytes",
            "On-disk size of an isolated collection's parts",
            ["collection", "partition"],
        )
        isolated_parts = gauge(
            "isolated_collection_parts",
            "Hash parts of an isolated collection's sub-partition (1: not split)",
            ["collection", "partition"],
        )
        # A partition with isolated collections is judged per leaf (advice.capacity_alerts): the forecast of
        # the whole partition against one partition's budget is not its question, so no days for it.
        remedied = frozenset(i.partition_num for i in snapshot.isolated)
        forecasts = [f for f in snapshot.forecasts if f.partition_num not in remedied]
        crossing = frozenset(f.partition_num for f in forecasts if f.days_to_budget is not None)
        chosen, left_out = select_partitions(snapshot.partitions, self._mode, self._top_k, self._max_series, crossing)
        shown = frozenset(p.partition_num for p in chosen)
        for f in forecasts:
            if f.days_to_budget is not None and f.partition_num in shown:
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
                found = sum(1 for p in snapshot.partitions if p.health_status is candidate)
                by_status.add_metric([candidate.value], found)
            parts = snapshot.partitions
            total_rows = sum(p.chunk_count for p in parts)
            count.add_metric([], len(parts))
            table_rows.add_metric([], total_rows)
            table_size.add_metric([], sum(p.size_bytes for p in parts))
            max_chunk.add_metric([], max((p.chunk_skew for p in parts), default=0.0))
            max_size.add_metric([], max((p.size_skew for p in parts), default=0.0))
            largest = sorted(parts, key=lambda p: (-p.chunk_count, p.partition_num))[: self._top_k]
            for rank, p in enumerate(largest, start=1):
                top.add_metric([str(rank), str(p.partition_num)], p.chunk_count / total_rows if total_rows else 0.0)
            exported.add_metric([], len(chosen))
            omitted.add_metric([], left_out)
            isolated_count.add_metric([], len(snapshot.isolated))
        for p in chosen:
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
        server_up = gauge("server_up", "Whether the server holding partitions answered (1) or not (0)", ["server"])
        server_partitions = gauge("server_partitions", "Partitions the server holds", ["server"])
        server_rows = gauge("server_rows", "Chunks on the server, from its own statistics", ["server"])
        server_size = gauge("server_size_bytes", "On-disk size of the server's partitions", ["server"])
        for s in snapshot.servers:
            server_up.add_metric([s.server], 1.0 if s.reachable else 0.0)
            server_partitions.add_metric([s.server], len(s.partitions))
            server_rows.add_metric([s.server], s.rows)
            server_size.add_metric([s.server], s.size_bytes)
        servers = [server_up, server_partitions, server_rows, server_size]
        for i in snapshot.isolated:
            labels = [i.collection_id, str(i.partition_num)]
            isolated_rows.add_metric(labels, i.rows)
            isolated_bytes.add_metric(labels, i.bytes)
            isolated_parts.add_metric(labels, i.parts)
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
            count,
            table_rows,
            table_size,
            max_chunk,
            max_size,
            top,
            exported,
            omitted,
            isolated_count,
            isolated_rows,
            isolated_bytes,
            isolated_parts,
            *servers,
        ]

    def _statement_families(self, statements: _Statements) -> list[Metric]:
        if self._pruning is None:
            return []

        def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))

        up = gauge("statements_up", "Whether pg_stat_statements could be read and its statements planned (1) or not")
        up.add_metric([], 1.0 if statements.up else 0.0)
        read_at = gauge("statements_read_timestamp_seconds", "When the statements on chunks were last read")
        if statements.read_at is not None:
            read_at.add_metric([], statements.read_at)
        counts = gauge("statements", "Statements naming chunks, by how many partitions their plans read", ["kind"])
        seconds = gauge(
            "statements_time_seconds", "Execution time of the statements on chunks since the last reset", ["kind"]
        )
        share = gauge(
            "statements_every_partition_time_ratio",
            "Share of the time on chunks spent in statements that read every partition",
        )
        threshold = gauge(
            "statements_alert_share_ratio",
            "Share of the time on chunks above which statements reading every partition raise the pruning alert "
            "(SEMANTIK_PRUNING_ALERT_SHARE)",
        )
        report = statements.report
        if statements.up and report is not None:
            threshold.add_metric([], report.alert_share)
            every = [s for s in report.unpruned if s.reads_every_partition]
            several = [s for s in report.unpruned if not s.reads_every_partition]
            pruned_ms = report.chunks_time_ms - sum(s.total_time_ms for s in report.unpruned)
            pruned_ms -= sum(s.total_time_ms for s in report.not_analysed)
            by_kind = {
                "pruned": (report.pruned, pruned_ms),
                "reads_several_partitions": (len(several), sum(s.total_time_ms for s in several)),
                "reads_every_partition": (len(every), sum(s.total_time_ms for s in every)),
                "not_analysed": (len(report.not_analysed), sum(s.total_time_ms for s in report.not_analysed)),
            }
            for kind in STATEMENT_KINDS:
                number, ms = by_kind[kind]
                counts.add_metric([kind], number)
                seconds.add_metric([kind], max(ms, 0.0) / 1000)
            share.add_metric([], report.every_partition_time_share)
        return [up, read_at, counts, seconds, share, threshold]


def make_metrics_app(
    container: Container,
    *,
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    partition_series: str | None = None,
    top_k: int | None = None,
    max_partition_series: int = DEFAULT_MAX_PARTITION_SERIES,
    statements: bool = True,
    statements_max_age_seconds: float = DEFAULT_STATEMENTS_MAX_AGE_SECONDS,
) -> ASGIApp:
    """An ASGI app serving the partition metrics: ``app.mount("/metrics", make_metrics_app(container))``.

    ``partition_series`` and ``top_k`` default to the settings (``SEMANTIK_METRICS_PARTITIONS``,
    ``SEMANTIK_METRICS_TOP_K``); ``statements=False`` leaves out the statement series.

    The app's registry holds only this collector and the alert delivery counter, so it does not
    repeat the host's own metrics."""
    settings = container.settings()
    collector = PartitionMetricsCollector(
        container.monitoring_service(),
        max_age_seconds=max_age_seconds,
        partition_series=partition_series or settings.metrics_partitions,
        top_k=settings.metrics_top_k if top_k is None else top_k,
        max_partition_series=max_partition_series,
        pruning=container.pruning_service() if statements else None,
        statements_max_age_seconds=statements_max_age_seconds,
    )
    registry = CollectorRegistry()
    registry.register(collector)
    registry.register(ALERT_DELIVERY_FAILURES)
    export = make_asgi_app(registry)

    async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await collector.refresh_if_stale()
        await export(scope, receive, send)

    return metrics_app
