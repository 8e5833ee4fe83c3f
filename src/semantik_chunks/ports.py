"""The ports: what the services need from storage and the outside world, in domain types only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from semantik_chunks.domain.adoption import MoveReport, Progress
from semantik_chunks.domain.history import PartitionSample
from semantik_chunks.domain.model import (
    Alert,
    Chunk,
    CollectionCount,
    CollectionStats,
    IsolatedCollection,
    PartitionHealthStatus,
    PartitionSnapshot,
    WriteActivity,
)
from semantik_chunks.domain.placement import MoveOutcome, MoveProgressCallback, PartitionPlace, ServerStatus
from semantik_chunks.domain.pruning import StatementPlan
from semantik_chunks.domain.reshape import (
    CollectionFootprint,
    PendingChange,
    ReshapeOutcome,
    ReshapeProgress,
)
from semantik_chunks.domain.schema import SchemaRevision


class ChunkRepository(Protocol):
    """The chunks table. Every call about a collection reads one partition only."""

    @property
    def partition_count(self) -> int: ...

    async def add_many(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        """Store all of ``chunks`` or none of them; return them with id, partition_key and timestamps.

        Raises ``InvalidChunkError`` or ``DuplicateChunkError`` naming the chunk at fault,
        ``IdsExhaustedError`` when no id is left to generate, and ``DatabaseUnavailableError``
        when the database cannot be reached."""
        ...

    async def get(self, chunk_id: int, *, collection_id: str | None = None) -> Chunk | None:
        """One chunk by id; giving its collection lets the lookup read one partition."""
        ...

    async def list_by_collection(self, collection_id: str) -> list[Chunk]:
        """A collection's chunks ordered by (document_id, chunk_index, id)."""
        ...

    async def list_by_document(self, collection_id: str, document_id: str) -> list[Chunk]:
        """A document's chunks ordered by (chunk_index, id)."""
        ...

    def iter_collection(self, collection_id: str, *, batch_size: int = 1000) -> AsyncIterator[Chunk]:
        """``list_by_collection``'s chunks in the same order, read ``batch_size`` at a time (keyset pages:
        only one batch is held in memory). ``async for chunk in repo.iter_collection(cid): ...``"""
        ...

    def iter_document(self, collection_id: str, document_id: str, *, batch_size: int = 1000) -> AsyncIterator[Chunk]:
        """``list_by_document``'s chunks in the same order, read ``batch_size`` at a time."""
        ...

    async def delete_collection(self, collection_id: str) -> int:
        """Delete a collection's chunks; return how many were deleted."""
        ...

    async def delete_document(self, collection_id: str, document_id: str) -> int: ...

    async def count(self, collection_id: str | None = None) -> int: ...


class CollectionRepository(Protocol):
    """The ``collections`` rows chunks refer to (the host's table, or the library's minimal one)."""

    async def add(self, collection_id: str, name: str | None = None) -> None:
        """Register a collection; adding one that exists changes nothing."""
        ...

    async def exists(self, collection_id: str) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction over the chunk and collection repositories (cosmicpython's unit of work)::

        async with uow:
            await uow.collections.add("c1")
            await uow.chunks.add_many(chunks)
            await uow.commit()

    Leaving the block without ``commit()`` rolls back; ``commit()`` or ``rollback()`` may be called more
    than once (each ends the work so far and starts anew). Sequence values (ids) are never given back."""

    chunks: ChunkRepository
    collections: CollectionRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class PartitionStatistics(Protocol):
    """Per-partition facts for health checks.

    ``exact=False`` answers from the database's statistics at a cost that does not grow
    with the table; ``exact=True`` counts rows (cost grows with the table)."""

    @property
    def partition_count(self) -> int: ...

    async def partition_snapshots(self, *, exact: bool = False) -> list[PartitionSnapshot]:
        """One snapshot per partition, every partition included, in partition order."""
        ...

    async def write_activity(self) -> list[WriteActivity]:
        """Writes per partition in the last hour/day/week, every partition included."""
        ...

    async def last_hour_writes(self) -> dict[int, int]:
        """Rows written to each partition in the last hour (``WriteActivity.last_hour``), every partition
        included: all the hot-partition check needs, at a cost that follows last hour's writes, where
        ``write_activity`` reads the last week's."""
        ...

    async def collection_counts(
        self, *, partition_num: int | None = None, limit: int | None = None, exact: bool = False
    ) -> list[CollectionCount]:
        """Chunks per collection (largest first), optionally of one partition only.

        With ``exact=False`` this may come from ``collection_chunking_stats`` (as fresh as its
        last refresh)."""
        ...

    async def recent_collection_counts(self, partition_num: int, limit: int) -> list[CollectionCount]:
        """Which collections wrote to a partition in the last hour, largest first."""
        ...

    async def collection_stats(self) -> list[CollectionStats]:
        """The rows of ``collection_chunking_stats``."""
        ...

    async def refresh_collection_stats(self) -> None:
        """Refresh ``collection_chunking_stats`` (concurrently where the database allows)."""
        ...

    async def analyze(self, partitions: Sequence[int]) -> None:
        """Bring the database's statistics of ``partitions`` up to date after a bulk change, so that
        ``exact=False`` answers what ``exact=True`` counts (ANALYZE; nothing to do in memory)."""
        ...

    async def isolated_collections(self) -> list[IsolatedCollection]:
        """The collections with a sub-partition of their own (``semantik-chunks isolate``), by partition
        then id, with their parts, rows and bytes (the view ``partition_isolated_collections``); the
        verdict judges their partitions' capacity per leaf table."""
        ...


class PartitionHistory(Protocol):
    """Snapshots of every partition taken at checks, kept for a retention period.

    Reads and prunes go through an index on ``taken_at``: their cost follows the window asked
    for, never the length of the history."""

    async def record(self, snapshots: Sequence[PartitionSnapshot], taken_at: datetime) -> int:
        """Store one sample per snapshot, all taken at ``taken_at``; return how many were stored.

        Raises ``ClockWentBackwardsError`` (and stores nothing) when a stored sample is as new or newer."""
        ...

    async def read(self, since: datetime, partition_num: int | None = None) -> list[PartitionSample]:
        """Samples taken at or after ``since`` (of one partition, or all), oldest first, then by partition."""
        ...

    async def prune(self, older_than: datetime) -> int:
        """Delete the samples taken before ``older_than``; return how many were deleted."""
        ...


class StatementStatistics(Protocol):
    """The statements run on the database (``pg_stat_statements``) that name ``chunks`` or a partition.

    Raises ``StatementStatisticsUnavailableError`` (one line saying how to enable them) when the
    database keeps no statement statistics."""

    @property
    def partition_count(self) -> int: ...

    async def chunk_statements(self) -> list[StatementPlan]:
        """Each statement with how many partitions its plan reads when called (never executing it),
        or why it could not be planned."""
        ...

    async def reset(self) -> None:
        """Forget the statistics gathered so far (this database's only)."""
        ...


class AlertSink(Protocol):
    """Where the scheduled health check's alerts go: a log, a webhook."""

    async def send(self, alerts: Sequence[Alert], *, overall: PartitionHealthStatus | None) -> None:
        """Deliver ``alerts`` (never empty) with the check's verdict (``None``: the check could not
        run). Raises ``AlertDeliveryError`` when they could not be delivered, after any retries of
        the sink's own; a sink may leave out alerts below a level it was configured with."""
        ...


class TableReshaper(Protocol):
    """The table's shape: what it is, the counts a plan needs, and the changes (docs/reshape.md).

    The changes are online and resumable: a run killed at any point is finished by the same call
    again; a call with nothing left to do returns ``noop``."""

    async def current_partition_count(self) -> int:
        """The database's own count (``chunk_partition_count()``), whatever the settings say."""
        ...

    async def collection_footprints(self) -> list[CollectionFootprint]:
        """Exact rows, and bytes (estimated from its partition's bytes per row), of every collection with rows."""
        ...

    async def collection_exists(self, collection_id: str) -> bool: ...

    async def isolated_collections(self) -> list[IsolatedCollection]: ...

    async def move_rate(self) -> float | None:
        """Rows per second copied by the last finished change, if the database measured one."""
        ...

    async def pending(self) -> PendingChange | None:
        """The change a killed run left unfinished, if any."""
        ...

    async def previous_count(self) -> int | None:
        """The count before the last finished ``reshape`` (what ``--undo`` goes back to)."""
        ...

    async def reshape(
        self, target: int, progress: Callable[[ReshapeProgress], None] | None = None
    ) -> ReshapeOutcome: ...

    async def abandon(self) -> PendingChange | None:
        """Drop what an unfinished change built (the table is untouched until its swap); return it."""
        ...

    async def isolate(
        self, collection_id: str, parts: int, progress: Callable[[ReshapeProgress], None] | None = None
    ) -> ReshapeOutcome: ...

    async def release(
        self, collection_id: str, progress: Callable[[ReshapeProgress], None] | None = None
    ) -> ReshapeOutcome: ...


class SchemaMigrations(Protocol):
    """The library's schema in the database: which revisions are applied, and applying the rest."""

    async def applied(self) -> tuple[str, ...]:
        """The library's revisions applied to the database (empty when none)."""
        ...

    async def upgrade(self) -> tuple[str, ...]:
        """Apply every revision not applied yet; return the revisions then applied.

        A host's ``chunks`` table that the migrations take over keeps its misplaced rows for
        ``TableAdoption.move_misplaced_rows``. A database migrated for another partition count is a
        ``ConfigurationError`` (changing the count is ``semantik-chunks reshape``), never a silent success."""
        ...

    async def migrate_to(self, revision: str) -> tuple[str, ...]:
        """Upgrade or downgrade to ``revision`` (``heads``, a revision id, or ``base``: nothing of the
        library's left, its version table included); return the revisions then applied."""
        ...

    async def history(self) -> list[SchemaRevision]:
        """Every revision of the library, oldest first, each saying whether the database has it."""
        ...


class TableAdoption(Protocol):
    """A host's ``chunks`` table taken over by the migrations: its rows moved to their partitions."""

    async def move_misplaced_rows(self, progress: Progress | None = None) -> MoveReport:
        """Move every misplaced row, then validate the partition CHECK; resumable, and at once done
        (``moved == 0``) when the table is the library's or every row is placed already."""
        ...

    async def preview_moves(self) -> MoveReport:
        """What ``move_misplaced_rows`` would do, per partition, changing nothing (``dry_run``)."""
        ...


class EmbeddedServer(Protocol):
    """The PostgreSQL a newcomer gets when no database is named (started on demand, left running)."""

    @property
    def data_dir(self) -> Path: ...

    def start(self) -> str:
        """Start the server if need be (creating its data directory); return its URL."""
        ...

    def stop(self) -> bool:
        """Stop the server; False when none was running."""
        ...


class PartitionPlacement(Protocol):
    """Partitions on other PostgreSQL servers (postgres_fdw): the servers, and moving partitions online."""

    async def add_server(self, name: str, url: str, password: str | None = None) -> ServerStatus:
        """Register a server; its credentials are stored for the coordinator only, never shown."""
        ...

    async def remove_server(self, name: str) -> None:
        """Forget a server; refused (``PlacementError``) while it holds partitions."""
        ...

    async def servers(self) -> list[ServerStatus]:
        """Every server with its partitions, rows and bytes; an unreachable one says so."""
        ...

    async def placements(self) -> list[PartitionPlace]:
        """Where each partition lives, with its bytes."""
        ...

    async def move(self, partition_num: int, target: str, progress: MoveProgressCallback | None = None) -> MoveOutcome:
        """Move a partition to ``target`` (a server or ``COORDINATOR``), online; a rerun finishes an
        interrupted move."""
        ...
