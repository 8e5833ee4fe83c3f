"""The history domain: reading spans, robust growth, the forecast and its budget crossing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from semantik_chunks.domain.history import (
    MIN_SAMPLES,
    Budget,
    BudgetKind,
    ForecastStatus,
    InvalidSinceError,
    PartitionSample,
    crosses_within,
    describe,
    forecast,
    growth_per_day,
    interval_writes,
    parse_since,
    parse_span,
    weighted_median,
)

T0 = datetime(2025, 10, 1, tzinfo=UTC)
N = 4


def samples(rows_by_partition: dict[int, list[int]], *, every: timedelta = timedelta(hours=6)) -> list[PartitionSample]:
    return [
        PartitionSample(p, T0 + i * every, rows, rows * 1000)
        for p, series in rows_by_partition.items()
        for i, rows in enumerate(series)
    ]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        (" 30S ", timedelta(seconds=30)),
        ("1.5d", timedelta(hours=36)),
    ],
)
def test_spans(text: str, span: timedelta) -> None:
    assert parse_span(text) == span
    assert parse_since(text, T0) == T0 - span


def test_since_takes_an_iso_date_as_utc() -> None:
    assert parse_since("2025-09-01", T0) == datetime(2025, 9, 1, tzinfo=UTC)
    assert parse_since("2025-09-01T12:00:00+02:00", T0) == datetime(2025, 9, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "7", "d", "seven days", "7y", "-3d", "0d", "2025-13-45", "1e9w"])
def test_unreadable_since_is_one_clear_error(text: str) -> None:
    with pytest.raises(InvalidSinceError) as caught:
        parse_since(text, T0)
    message = str(caught.value)
    assert "\n" not in message and repr(text) in message


def test_weighted_median() -> None:
    assert weighted_median([3.0, 1.0, 2.0], [1, 1, 1]) == 2.0
    assert weighted_median([1.0, 2.0], [1, 1]) == 1.5
    assert weighted_median([1.0, 100.0], [3, 1]) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        weighted_median([], [])


def test_growth_ignores_a_one_off_bulk_load() -> None:
    # 10 rows a snapshot, then a bulk load of 100,000 rows in one interval: the rate stays 40 a day.
    series = [1000 + 10 * i + (100_000 if i >= 5 else 0) for i in range(12)]
    points = [(T0 + timedelta(hours=6 * i), float(v)) for i, v in enumerate(series)]
    assert growth_per_day(points) == pytest.approx(40.0)


def test_growth_weights_intervals_by_their_length() -> None:
    # One long slow interval outweighs two short fast ones.
    points = [
        (T0, 0.0),
        (T0 + timedelta(hours=1), 100.0),
        (T0 + timedelta(hours=2), 200.0),
        (T0 + timedelta(days=5), 205.0),
    ]
    assert growth_per_day(points) == pytest.approx(1.0, rel=0.1)


def test_growth_needs_enough_points() -> None:
    points = [(T0 + timedelta(days=i), float(i)) for i in range(MIN_SAMPLES - 1)]
    assert growth_per_day(points) is None
    # Samples at one instant say nothing about a rate.
    assert growth_per_day([(T0, 1.0)] * 10) is None


def test_interval_writes_survive_a_counter_reset() -> None:
    assert interval_writes([10, 30, 5, 15]) == [20, 5, 10]
    assert interval_writes([7]) == []


def test_a_growing_partition_crosses_its_share_budget() -> None:
    # Partitions 1-3 hold 1000 rows and stand still; partition 0 grows 100 rows a day from 1000.
    rows = {0: [1000 + 25 * i for i in range(9)], **{p: [1000] * 9 for p in (1, 2, 3)}}
    found = forecast(samples(rows), N, Budget(share_factor=1.5))
    p0 = found[0]
    assert p0.rows_per_day == pytest.approx(100.0)
    assert p0.status is ForecastStatus.CROSSING and p0.budget_kind is BudgetKind.SHARE
    # rows 1200 + 100 t >= 1.5 / 4 * (4200 + 100 t)  =>  t = 375 / 62.5 = 6 days
    assert p0.days_to_budget == pytest.approx(6.0)
    assert [f.status for f in found[1:]] == [ForecastStatus.NOT_CROSSING] * 3
    last = T0 + timedelta(hours=48)
    assert crosses_within(p0, timedelta(days=7), last)
    assert not crosses_within(p0, timedelta(days=5), last)
    assert not crosses_within(found[1], timedelta(days=10_000), last)
    assert describe(p0, "chunks_part_00", Budget(1.5)) == "chunks_part_00 reaches 1.5x its fair share in about 6 days"


def test_a_bulk_load_alone_forecasts_no_growth() -> None:
    rows = {0: [1000] * 4 + [5000] * 5, **{p: [1000] * 9 for p in (1, 2, 3)}}
    found = forecast(samples(rows), N, Budget(share_factor=4.0))
    assert found[0].rows_per_day == 0.0
    assert found[0].status is ForecastStatus.NOT_CROSSING


def test_over_budget_already_and_the_byte_budget() -> None:
    rows = {0: [9000] * 5, **{p: [1000] * 5 for p in (1, 2, 3)}}
    found = forecast(samples(rows), N, Budget(share_factor=1.5))
    assert found[0].status is ForecastStatus.OVER_BUDGET and found[0].days_to_budget == 0.0
    assert describe(found[0], "chunks_part_00", Budget(1.5)).startswith("chunks_part_00 is over 1.5x its fair share")
    growing = {p: [1000 + 100 * i for i in range(5)] for p in range(N)}  # 400 rows, 400,000 bytes a day each
    found = forecast(samples(growing), N, Budget(share_factor=1.5, max_bytes=2_000_000))
    assert {f.status for f in found} == {ForecastStatus.CROSSING}
    assert found[0].budget_kind is BudgetKind.BYTES
    assert found[0].days_to_budget == pytest.approx((2_000_000 - 1_400_000) / 400_000)


def test_not_enough_history_and_an_empty_history() -> None:
    found = forecast(samples({p: [1000, 2000] for p in range(N)}), N, Budget(1.5))
    assert {f.status for f in found} == {ForecastStatus.NOT_ENOUGH_HISTORY}
    assert "not enough history (2 of 4 snapshots)" in describe(found[0], "chunks_part_00", Budget(1.5))
    empty = forecast([], N, Budget(1.5))
    assert [(f.partition_num, f.status, f.crosses_at) for f in empty] == [
        (p, ForecastStatus.NOT_ENOUGH_HISTORY, None) for p in range(N)
    ]


def test_an_empty_table_is_over_no_budget() -> None:
    found = forecast(samples({p: [0] * 6 for p in range(N)}), N, Budget(1.5))
    assert {f.status for f in found} == {ForecastStatus.NOT_CROSSING}


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=MIN_SAMPLES, max_size=30),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=29),
)
def test_one_bulk_load_moves_the_rate_at_most_to_a_neighbouring_interval(
    increments: list[int], load: int, where: int
) -> None:
    """Adding one load to one interval moves the median rate at most to the next larger interval rate."""
    where %= len(increments)
    base = [sum(increments[:i]) for i in range(len(increments) + 1)]
    loaded = [v + (load if i > where else 0) for i, v in enumerate(base)]
    times = [T0 + timedelta(hours=6 * i) for i in range(len(base))]
    plain = growth_per_day([(t, float(v)) for t, v in zip(times, base, strict=True)])
    bumped = growth_per_day([(t, float(v)) for t, v in zip(times, loaded, strict=True)])
    assert plain is not None and bumped is not None
    rates = sorted(4.0 * i for i in increments)
    assert plain <= bumped + 1e-6
    assert bumped <= rates[-1] + 1e-6 or load == 0
