"""The chunk contract suite with the partitions spread over three servers: a third stays on the coordinator,
a third is on ``alpha`` (the suite's main collection among them), a third on ``beta`` (its other one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.fdw import PostgresPlacement
from semantik_chunks.adapters.postgres.unit_of_work import PostgresUnitOfWork
from tests.contract.conftest import PARTITION_COUNT, Repositories
from tests.contract.test_chunk_repository import *  # noqa: F403 -- the contract's tests, run here again
from tests.contract.test_chunk_repository import COLLECTION, OTHER, partition_for
from tests.integration.scale_out.conftest import Cluster, add_servers, run_sql

PLACES = {0: None, 2: "alpha", 1: "beta"}  # partition % 3 -> server (None: the coordinator)


def test_the_suites_collections_live_on_the_two_servers() -> None:
    assert PLACES[partition_for(COLLECTION, PARTITION_COUNT) % 3] == "alpha"
    assert PLACES[partition_for(OTHER, PARTITION_COUNT) % 3] == "beta"


@pytest.fixture(scope="module")
def spread_cluster(make_cluster: Callable[[], Cluster]) -> Cluster:
    cluster = make_cluster()

    async def spread() -> None:
        engine = create_engine(cluster.coordinator)
        placement = PostgresPlacement(engine, PARTITION_COUNT)
        await add_servers(cluster, placement)
        for p in range(PARTITION_COUNT):
            server = PLACES[p % 3]
            if server:
                await placement.move(p, server)
        await engine.dispose()

    asyncio.run(spread())
    return cluster


@pytest.fixture
async def repos(spread_cluster: Cluster) -> AsyncIterator[Repositories]:
    await run_sql(
        spread_cluster.coordinator,
        "DELETE FROM chunks",
        "DELETE FROM collections",
        "SELECT setval(pg_get_serial_sequence('chunks', 'id'), 1, false)",
    )
    engine = create_engine(spread_cluster.coordinator)
    try:
        yield Repositories(
            PostgresChunkRepository(engine, PARTITION_COUNT),
            PostgresCollectionRepository(engine),
            lambda: PostgresUnitOfWork(engine, PARTITION_COUNT),
        )
    finally:
        await engine.dispose()
