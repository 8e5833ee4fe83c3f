"""Helpers shared by the CLI tests (no tests here): a memory container every command sees, and known workloads."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner, Result

from semantik_chunks.config import Settings
from semantik_chunks.container import Container, bootstrap
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import Chunk
from semantik_chunks.domain.thresholds import Thresholds
from semantik_chunks.entrypoints.cli import app
from semantik_chunks.entrypoints.cli.runtime import ContainerFactory

PARTITIONS = 100
# Hot partitions count as a warning from 10 writes in the last hour, so small workloads can show one.
THRESHOLDS = Thresholds(hot_min_writes=10)


class SharedContainer:
    """The container factory ``run_cli`` hands the app (Typer's context object), if a test set one."""

    factory: ContainerFactory | None = None


def run_cli(*args: str, db_url: str | None = "memory://", containers: ContainerFactory | None = None) -> Result:
    """``semantik-chunks *args --db-url db_url`` in this process, its containers made by ``containers``
    (default: the shared container of ``share_memory_container``, else the CLI's own)."""
    extra = ["--db-url", db_url] if db_url is not None else []
    return CliRunner().invoke(app, [*args, *extra], obj=containers or SharedContainer.factory)


def share_memory_container(monkeypatch: pytest.MonkeyPatch) -> Container:
    """One in-memory container handed to every command run by ``run_cli`` (each process would start
    empty), in a clean environment."""
    for name in ("DATABASE_URL", "CHUNK_PARTITION_COUNT", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    container = bootstrap(Settings(database_url="memory://", thresholds=THRESHOLDS))
    monkeypatch.setattr(SharedContainer, "factory", lambda _settings: container)
    return container


def one_collection_per_partition(extra_in_partition_zero: int = 0) -> dict[int, list[str]]:
    """Collection ids by partition: one in every partition, plus ``extra`` more in partition 0."""
    wanted = dict.fromkeys(range(PARTITIONS), 1)
    wanted[0] += extra_in_partition_zero
    found: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    for i in itertools.count():
        collection_id = f"collection-{i:05d}"
        partition = partition_for(collection_id, PARTITIONS)
        if len(found[partition]) < wanted[partition]:
            found[partition].append(collection_id)
        if all(len(found[p]) == wanted[p] for p in found):
            return found
    raise AssertionError("unreachable")


def store(container: Container, collections: dict[str, tuple[int, datetime]]) -> None:
    """Store ``count`` chunks written at ``when`` for each collection, then refresh the statistics."""

    async def go() -> None:
        for collection_id, (count, when) in collections.items():
            await container.collection_repository().add(collection_id, f"name of {collection_id}")
            await container.chunk_repository().add_many(
                [
                    Chunk(
                        collection_id=collection_id,
                        document_id=f"{collection_id}/doc-{i // 5}",
                        chunk_index=i % 5,
                        content="x" * 300,
                        token_count=75,
                        created_at=when,
                    )
                    for i in range(count)
                ]
            )
        await container.partition_statistics().refresh_collection_stats()

    asyncio.run(go())


def healthy_workload(container: Container) -> None:
    two_days_ago = utc_now() - timedelta(days=2)
    by_partition = one_collection_per_partition()
    store(container, {ids[0]: (20, two_days_ago) for ids in by_partition.values()})


def warning_workload(container: Container) -> None:
    """Balanced, but partition 0 took every write of the last hour from three collections: a hot
    partition that no single ingest explains."""
    by_partition = one_collection_per_partition(extra_in_partition_zero=2)
    now = utc_now()
    two_days_ago = now - timedelta(days=2)
    recent = dict(zip(by_partition[0], (7, 7, 6), strict=True))
    workload = {ids[0]: (20, two_days_ago) for partition, ids in by_partition.items() if partition != 0}
    workload.update({cid: (count, now - timedelta(minutes=10)) for cid, count in recent.items()})
    store(container, workload)


def unbalanced_workload(container: Container) -> list[str]:
    """Partition 0 holds eleven collections, every other partition one: ten times its share."""
    two_days_ago = utc_now() - timedelta(days=2)
    by_partition = one_collection_per_partition(extra_in_partition_zero=10)
    store(container, {cid: (20, two_days_ago) for ids in by_partition.values() for cid in ids})
    return by_partition[0]
