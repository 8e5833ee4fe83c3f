"""The chance model: how much imbalance random (hash) placement of whole collections produces.

Rows are placed by collection, so with collections of sizes s_1..s_K the rows of a partition
are a sum of whole collections. Under random placement its share has variance
``(1/N)(1 - 1/N) * sum(s_i^2) / S^2``, so its skew has a standard deviation of
``sqrt((N - 1) / K_eff)`` where ``K_eff = S^2 / sum(s_i^2)`` is the effective number of
collections (K for equal sizes, about 1 when one collection dominates). ``chance_skew``
returns that figure; an imbalance counts as more than chance only beyond
``thresholds.chance_z`` of it.

A collection larger than a partition's fair share makes its partition over-full wherever it
hashes; ``explained_by_large_collections`` and ``collision_by_chance`` tell such partitions
(the workload's shape) from placement faults.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from semantik_chunks.domain.model import CollectionCount, PartitionHealth
from semantik_chunks.domain.thresholds import Thresholds


def effective_collections(counts: Iterable[int]) -> float | None:
    """``S^2 / sum(s_i^2)``: how many equal collections would spread like these; None if no rows."""
    sizes = [c for c in counts if c > 0]
    squares = sum(c * c for c in sizes)
    if not squares:
        return None
    return float(sum(sizes)) ** 2 / squares


def chance_estimate(partition_rows: Sequence[int], collection_sizes: Sequence[int]) -> tuple[float | None, bool]:
    """``(K_eff, from_collections)``: K_eff from collection sizes when they account for at least
    half of the rows; otherwise (stale or missing collection statistics) the lower bound that the
    partition totals give, since merging collections into partitions only adds to ``sum(s_i^2)``.
    A lower K_eff means a wider chance band: stale statistics err towards fewer alarms."""
    total = sum(partition_rows)
    if collection_sizes and sum(collection_sizes) * 2 >= total:
        return effective_collections(collection_sizes), True
    return effective_collections(partition_rows), False


def chance_skew(partition_count: int, k_eff: float | None) -> float | None:
    """Standard deviation of a partition's chunk skew under random placement of K_eff collections."""
    if not k_eff:
        return None
    return math.sqrt((partition_count - 1) / k_eff)


def beyond_chance(skew: float, sigma: float | None, thresholds: Thresholds) -> bool:
    """Whether ``skew`` is more than chance explains; with no estimate of chance, it is taken as real."""
    return sigma is None or skew > thresholds.chance_z * sigma


def explained_by_large_collections(
    h: PartitionHealth, large_total: int, partition_count: int, thresholds: Thresholds
) -> bool:
    """Whether the partition would be within the warning threshold without its large collections.

    A collection larger than a partition's fair share makes its partition over-full wherever it
    hashes, and in a heavy-tailed workload two of them sharing a partition is routine. Such a
    partition is big because its collections are: the workload's shape, not a placement fault, and
    no hash fixes it."""
    if not h.total_chunks or large_total <= 0:
        return False
    residual_skew = (h.chunk_count - large_total) * partition_count / h.total_chunks - 1.0
    return residual_skew < thresholds.warning


def collision_by_chance(sharing: int, large_collections: int, partition_count: int, thresholds: Thresholds) -> bool:
    """Whether ``sharing`` of ``large_collections`` large collections landing in one partition is
    what random placement produces: the chance that some partition gets that many
    (``N * C(L, m) / N^m``, a union bound) is above the two-sided tail of ``chance_z``."""
    if sharing <= 1:
        return True
    some_partition = partition_count * math.comb(large_collections, sharing) / float(partition_count) ** sharing
    return some_partition >= math.erfc(thresholds.chance_z / math.sqrt(2))


def large_collections_by_partition(
    counts: Iterable[CollectionCount], total_rows: int, partition_count: int
) -> dict[int, tuple[CollectionCount, ...]]:
    """Per partition, its collections holding more than a partition's fair share of all rows, largest first."""
    fair = total_rows / partition_count if partition_count else 0.0
    large: dict[int, list[CollectionCount]] = {}
    for count in counts:
        if total_rows and count.chunk_count > fair:
            large.setdefault(count.partition_num, []).append(count)
    return {p: tuple(sorted(found, key=lambda c: (-c.chunk_count, c.collection_id))) for p, found in large.items()}
