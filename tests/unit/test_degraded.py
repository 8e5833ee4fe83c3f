"""A health check while a server holding partitions does not answer: degraded, never failed; per-server totals
in the service, the API and the metrics (over a statistics port whose snapshots say where partitions live)."""

from __future__ import annotations

from typing import Any

import attrs
import httpx
from dependency_injector import providers
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.domain import skew
from semantik_chunks.domain.model import (
    AlertCause,
    AlertLevel,
    CheckOutcome,
    PartitionHealthStatus,
    PartitionSnapshot,
    ServerTotals,
)
from semantik_chunks.entrypoints.api import INTERNAL_KEY_HEADER, PREFIX, create_partition_router
from semantik_chunks.entrypoints.metrics import make_metrics_app
from tests.host_data import PARTITIONS, memory_container, seed_skewed

DOWN = "server 'beta' unreachable: could not connect to server \"beta\""


class _Placed:
    """The memory statistics with partition 1 on ``alpha`` and partition 2 on ``beta``, which is down."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.partition_count = inner.partition_count

    async def partition_snapshots(self, *, exact: bool = False) -> list[PartitionSnapshot]:
        snapshots = await self._inner.partition_snapshots(exact=exact)
        placed = {1: ("alpha", None), 2: ("beta", DOWN)}
        result = []
        for s in snapshots:
            server, error = placed.get(s.partition_num, ("coordinator", None))
            if error:
                s = attrs.evolve(s, row_count=0, size_bytes=0, dead_rows=0, writes=0)
            result.append(attrs.evolve(s, server=server, unreachable=error))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def _container() -> Any:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS), internal_api_key="k")
    await seed_skewed(container)
    inner = container.partition_statistics()
    container.partition_statistics.override(providers.Object(_Placed(inner)))
    return container


def test_server_totals_put_the_coordinator_first_and_say_who_did_not_answer() -> None:
    snapshots = [
        PartitionSnapshot(0, 10, 100),
        PartitionSnapshot(1, 20, 200, server="alpha"),
        PartitionSnapshot(2, 0, 0, server="beta", unreachable=DOWN),
        PartitionSnapshot(3, 5, 50),
    ]
    assert skew.server_totals(snapshots) == [
        ServerTotals("coordinator", (0, 3), 15, 150, True),
        ServerTotals("alpha", (1,), 20, 200, True),
        ServerTotals("beta", (2,), 0, 0, False, DOWN),
    ]


async def test_a_check_with_a_server_down_is_degraded_with_a_critical_alert_and_the_rest_intact() -> None:
    container = await _container()
    service = container.monitoring_service()
    result = await service.check_partition_health()
    assert result.status is CheckOutcome.DEGRADED and result.succeeded and result.degraded
    # The verdict comes from the alerts like any other: the unreachable server is a CRITICAL alert of
    # cause monitoring, so the verdict is the worst status, naming that cause, never HEALTHY.
    assert result.overall is PartitionHealthStatus.UNBALANCED
    assert result.verdict is not None and AlertCause.MONITORING in result.verdict.causes
    assert [s.server for s in result.unreachable] == ["beta"]
    alert = result.alerts[0]
    assert alert.level is AlertLevel.CRITICAL and alert.partitions == (2,)
    assert alert.cause is AlertCause.MONITORING and alert.command == "semantik-chunks servers list"
    assert "beta" in alert.message and "partitions 2" in alert.message
    assert result.metrics is not None and result.metrics.total_partitions == PARTITIONS
    expected = sum(s.row_count for s in await container.partition_statistics().partition_snapshots())
    assert result.metrics.total_chunks == expected


async def test_the_servers_endpoint_and_the_server_metrics() -> None:
    container = await _container()
    app = FastAPI()
    app.include_router(create_partition_router(container, lambda: None, is_admin=lambda _user: False))
    app.mount("/metrics", make_metrics_app(container))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        assert (await client.get(PREFIX + "/servers")).status_code == 401
        answer = (await client.get(PREFIX + "/servers", headers={INTERNAL_KEY_HEADER: "k"})).json()
        health = (await client.get(PREFIX + "/health", headers={INTERNAL_KEY_HEADER: "k"})).json()
        text = (await client.get("/metrics/")).text
    assert answer["status"] == "degraded"
    assert [(s["server"], s["reachable"]) for s in answer["servers"]] == [
        ("coordinator", True),
        ("alpha", True),
        ("beta", False),
    ]
    assert answer["servers"][2]["error"] == DOWN
    assert health["status"] == "degraded" and health["unreachable"][0]["partitions"] == [2]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("semantik_chunks_server_up", (("server", "beta"),))] == 0
    assert samples[("semantik_chunks_server_up", (("server", "alpha"),))] == 1
    assert samples[("semantik_chunks_server_partitions", (("server", "coordinator"),))] == PARTITIONS - 2


async def test_a_snapshot_while_a_server_is_down_leaves_a_gap_not_a_zero() -> None:
    container = await _container()
    taken = await container.history_service().take_snapshot()
    assert taken.partitions == PARTITIONS - 1
    stored = await container.partition_history().read(taken.taken_at)
    recorded = {s.partition_num for s in stored}
    assert 2 not in recorded and recorded == set(range(PARTITIONS)) - {2}
