"""Plans for changing the table's shape, computed from exact counts before anything moves.

Two changes:

- **a new partition count** ``M``: every collection goes to ``abs(hashtext(id) % M)``. The plan
  says, per partition number (``0 .. max(N, M) - 1``), how many rows and bytes leave and arrive,
  which collections move, and the skew and verdict the table will have afterwards, and which
  nearby counts change the fewest collections' partitions (multiples and divisors of N);
- **isolating a collection**: its partition becomes sub-partitioned by collection, the collection
  in a sub-partition of its own (optionally split into K hash parts), its neighbours in a DEFAULT
  sub-partition. Top-level routing does not change, so per-partition counts stay as they are.

Everything here is pure: the adapters read the counts (``CollectionFootprint``), this computes.
The predicted per-partition counts are exact: a collection's rows go where its hash says, and
the hash is PostgreSQL's own (``hashing.hashtext``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs

from semantik_chunks.domain import advice, chance
from semantik_chunks.domain import skew as skews
from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.domain.hashing import MAX_PARTITIONS, hashtext
from semantik_chunks.domain.model import (
    MAX_SPLIT_PARTS,
    MIN_SPLIT_PARTS,
    CollectionCount,
    IsolatedCollection,
    PartitionHealthStatus,
    PartitionSnapshot,
    SkewMetric,
    decide_verdict,
)
from semantik_chunks.domain.thresholds import Thresholds

# Rows copied per second by the reshape mover when the database has not measured its own yet
# (benchmarks/bench_reshape.py on the embedded PostgreSQL 18, docs/performance.md).
DEFAULT_ROWS_PER_SECOND = 50_000.0
NEARBY_OPTIONS = 6


class ReshapeError(ChunksError, ValueError):
    """A reshape or isolation that cannot be done as asked; nothing was changed. The message says why."""


@attrs.frozen
class CollectionFootprint:
    """One collection's rows and (estimated) bytes, and the partition it lives in today."""

    collection_id: str
    partition_num: int
    rows: int
    bytes: int


@attrs.frozen
class PartitionChange:
    """One partition number under a new count: what it holds before and after, what leaves and arrives."""

    partition_num: int
    rows_before: int
    rows_after: int
    rows_out: int
    rows_in: int
    bytes_before: int
    bytes_after: int
    bytes_out: int
    bytes_in: int
    collections_out: int
    collections_in: int
    chunk_skew_after: float | None  # None for a number that exists only before (M < N)
    status_after: PartitionHealthStatus | None


@attrs.frozen
class CountOption:
    """A partition count and how much of the table would change partition under it."""

    partition_count: int
    collections_moving: int
    rows_moving: int
    rows_fraction: float
    relation: str  # "requested", "multiple of N", "divisor of N", "neighbour"


@attrs.frozen
class ReshapePlan:
    current_count: int
    target_count: int
    total_rows: int
    total_bytes: int
    collections: int
    collections_moving: int
    rows_moving: int
    bytes_moving: int
    rows_copied: int  # the mover copies every row into the new layout, moving or not
    rows_per_second: float
    estimated_seconds: float
    partitions: tuple[PartitionChange, ...]
    skew_before: tuple[SkewMetric, ...]
    skew_after: tuple[SkewMetric, ...]
    verdict_before: PartitionHealthStatus
    verdict_after: PartitionHealthStatus
    nearby: tuple[CountOption, ...]
    moving_collections: tuple[CollectionFootprint, ...] = ()  # the largest ones, for people

    @property
    def rows_fraction(self) -> float:
        return self.rows_moving / self.total_rows if self.total_rows else 0.0


@attrs.frozen
class IsolationPlan:
    collection_id: str
    partition_num: int
    partition_count: int
    split_parts: int  # 1: one sub-partition; K >= 2: K hash parts
    collection_rows: int
    collection_bytes: int
    neighbour_rows: int
    neighbour_bytes: int
    neighbours: int
    share_of_partition: float
    rows_copied: int  # every row of the partition is copied into the sub-partitioned layout
    rows_per_second: float
    estimated_seconds: float
    rows_per_part: int  # expected rows in each of the collection's parts
    status_before: PartitionHealthStatus
    chunk_skew: float


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------


def check_target_count(current: int, target: int) -> int:
    """The new count must be a whole number in 1..1024 other than the current one."""
    if isinstance(target, bool) or not isinstance(target, int):
        raise ReshapeError(f"the partition count must be a whole number, got {target!r}")
    if not 1 <= target <= MAX_PARTITIONS:
        raise ReshapeError(f"the partition count must be between 1 and {MAX_PARTITIONS}, got {target}")
    if target == current:
        raise ReshapeError(f"the table already has {current} partitions; give another count")
    return target


def check_split_parts(parts: int | None) -> int:
    """``--split-documents K``: K hash parts, 2..64; None means one sub-partition."""
    if parts is None:
        return 1
    if isinstance(parts, bool) or not isinstance(parts, int) or not MIN_SPLIT_PARTS <= parts <= MAX_SPLIT_PARTS:
        raise ReshapeError(
            f"--split-documents must be between {MIN_SPLIT_PARTS} and {MAX_SPLIT_PARTS} parts, got {parts!r}"
        )
    return parts


def check_isolatable(collection_id: str, known: bool, isolated: Iterable[IsolatedCollection]) -> None:
    """The collection must exist and not be isolated already."""
    if not known:
        raise ReshapeError(f"collection {collection_id!r} does not exist in collections")
    for found in isolated:
        if found.collection_id == collection_id:
            raise ReshapeError(
                f"collection {collection_id!r} is isolated already (sub-partition {found.sub_partition}); "
                "undo it first with `semantik-chunks isolate --undo`"
            )


# --------------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------------


def _new_partition(hashes: dict[str, int], collection_id: str, count: int) -> int:
    return abs(hashes[collection_id]) % count


def _hashes(footprints: Iterable[CollectionFootprint]) -> dict[str, int]:
    return {f.collection_id: hashtext(f.collection_id) for f in footprints}


def _moving(footprints: Sequence[CollectionFootprint], hashes: dict[str, int], count: int) -> tuple[int, int]:
    collections = rows = 0
    for f in footprints:
        if abs(hashes[f.collection_id]) % count != f.partition_num:
            collections += 1
            rows += f.rows
    return collections, rows


def nearby_counts(current: int, target: int) -> list[tuple[int, str]]:
    """Counts near ``target`` worth comparing: the multiples and divisors of ``current`` around it,
    and its two neighbours."""
    found: dict[int, str] = {target: "requested"}
    lower_multiple = (target // current) * current
    for m in (lower_multiple, lower_multiple + current):
        if 1 <= m <= MAX_PARTITIONS and m != current:
            found.setdefault(m, "multiple of N")
    divisors = [d for d in range(1, current) if current % d == 0]
    below = [d for d in divisors if d <= target]
    above = [d for d in divisors if d > target]
    for d in ([max(below)] if below else []) + ([min(above)] if above else []):
        found.setdefault(d, "divisor of N")
    for m in (target - 1, target + 1):
        if 1 <= m <= MAX_PARTITIONS and m != current:
            found.setdefault(m, "neighbour")
    return sorted(found.items())[: NEARBY_OPTIONS + 1]


def _snapshots(rows: Sequence[int], sizes: Sequence[int]) -> list[PartitionSnapshot]:
    return [PartitionSnapshot(i, r, b) for i, (r, b) in enumerate(zip(rows, sizes, strict=True))]


def verdict(
    rows: Sequence[int], sizes: Sequence[int], collections: Sequence[CollectionCount], thresholds: Thresholds
) -> PartitionHealthStatus:
    """The health verdict a table with these per-partition rows and collections gets (chance-aware, as
    the monitoring service judges it, with no write activity)."""
    count = len(rows)
    healths = skews.partition_health(_snapshots(rows, sizes), count, thresholds)
    k_eff, _ = chance.chance_estimate(list(rows), [c.chunk_count for c in collections])
    sigma = chance.chance_skew(count, k_eff)
    large = chance.large_collections_by_partition(collections, sum(rows), count)
    return decide_verdict(advice.alerts(healths, [], 0, sigma, thresholds, large)).status


def plan_reshape(
    footprints: Sequence[CollectionFootprint],
    current: int,
    target: int,
    thresholds: Thresholds,
    rows_per_second: float = DEFAULT_ROWS_PER_SECOND,
    *,
    largest: int = 20,
) -> ReshapePlan:
    """What changing ``current`` partitions to ``target`` does to every partition; changes nothing."""
    check_target_count(current, target)
    hashes = _hashes(footprints)
    width = max(current, target)
    rows_before, bytes_before = [0] * width, [0] * width
    rows_after, bytes_after = [0] * width, [0] * width
    rows_out, rows_in, bytes_out, bytes_in = [0] * width, [0] * width, [0] * width, [0] * width
    coll_out, coll_in = [0] * width, [0] * width
    after_counts: list[CollectionCount] = []
    moving: list[CollectionFootprint] = []
    for f in footprints:
        old, new = f.partition_num, _new_partition(hashes, f.collection_id, target)
        rows_before[old] += f.rows
        bytes_before[old] += f.bytes
        rows_after[new] += f.rows
        bytes_after[new] += f.bytes
        after_counts.append(CollectionCount(f.collection_id, new, f.rows))
        if old != new:
            rows_out[old] += f.rows
            bytes_out[old] += f.bytes
            coll_out[old] += 1
            rows_in[new] += f.rows
            bytes_in[new] += f.bytes
            coll_in[new] += 1
            moving.append(f)
    total_rows = sum(f.rows for f in footprints)
    after_healths = skews.partition_health(_snapshots(rows_after[:target], bytes_after[:target]), target, thresholds)
    changes = tuple(
        PartitionChange(
            partition_num=i,
            rows_before=rows_before[i],
            rows_after=rows_after[i],
            rows_out=rows_out[i],
            rows_in=rows_in[i],
            bytes_before=bytes_before[i],
            bytes_after=bytes_after[i],
            bytes_out=bytes_out[i],
            bytes_in=bytes_in[i],
            collections_out=coll_out[i],
            collections_in=coll_in[i],
            chunk_skew_after=after_healths[i].chunk_skew if i < target else None,
            status_after=after_healths[i].health_status if i < target else None,
        )
        for i in range(width)
    )
    before_counts = [CollectionCount(f.collection_id, f.partition_num, f.rows) for f in footprints]
    options = []
    for count, relation in nearby_counts(current, target):
        collections_moving, rows_moving = _moving(footprints, hashes, count)
        options.append(
            CountOption(
                count, collections_moving, rows_moving, rows_moving / total_rows if total_rows else 0.0, relation
            )
        )
    rate = rows_per_second if rows_per_second > 0 else DEFAULT_ROWS_PER_SECOND
    moving.sort(key=lambda f: (-f.rows, f.collection_id))
    return ReshapePlan(
        current_count=current,
        target_count=target,
        total_rows=total_rows,
        total_bytes=sum(f.bytes for f in footprints),
        collections=len(footprints),
        collections_moving=len(moving),
        rows_moving=sum(rows_out),
        bytes_moving=sum(bytes_out),
        rows_copied=total_rows,
        rows_per_second=rate,
        estimated_seconds=total_rows / rate,
        partitions=changes,
        skew_before=tuple(
            skews.skew_metrics(_snapshots(rows_before[:current], bytes_before[:current]), current, thresholds)
        ),
        skew_after=tuple(skews.skew_metrics(_snapshots(rows_after[:target], bytes_after[:target]), target, thresholds)),
        verdict_before=verdict(rows_before[:current], bytes_before[:current], before_counts, thresholds),
        verdict_after=verdict(rows_after[:target], bytes_after[:target], after_counts, thresholds),
        nearby=tuple(options),
        moving_collections=tuple(moving[:largest]),
    )


def plan_isolation(
    footprints: Sequence[CollectionFootprint],
    collection_id: str,
    partition_num: int,
    partition_count: int,
    split_parts: int,
    thresholds: Thresholds,
    rows_per_second: float = DEFAULT_ROWS_PER_SECOND,
) -> IsolationPlan:
    """What isolating ``collection_id`` (in partition ``partition_num``) does; changes nothing."""
    mine = [f for f in footprints if f.collection_id == collection_id]
    neighbours = [f for f in footprints if f.partition_num == partition_num and f.collection_id != collection_id]
    rows = sum(f.rows for f in mine)
    size = sum(f.bytes for f in mine)
    neighbour_rows = sum(f.rows for f in neighbours)
    rows_by_partition = [0] * partition_count
    for f in footprints:
        rows_by_partition[f.partition_num] += f.rows
    total = sum(rows_by_partition)
    skew = skews.skew_factor(rows_by_partition[partition_num], total, partition_count)
    rate = rows_per_second if rows_per_second > 0 else DEFAULT_ROWS_PER_SECOND
    copied = rows + neighbour_rows
    return IsolationPlan(
        collection_id=collection_id,
        partition_num=partition_num,
        partition_count=partition_count,
        split_parts=split_parts,
        collection_rows=rows,
        collection_bytes=size,
        neighbour_rows=neighbour_rows,
        neighbour_bytes=sum(f.bytes for f in neighbours),
        neighbours=len(neighbours),
        share_of_partition=rows / copied if copied else 0.0,
        rows_copied=copied,
        rows_per_second=rate,
        estimated_seconds=copied / rate,
        rows_per_part=math.ceil(rows / split_parts) if rows else 0,
        status_before=skews.health_status(skew, thresholds),
        chunk_skew=skew,
    )


def isolated_name(partition: str, collection_id: str) -> str:
    """A sub-partition name for a collection: ``chunks_part_07_c`` plus a fixed-width digest of its id
    (an id may be any text; a table name may not), at most 63 bytes."""
    digest = format(hashtext(collection_id) & 0xFFFFFFFF, "08x")
    return f"{partition}_c{digest}"


# --------------------------------------------------------------------------------------------------
# What a run reports
# --------------------------------------------------------------------------------------------------


@attrs.frozen
class PendingChange:
    """A change begun and not finished (a killed run): rerunning the same command finishes it."""

    kind: str  # "partitions", "isolate" or "release"
    from_count: int
    to_count: int
    collection_id: str | None = None
    split_parts: int = 1
    phase: str = ""

    def describe(self) -> str:
        if self.kind == "partitions":
            return f"reshape --partitions {self.to_count}"
        if self.kind == "isolate":
            split = f" --split-documents {self.split_parts}" if self.split_parts > 1 else ""
            return f"isolate {self.collection_id}{split}"
        return f"isolate {self.collection_id} --undo"


@attrs.frozen
class ReshapeProgress:
    """Reported after every batch and at each phase."""

    phase: str  # "copying", "catching up", "swapping", "done"
    rows_copied: int
    rows_expected: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_copied / self.seconds if self.seconds > 0 else 0.0


@attrs.frozen
class ReshapeOutcome:
    """What a run did. ``noop`` when there was nothing to do (a second run)."""

    kind: str
    from_count: int
    to_count: int
    rows_copied: int = 0
    changes_replayed: int = 0
    batches: int = 0
    copy_seconds: float = 0.0
    seconds: float = 0.0
    swap_seconds: float = 0.0
    swap_attempts: int = 0
    resumed: bool = False
    noop: bool = False
    collection_id: str | None = None
    split_parts: int = 1

    @property
    def rows_per_second(self) -> float:
        return self.rows_copied / self.copy_seconds if self.copy_seconds > 0 else 0.0
