"""The pure health functions: skew, statuses, recommendations, alerts, distribution and loads."""

from __future__ import annotations

import math
import random
import statistics
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest

from semantik_chunks import partition_for
from semantik_chunks.domain import advice, chance, skew
from semantik_chunks.domain.model import (
    AlertLevel,
    CollectionCount,
    CollectionShare,
    HotPartition,
    PartitionHealthStatus,
    PartitionSnapshot,
    PartitionTemperature,
    Priority,
    SkewStatus,
    decide_verdict,
)
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds

T = DEFAULT_THRESHOLDS


def snapshots(rows: Sequence[int], sizes: Sequence[int] | None = None) -> list[PartitionSnapshot]:
    sizes = sizes if sizes is not None else [r * 100 for r in rows]
    return [
        PartitionSnapshot(partition_num=i, row_count=r, size_bytes=s)
        for i, (r, s) in enumerate(zip(rows, sizes, strict=True))
    ]


def rows_with(partition_count: int, total: int, special: dict[int, int]) -> list[int]:
    """``total`` rows over ``partition_count`` partitions: ``special`` fixed, the rest spread evenly."""
    rest = total - sum(special.values())
    others = partition_count - len(special)
    base, extra = divmod(rest, others)
    spread = iter([base + 1] * extra + [base] * (others - extra))
    return [special[i] if i in special else next(spread) for i in range(partition_count)]


# -- skew -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "total", "count", "expected"),
    [
        (0, 0, 100, 0.0),  # empty table
        (10, 1000, 100, 0.0),  # fair share
        (0, 1000, 100, 1.0),  # empty partition
        (1000, 1000, 100, 99.0),  # everything
        (15, 1000, 100, 0.5),
        (5, 1000, 100, 0.5),
        (7, 10, 2, 0.4),
        (1, 1, 1, 0.0),
    ],
)
def test_skew_factor(part: int, total: int, count: int, expected: float) -> None:
    assert skew.skew_factor(part, total, count) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("part", "total", "count", "threshold"),
    [(13, 1000, 100, 0.3), (7, 1000, 100, 0.3), (14, 1000, 100, 0.4), (15, 1000, 100, 0.5), (7, 10, 2, 0.4)],
)
def test_skew_exactly_at_a_threshold_reaches_it(part: int, total: int, count: int, threshold: float) -> None:
    # The SQL views compute in numeric; an exact 0.3 must not come out as 0.29999999999999993.
    assert skew.skew_factor(part, total, count) >= threshold


# -- statuses at the exact boundaries ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, PartitionHealthStatus.HEALTHY),
        (math.nextafter(0.3, 0), PartitionHealthStatus.HEALTHY),
        (0.3, PartitionHealthStatus.WARNING),
        (math.nextafter(0.5, 0), PartitionHealthStatus.WARNING),
        (0.5, PartitionHealthStatus.UNBALANCED),
        (99.0, PartitionHealthStatus.UNBALANCED),
    ],
)
def test_health_status_boundaries(value: float, expected: PartitionHealthStatus) -> None:
    assert skew.health_status(value, T) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.nextafter(0.3, 0), SkewStatus.NORMAL),
        (0.3, SkewStatus.WARNING),
        (math.nextafter(0.5, 0), SkewStatus.WARNING),
        (0.5, SkewStatus.CRITICAL),
    ],
)
def test_skew_status_boundaries(value: float, expected: SkewStatus) -> None:
    assert skew.skew_status(value, T) is expected


def test_health_status_follows_configured_thresholds() -> None:
    strict = Thresholds(warning=0.1, rebalance=0.15, critical=0.2)
    assert skew.health_status(0.1, strict) is PartitionHealthStatus.WARNING
    assert skew.health_status(0.2, strict) is PartitionHealthStatus.UNBALANCED
    assert skew.health_status(0.09, strict) is PartitionHealthStatus.HEALTHY


def test_partition_health_at_exact_count_boundaries() -> None:
    # 100 partitions, 1000 rows: 13 and 7 rows are exactly 0.3 off, 15 and 5 exactly 0.5.
    rows = rows_with(100, 1000, {0: 13, 1: 7, 2: 15, 3: 5, 4: 12})
    by_num = {h.partition_num: h for h in skew.partition_health(snapshots(rows), 100, T)}
    assert by_num[0].health_status is PartitionHealthStatus.WARNING
    assert by_num[1].health_status is PartitionHealthStatus.WARNING
    assert by_num[2].health_status is PartitionHealthStatus.UNBALANCED
    assert by_num[3].health_status is PartitionHealthStatus.UNBALANCED
    assert by_num[4].health_status is PartitionHealthStatus.HEALTHY


def test_partition_health_fields() -> None:
    snaps = list(reversed(snapshots([30, 10, 0, 0], sizes=[100, 300, 0, 0])))
    result = skew.partition_health(snaps, 4, T)
    assert [h.partition_num for h in result] == [0, 1, 2, 3]
    first, second, empty, _ = result
    assert first.chunk_count == 30
    assert first.total_chunks == 40
    assert first.chunk_percentage == pytest.approx(75.0)
    assert first.size_percentage == pytest.approx(25.0)
    assert first.chunk_skew == pytest.approx(2.0)
    assert first.size_skew == pytest.approx(0.0)
    assert first.size_bytes == 100
    assert first.health_status is PartitionHealthStatus.UNBALANCED
    assert first.recommendation == advice.UNBALANCED_RECOMMENDATION
    assert second.chunk_skew == pytest.approx(0.0)
    assert second.size_skew == pytest.approx(2.0)
    assert second.health_status is PartitionHealthStatus.HEALTHY  # status follows chunks, not bytes
    assert second.recommendation is None
    assert empty.chunk_skew == pytest.approx(1.0)
    assert empty.health_status is PartitionHealthStatus.UNBALANCED


def test_partition_health_warning_recommendation_text() -> None:
    rows = rows_with(10, 1000, {0: 130})
    first = skew.partition_health(snapshots(rows), 10, T)[0]
    assert first.health_status is PartitionHealthStatus.WARNING
    assert first.recommendation == advice.WARNING_RECOMMENDATION


def test_empty_table_is_healthy_everywhere() -> None:
    result = skew.partition_health(snapshots([0] * 5), 5, T)
    assert all(h.health_status is PartitionHealthStatus.HEALTHY for h in result)
    assert all(h.chunk_percentage == 0.0 and h.size_percentage == 0.0 for h in result)


# -- chance -----------------------------------------------------------------------------


def test_effective_collections() -> None:
    assert chance.effective_collections([]) is None
    assert chance.effective_collections([0, 0]) is None
    assert chance.effective_collections([5] * 40) == pytest.approx(40.0)
    assert chance.effective_collections([1000]) == pytest.approx(1.0)
    assert chance.effective_collections([10, 0, 10]) == pytest.approx(2.0)
    assert 1.0 < chance.effective_collections([1000, 1, 1, 1]) < 1.01  # type: ignore[operator]


def test_chance_estimate_uses_collection_sizes_when_they_cover_half_the_rows() -> None:
    k_eff, from_collections = chance.chance_estimate([50, 50], [25, 25, 25, 25])
    assert from_collections is True
    assert k_eff == pytest.approx(4.0)
    k_eff, from_collections = chance.chance_estimate([50, 50], [25, 25])  # exactly half
    assert from_collections is True
    assert k_eff == pytest.approx(2.0)


def test_chance_estimate_falls_back_to_partition_totals_when_stale() -> None:
    k_eff, from_collections = chance.chance_estimate([60, 40], [10, 10])  # 20 of 100 rows known
    assert from_collections is False
    assert k_eff == pytest.approx(100**2 / (60**2 + 40**2))
    assert chance.chance_estimate([60, 40], []) == (k_eff, False)
    assert chance.chance_estimate([0, 0], []) == (None, False)


def test_chance_skew() -> None:
    assert chance.chance_skew(100, None) is None
    assert chance.chance_skew(100, 0.0) is None
    assert chance.chance_skew(100, 99.0) == pytest.approx(1.0)
    assert chance.chance_skew(101, 25.0) == pytest.approx(2.0)
    assert chance.chance_skew(1, 10.0) == 0.0


def test_beyond_chance() -> None:
    assert chance.beyond_chance(0.01, None, T) is True  # no estimate: taken as real
    assert chance.beyond_chance(0.31, 0.1, T) is True
    assert chance.beyond_chance(0.3, 0.1, T) is False
    assert chance.beyond_chance(0.5, 0.2, T) is False
    assert chance.beyond_chance(0.5, 0.2, Thresholds(chance_z=2.0)) is True


# -- recommendations ----------------------------------------------------------------------


def _share(cid: str, count: int, partition_rows: int, total: int) -> CollectionShare:
    return CollectionShare(cid, count, count / partition_rows, count / total)


def test_recommendations_cover_only_over_full_partitions_at_the_rebalance_threshold() -> None:
    # 100 partitions, 1000 rows: #0 +50 %, #1 +40 % (exactly rebalance), #2 +30 %, #3 empty, #4 -50 %.
    rows = rows_with(100, 1000, {0: 15, 1: 14, 2: 13, 3: 0, 4: 5})
    healths = skew.partition_health(snapshots(rows), 100, T)
    found = advice.recommendations(healths, T, {}, None, 100)
    assert [r.partition_num for r in found] == [0, 1]
    assert found[0].current_skew == pytest.approx(0.5)
    assert "1.50% of chunks against a fair share of 1.00%" in found[0].reason
    assert found[0].priority is Priority.HIGH  # critical and beyond chance (no chance estimate)
    assert found[1].priority is Priority.LOW


def test_recommendations_are_worst_first() -> None:
    rows = rows_with(10, 1000, {3: 150, 7: 300, 5: 200})
    found = advice.recommendations(skew.partition_health(snapshots(rows), 10, T), T, {}, None, 10)
    assert [r.partition_num for r in found] == [7, 5, 3]


def test_recommendation_names_a_dominant_collection() -> None:
    rows = rows_with(10, 1000, {2: 300})
    healths = skew.partition_health(snapshots(rows), 10, T)
    shares = {2: [_share("big-collection", 200, 300, 1000), _share("small", 100, 300, 1000)]}
    (found,) = advice.recommendations(healths, T, shares, 0.01, 10)
    assert "Collection big-collection alone holds 67% of this partition" in found.action
    assert found.top_collections == tuple(shares[2])
    assert found.priority is Priority.HIGH


def test_recommendation_without_a_dominant_collection() -> None:
    rows = rows_with(10, 1000, {2: 300})
    healths = skew.partition_health(snapshots(rows), 10, T)
    shares = {2: [_share("a", 100, 300, 1000), _share("b", 100, 300, 1000), _share("c", 100, 300, 1000)]}
    (real,) = advice.recommendations(healths, T, shares, 0.01, 10)
    assert "uses partition_for" in real.action
    assert real.priority is Priority.HIGH
    (by_chance,) = advice.recommendations(healths, T, shares, 5.0, 10)  # a wide chance band explains it
    assert "no action needed" in by_chance.action
    assert by_chance.priority is Priority.MEDIUM


# -- alerts and the overall verdict --------------------------------------------------------


def test_few_collections_skewed_by_chance_give_info_not_critical() -> None:
    # 5 equal collections over 10 partitions: five partitions hold double their share, but
    # chance (sigma = sqrt(9/5) = 1.34) explains a skew of 1 easily.
    rows = [100] * 5 + [0] * 5
    healths = skew.partition_health(snapshots(rows), 10, T)
    k_eff, from_collections = chance.chance_estimate(rows, [100] * 5)
    assert from_collections is True
    sigma = chance.chance_skew(10, k_eff)
    found = advice.alerts(healths, [], 0, sigma, T)
    assert [a.level for a in found] == [AlertLevel.INFO]
    assert found[0].partitions == (0, 1, 2, 3, 4)  # the over-full ones only, not the empty ones
    assert "within what chance produces" in found[0].message
    assert decide_verdict(found).status is PartitionHealthStatus.HEALTHY


def test_many_collections_truly_skewed_give_critical_and_warning() -> None:
    rows = rows_with(10, 10_000, {0: 1500, 1: 1350})
    healths = skew.partition_health(snapshots(rows), 10, T)
    sigma = chance.chance_skew(10, 1000.0)  # 0.095: 3 sigma is 0.28
    found = advice.alerts(healths, [], 0, sigma, T)
    levels = {a.level: a for a in found}
    assert levels[AlertLevel.CRITICAL].partitions == (0,)
    assert levels[AlertLevel.WARNING].partitions == (1,)
    assert AlertLevel.INFO not in levels
    assert decide_verdict(found).status is PartitionHealthStatus.UNBALANCED


def test_without_a_chance_estimate_every_imbalance_counts() -> None:
    rows = rows_with(10, 10_000, {0: 1350})
    healths = skew.partition_health(snapshots(rows), 10, T)
    found = advice.alerts(healths, [], 0, None, T)
    assert [a.level for a in found] == [AlertLevel.WARNING]
    assert decide_verdict(found).status is PartitionHealthStatus.WARNING


def test_balanced_table_raises_nothing() -> None:
    healths = skew.partition_health(snapshots([100] * 10), 10, T)
    assert advice.alerts(healths, [], 0, 0.01, T) == []
    assert decide_verdict([]).status is PartitionHealthStatus.HEALTHY


def _activity(last_hour: Sequence[int]) -> dict[int, int]:
    return dict(enumerate(last_hour))


def test_hot_partitions_need_hot_min_writes_to_warn() -> None:
    healths = skew.partition_health(snapshots([100] * 8), 8, T)
    few = _activity([50, 10, 10, 10, 10, 10, 0, 0])  # 100 writes
    hot_few = skew.hot_partitions(few, T)
    (alert,) = advice.alerts(healths, hot_few, 100, 0.01, T)
    assert alert.level is AlertLevel.INFO
    assert "fewer than 1000" in alert.action
    many = _activity([500, 100, 100, 100, 100, 100, 0, 0])  # exactly 1000 writes
    hot_many = skew.hot_partitions(many, T)
    (alert,) = advice.alerts(healths, hot_many, 1000, 0.01, T)
    assert alert.level is AlertLevel.WARNING
    assert alert.partitions == (0,)
    assert decide_verdict([alert]).status is PartitionHealthStatus.WARNING


def test_hot_partitions_at_the_share_boundary() -> None:
    hot = skew.hot_partitions(_activity([1, 1, 1, 1, 1, 1, 1, 1]), T)  # each exactly 12.5 %
    assert [h.partition_num for h in hot] == list(range(8))
    hot = skew.hot_partitions(_activity([2, 1, 1, 1, 1, 1, 1, 1, 1]), T)  # 2/10 and 1/10
    assert [(h.partition_num, h.hour_share) for h in hot] == [(0, 0.2)]
    assert skew.hot_partitions(_activity([0, 0]), T) == []


def test_hot_partitions_hottest_first_with_their_collections() -> None:
    shares = {2: [CollectionShare("c", 3, 1.0, 0.3)]}
    hot = skew.hot_partitions(_activity([2, 0, 3, 5]), T, shares)
    assert [h.partition_num for h in hot] == [3, 2, 0]
    assert hot[1].top_collections == tuple(shares[2])
    assert hot[0].top_collections == ()


def test_the_verdict_is_the_worst_level_overall_and_per_question() -> None:
    from semantik_chunks.domain.model import Alert, AlertCause

    info = Alert(AlertLevel.INFO, "i", "a", cause=AlertCause.PLACEMENT)
    warning = Alert(AlertLevel.WARNING, "w", "a", cause=AlertCause.HOT_WRITES)
    critical = Alert(AlertLevel.CRITICAL, "c", "a", cause=AlertCause.CAPACITY)
    assert decide_verdict([info]).status is PartitionHealthStatus.HEALTHY
    assert decide_verdict([info]).causes == ()
    assert decide_verdict([info, warning]).status is PartitionHealthStatus.WARNING
    assert decide_verdict([info, warning]).causes == (AlertCause.HOT_WRITES,)
    verdict = decide_verdict([warning, critical, info])
    assert (verdict.status, verdict.placement, verdict.capacity, verdict.causes, verdict.level) == (
        PartitionHealthStatus.UNBALANCED,
        PartitionHealthStatus.HEALTHY,
        PartitionHealthStatus.UNBALANCED,
        (AlertCause.CAPACITY,),
        2,
    )


# -- synthetic: chance versus real skew ------------------------------------------------------


PARTITIONS = 100
COLLECTIONS = 2000
CHUNKS_PER_COLLECTION = 50


def _judge(partition_of_each_collection: Sequence[int]) -> tuple[list[float], float, list[AlertLevel]]:
    """Signed deviations (share * N - 1) of every partition, the chance sigma, and the alert levels."""
    placed = Counter(partition_of_each_collection)
    rows = [placed[p] * CHUNKS_PER_COLLECTION for p in range(PARTITIONS)]
    healths = skew.partition_health(snapshots(rows), PARTITIONS, T)
    k_eff, from_collections = chance.chance_estimate(rows, [CHUNKS_PER_COLLECTION] * COLLECTIONS)
    assert from_collections is True
    sigma = chance.chance_skew(PARTITIONS, k_eff)
    assert sigma is not None
    signed = [r * PARTITIONS / sum(rows) - 1 for r in rows]
    return signed, sigma, [a.level for a in advice.alerts(healths, [], 0, sigma, T)]


def test_uniform_placement_of_equal_collections_is_judged_chance() -> None:
    rng = random.Random(7)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(COLLECTIONS)]
    signed, sigma, levels = _judge([partition_for(cid, PARTITIONS) for cid in ids])
    assert sigma == pytest.approx(math.sqrt(99 / 2000))
    # chance_skew is the spread of the signed deviation (skew is its absolute value)
    assert statistics.pstdev(signed) == pytest.approx(sigma, rel=0.2)
    # the most over-full of 100 partitions sits a couple of sigma out: past the 0.5 threshold,
    # yet within what chance produces
    assert 1.5 * sigma < max(signed) < T.chance_z * sigma
    assert max(signed) >= T.critical
    assert AlertLevel.CRITICAL not in levels
    assert AlertLevel.WARNING not in levels
    assert AlertLevel.INFO in levels


def test_one_partition_given_three_times_its_share_is_judged_real() -> None:
    rng = random.Random(11)
    weights = [3.0] + [1.0] * (PARTITIONS - 1)
    signed, sigma, levels = _judge(rng.choices(range(PARTITIONS), weights=weights, k=COLLECTIONS))
    assert max(signed) == signed[0]
    assert signed[0] > T.chance_z * sigma
    assert AlertLevel.CRITICAL in levels


# -- the table at a glance ------------------------------------------------------------------


def test_distribution_stats() -> None:
    snaps = snapshots([30, 10, 0, 0])
    stats = skew.distribution_stats(snaps, 4, T, k_eff=4.0)
    assert stats.partition_count == 4
    assert stats.partitions_used == 2
    assert stats.total_chunks == 40
    assert stats.total_size_bytes == 4000
    assert stats.avg_chunks_per_partition == pytest.approx(10.0)
    assert stats.stddev_chunks == pytest.approx(statistics.stdev([30, 10, 0, 0]))  # sample, like SQL STDDEV
    assert stats.max_chunks == 30
    assert stats.min_chunks == 0
    assert stats.max_skew_ratio == pytest.approx(3.0)
    assert stats.empty_partitions == 2
    assert stats.effective_collections == 4.0
    assert stats.chance_skew == pytest.approx(math.sqrt(3 / 4))
    assert stats.distribution_status is PartitionHealthStatus.UNBALANCED


def test_distribution_stats_of_an_empty_and_of_a_balanced_table() -> None:
    empty = skew.distribution_stats(snapshots([0] * 3), 3, T)
    assert (empty.total_chunks, empty.max_skew_ratio, empty.partitions_used, empty.empty_partitions) == (0, 0.0, 0, 3)
    assert empty.chance_skew is None
    assert empty.distribution_status is PartitionHealthStatus.HEALTHY
    balanced = skew.distribution_stats(snapshots([10] * 3), 3, T)
    assert balanced.stddev_chunks == 0.0
    assert balanced.max_skew_ratio == pytest.approx(1.0)
    assert balanced.distribution_status is PartitionHealthStatus.HEALTHY
    single = skew.distribution_stats(snapshots([10]), 1, T)
    assert single.stddev_chunks == 0.0


def test_skew_metrics() -> None:
    metrics = {m.metric: m for m in skew.skew_metrics(snapshots([15, 10, 5, 10], [100, 100, 100, 700]), 4, T)}
    chunk, size, variation = (metrics[k] for k in ("chunk_distribution", "size_distribution", "chunk_count_variation"))
    assert chunk.value == pytest.approx(0.5)
    assert chunk.status is SkewStatus.CRITICAL
    assert "partition 0" in chunk.details
    assert size.value == pytest.approx(1.8)
    assert "partition 3" in size.details
    assert variation.value == pytest.approx(statistics.pstdev([15, 10, 5, 10]) / 10)
    assert variation.status is SkewStatus.WARNING
    empty = skew.skew_metrics(snapshots([0, 0]), 2, T)
    assert all(m.value == 0.0 and m.status is SkewStatus.NORMAL for m in empty)
    assert empty[0].details == "no chunks stored"


def test_collection_shares() -> None:
    counts = [CollectionCount(f"c{i}", 0, n) for i, n in enumerate([5, 40, 5, 20, 10, 20])]
    shares = skew.collection_shares(counts, partition_rows=100, total_rows=1000, limit=3)
    assert [(s.collection_id, s.chunk_count) for s in shares] == [("c1", 40), ("c3", 20), ("c5", 20)]
    assert shares[0].share_of_partition == pytest.approx(0.4)
    assert shares[0].share_of_total == pytest.approx(0.04)
    assert skew.collection_shares(counts, 0, 0)[0].share_of_partition == 0.0


def test_partition_loads_hot_and_cold_at_the_warning_threshold() -> None:
    rows = rows_with(10, 1000, {0: 130, 1: 70, 2: 129, 3: 71})
    loads = skew.partition_loads(snapshots(rows), 10, T)
    by_num = {load.partition_num: load for load in loads}
    assert by_num[0].temperature is PartitionTemperature.HOT
    assert by_num[0].pct_deviation_from_avg == pytest.approx(30.0)
    assert by_num[1].temperature is PartitionTemperature.COLD
    assert by_num[1].pct_deviation_from_avg == pytest.approx(-30.0)
    assert by_num[2].temperature is PartitionTemperature.NORMAL
    assert by_num[3].temperature is PartitionTemperature.NORMAL
    assert by_num[0].partition_name == "chunks_part_00"
    assert by_num[0].row_count == 130
    assert by_num[0].size_bytes == 13_000


def test_partition_loads_exact_boundary_with_a_fractional_average() -> None:
    # 13 partitions, 10 rows: the average is 10/13 and one row is exactly 30 % above it.
    loads = skew.partition_loads(snapshots([1] * 10 + [0] * 3), 13, T)
    assert loads[0].temperature is PartitionTemperature.HOT
    assert loads[-1].temperature is PartitionTemperature.COLD


def test_partition_loads_of_an_empty_table_are_normal() -> None:
    loads = skew.partition_loads(snapshots([0, 0, 0]), 3, T)
    assert [load.temperature for load in loads] == [PartitionTemperature.NORMAL] * 3
    assert all(load.pct_deviation_from_avg == 0.0 for load in loads)
    assert [load.partition_name for load in loads] == ["chunks_part_00", "chunks_part_01", "chunks_part_02"]


# -- the shape of the workload is not a fault ---------------------------------------------------


def test_large_collections_are_those_above_a_fair_share() -> None:
    counts = [
        CollectionCount("a", 1, 500),
        CollectionCount("b", 1, 300),
        CollectionCount("c", 1, 99),
        CollectionCount("d", 2, 101),
        CollectionCount("e", 2, 100),
    ]
    # 10,000 rows over 100 partitions: a fair share is 100 rows.
    assert chance.large_collections_by_partition(counts, 10_000, 100) == {
        1: (counts[0], counts[1]),
        2: (counts[3],),
    }


def test_two_large_collections_sharing_a_partition_are_info_not_critical() -> None:
    healths = skew.partition_health(snapshots(rows_with(10, 1500, {3: 500})), 10, T)
    large = {3: (CollectionCount("first", 3, 250), CollectionCount("second", 3, 200))}

    found = advice.alerts(healths, [], 0, 0.01, T, large)

    assert [a.level for a in found] == [AlertLevel.INFO]
    assert "first+second in 3" in found[0].message


def test_a_partition_filled_by_one_large_collection_is_info_not_critical() -> None:
    # 10 partitions of 100 rows, but partition 3 holds 400: 300 of them one collection's.
    healths = skew.partition_health(snapshots(rows_with(10, 1300, {3: 400})), 10, T)
    large = {3: (CollectionCount("huge", 3, 300),)}

    found = advice.alerts(healths, [], 0, 0.01, T, large)

    assert [a.level for a in found] == [AlertLevel.INFO]
    assert found[0].partitions == (3,)
    assert "huge in 3" in found[0].message
    assert decide_verdict(found).status is PartitionHealthStatus.HEALTHY


def test_a_partition_that_stays_too_full_without_its_largest_collection_is_critical() -> None:
    healths = skew.partition_health(snapshots(rows_with(10, 1300, {3: 400})), 10, T)
    large = {3: (CollectionCount("biggish", 3, 140),)}  # without it, 260 rows: still 2x the fair share

    found = advice.alerts(healths, [], 0, 0.01, T, large)

    assert [a.level for a in found] == [AlertLevel.CRITICAL]
    assert decide_verdict(found).status is PartitionHealthStatus.UNBALANCED


def test_a_hot_partition_from_one_collections_ingest_is_info() -> None:
    healths = skew.partition_health(snapshots([100] * 10), 10, T)
    ingest = HotPartition(
        partition_num=4, last_hour=5000, hour_share=1.0, top_collections=(_share("loading", 4900, 5000, 5000),)
    )
    mixed = HotPartition(
        partition_num=5,
        last_hour=5000,
        hour_share=1.0,
        top_collections=(_share("a", 2000, 5000, 5000), _share("b", 1500, 5000, 5000)),
    )

    (ingest_alert,) = advice.alerts(healths, [ingest], 5000, None, T)
    (mixed_alert,) = advice.alerts(healths, [mixed], 5000, None, T)

    assert ingest_alert.level is AlertLevel.INFO
    assert "loading in 4" in ingest_alert.message
    assert mixed_alert.level is AlertLevel.WARNING
    assert mixed_alert.partitions == (5,)


@pytest.mark.parametrize(
    ("sharing", "large", "by_chance"),
    [
        (1, 1, True),  # one collection is always somewhere
        (2, 30, True),  # 30 large collections in 100 partitions: some pair shares one
        (2, 3, True),  # 3 pairs, each 1 % likely: about 3 % that some pair collides
        (3, 3, False),  # all three in one partition: 1 in 10,000
        (3, 30, True),
    ],
)
def test_collisions_of_large_collections_by_chance(sharing: int, large: int, by_chance: bool) -> None:
    assert chance.collision_by_chance(sharing, large, 100, T) is by_chance


def test_an_improbable_pile_of_large_collections_stays_critical() -> None:
    healths = skew.partition_health(snapshots(rows_with(100, 2200, {12: 1210})), 100, T)
    trio = tuple(CollectionCount(f"mixed-{i}", 12, 400) for i in range(3))

    found = advice.alerts(healths, [], 0, 0.01, T, {12: trio})

    assert [(a.level, a.partitions) for a in found] == [(AlertLevel.CRITICAL, (12,))]
