"""Partition history and forecast: pure functions over snapshots taken at checks.

A *sample* is what one check saw of one partition (rows, bytes, dead rows, writes). A snapshot
is one sample per partition, all taken at the same instant. From the samples of a window this
module estimates each partition's growth rate and when the partition crosses its capacity
budget, so that a verdict can ask ``crosses_within(forecast, horizon, now)``.

The growth rate is the duration-weighted median of the rates between consecutive snapshots
(docs/operations.md, "History and forecast", says why not a least-squares or Theil–Sen slope):
a one-off bulk load is one steep interval among many and moves the median not at all.
"""

from __future__ import annotations

import enum
import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.domain.thresholds import Thresholds

DEFAULT_RETENTION = timedelta(days=90)
DEFAULT_HISTORY_SINCE = timedelta(days=7)
DEFAULT_FORECAST_WINDOW = timedelta(days=14)
# Three intervals at least: one interval could be a bulk load, and a median of two is their mean.
MIN_SAMPLES = 4
_DAY_SECONDS = 86_400.0
ESTIMATOR = "duration-weighted median of the growth rates between consecutive snapshots"


class ClockWentBackwardsError(ChunksError):
    """A snapshot is older than (or as old as) the newest one stored: nothing was written."""


class InvalidSinceError(ChunksError, ValueError):
    """A ``--since`` / ``window`` the operator gave cannot be read."""


@attrs.frozen
class PartitionSample:
    """One partition as one check saw it. ``writes`` counts the rows the database saw written to the
    partition (inserted, updated, deleted) since its statistics began: a counter that only grows,
    except when the statistics are reset (a crash, ``pg_stat_reset``)."""

    partition_num: int
    taken_at: datetime
    row_count: int
    size_bytes: int
    dead_rows: int = 0
    writes: int = 0


# --- reading "7d" ---------------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_span(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"90m"``, ``"2w"``, ``"30s"``: a positive span of time."""
    match = _SPAN.match(text)
    if match is None:
        raise InvalidSinceError(
            f"cannot read {text!r} as a span of time: give a number and a unit, e.g. 30m, 12h, 7d or 2w"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise InvalidSinceError(f"a span of time must be positive, got {text!r}")
    if seconds > 200 * 365.25 * _DAY_SECONDS:
        raise InvalidSinceError(f"{text!r} is more than two hundred years")
    return timedelta(seconds=seconds)


def parse_since(text: str, now: datetime) -> datetime:
    """A point in time from ``"7d"`` (that long before ``now``) or an ISO-8601 date or timestamp (UTC
    unless it names its offset)."""
    if _SPAN.match(text):
        return now - parse_span(text)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidSinceError(
            f"cannot read {text!r} as a time: give a span (30m, 12h, 7d, 2w) or an ISO-8601 date such as 2025-10-01"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --- growth ---------------------------------------------------------------------------------------------


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value at half the total weight (the mean of the two neighbours when half falls between them)."""
    if not values or len(values) != len(weights):
        raise ValueError("weighted_median needs as many weights as values, and at least one")
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2
    cumulative = 0.0
    for i, (value, weight) in enumerate(pairs):
        cumulative += weight
        if cumulative > half:
            return value
        if cumulative == half:
            return (value + pairs[i + 1][0]) / 2 if i + 1 < len(pairs) else value
    return pairs[-1][0]


def growth_per_day(points: Sequence[tuple[datetime, float]]) -> float | None:
    """Units per day: the duration-weighted median of the rates between consecutive points (in time
    order). ``None`` with fewer than ``MIN_SAMPLES`` points."""
    ordered = sorted(points)
    if len(ordered) < MIN_SAMPLES:
        return None
    rates, weights = [], []
    for (t0, v0), (t1, v1) in itertools.pairwise(ordered):
        days = (t1 - t0).total_seconds() / _DAY_SECONDS
        if days <= 0:
            continue  # two samples at one instant say nothing about a rate
        rates.append((v1 - v0) / days)
        weights.append(days)
    if len(rates) < MIN_SAMPLES - 1:
        return None
    return weighted_median(rates, weights)


def interval_writes(counters: Sequence[int]) -> list[int]:
    """Writes between consecutive samples of one partition from its cumulative counter; a counter that
    went down was reset, so the interval counts from zero."""
    return [b - a if b >= a else b for a, b in itertools.pairwise(counters)]


# --- the series ---------------------------------------------------------------------------------------


@attrs.frozen
class PartitionSeries:
    """One partition's samples in a window, oldest first."""

    partition_num: int
    samples: tuple[PartitionSample, ...]

    @property
    def first(self) -> PartitionSample:
        return self.samples[0]

    @property
    def last(self) -> PartitionSample:
        return self.samples[-1]

    @property
    def row_change(self) -> int:
        return self.last.row_count - self.first.row_count

    @property
    def rows_per_day(self) -> float | None:
        return growth_per_day([(s.taken_at, float(s.row_count)) for s in self.samples])

    @property
    def writes(self) -> int:
        """Writes seen between the first and the last sample."""
        return sum(interval_writes([s.writes for s in self.samples]))


def series_by_partition(samples: Iterable[PartitionSample]) -> list[PartitionSeries]:
    """Samples grouped per partition, oldest first, partitions in order; partitions without samples left out."""
    grouped: dict[int, list[PartitionSample]] = {}
    for sample in samples:
        grouped.setdefault(sample.partition_num, []).append(sample)
    return [
        PartitionSeries(num, tuple(sorted(found, key=lambda s: s.taken_at))) for num, found in sorted(grouped.items())
    ]


# --- the forecast ----------------------------------------------------------------------------------------


class ForecastStatus(enum.StrEnum):
    OVER_BUDGET = "OVER_BUDGET"  # already beyond its budget
    CROSSING = "CROSSING"  # reaches its budget at the current growth rates
    NOT_CROSSING = "NOT_CROSSING"  # never, at the current growth rates
    NOT_ENOUGH_HISTORY = "NOT_ENOUGH_HISTORY"  # fewer than MIN_SAMPLES snapshots in the window


class BudgetKind(enum.StrEnum):
    SHARE = "share"  # a multiple of the partition's fair share (1/N) of all rows
    BYTES = "bytes"  # an absolute size on disk


@attrs.frozen
class Budget:
    """What a partition may hold: ``share_factor`` times its fair share of all rows, and optionally
    ``max_bytes`` on disk (``capacity_budget`` builds the one the verdict uses)."""

    share_factor: float = attrs.field(validator=attrs.validators.gt(1.0))
    max_bytes: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.gt(0)))


def capacity_budget(thresholds: Thresholds) -> Budget:
    """The one capacity budget, the verdict's and the forecast's: ``1 + capacity`` times the fair share
    (4x by default) and ``max_partition_bytes`` on disk when set."""
    return Budget(share_factor=thresholds.capacity_share_factor, max_bytes=thresholds.max_partition_bytes)


@attrs.frozen
class PartitionForecast:
    """One partition's growth and when it crosses its budget (``crosses_at``; None when it does not)."""

    partition_num: int
    samples: int
    taken_at: datetime | None  # the newest sample
    row_count: int
    size_bytes: int
    rows_per_day: float | None
    bytes_per_day: float | None
    share_of_fair: float  # rows against the fair share now (1.0 = exactly its share)
    status: ForecastStatus
    budget_kind: BudgetKind | None = None  # which budget it crosses first (or is over)
    crosses_at: datetime | None = None

    @property
    def days_to_budget(self) -> float | None:
        if self.crosses_at is None or self.taken_at is None:
            return None
        return max(0.0, (self.crosses_at - self.taken_at).total_seconds() / _DAY_SECONDS)


def _days_until(excess_now: float, closing_per_day: float) -> float | None:
    """Days until a gap ``-excess_now`` (>0 when under budget) closes at ``closing_per_day``."""
    if excess_now >= 0:
        return 0.0
    if closing_per_day <= 0:
        return None
    return -excess_now / closing_per_day


def forecast(samples: Iterable[PartitionSample], partition_count: int, budget: Budget) -> list[PartitionForecast]:
    """Every partition's forecast (partition order) from the samples of a window.

    Each partition grows linearly at its robust rate; so does the whole table, at the sum of the
    rates. A partition crosses its share budget when ``rows >= share_factor * total / N`` and its
    byte budget when ``bytes >= max_bytes``; the earlier crossing wins."""
    series = {s.partition_num: s for s in series_by_partition(samples)}
    latest = {num: s.last for num, s in series.items()}
    total_rows = sum(s.row_count for s in latest.values())
    fair = total_rows / partition_count if partition_count else 0.0
    rates: dict[int, float | None] = {num: s.rows_per_day for num, s in series.items()}
    known = [r for r in rates.values() if r is not None]
    enough = len(known) == len(series) and bool(series)
    total_rate = sum(known)
    result = []
    for num in range(partition_count):
        found = series.get(num)
        if found is None:
            result.append(PartitionForecast(num, 0, None, 0, 0, None, None, 0.0, ForecastStatus.NOT_ENOUGH_HISTORY))
            continue
        last = found.last
        rows_rate = rates[num]
        bytes_rate = growth_per_day([(s.taken_at, float(s.size_bytes)) for s in found.samples])
        share_now = last.row_count / fair if fair else 0.0
        # What was measured, whatever the verdict on it.
        measured = functools.partial(
            PartitionForecast,
            num,
            len(found.samples),
            last.taken_at,
            last.row_count,
            last.size_bytes,
            rows_rate,
            bytes_rate,
            share_now,
        )
        if rows_rate is None or bytes_rate is None or not enough:
            result.append(measured(ForecastStatus.NOT_ENOUGH_HISTORY))
            continue
        factor = budget.share_factor / partition_count
        crossings: list[tuple[float, BudgetKind]] = []
        if total_rows > 0 or total_rate > 0:
            share_days = _days_until(last.row_count - factor * total_rows, rows_rate - factor * total_rate)
            # An empty table with no rows anywhere is over no budget yet.
            if share_days is not None and not (share_days == 0.0 and total_rows == 0):
                crossings.append((share_days, BudgetKind.SHARE))
        if budget.max_bytes is not None:
            bytes_days = _days_until(last.size_bytes - budget.max_bytes, bytes_rate)
            if bytes_days is not None:
                crossings.append((bytes_days, BudgetKind.BYTES))
        if not crossings:
            status, kind, at = ForecastStatus.NOT_CROSSING, None, None
        else:
            days, kind = min(crossings, key=lambda c: c[0])
            status = ForecastStatus.OVER_BUDGET if days == 0 else ForecastStatus.CROSSING
            at = _add_days(last.taken_at, days)
            if at is None:  # beyond what a datetime holds: as good as never
                status, kind = ForecastStatus.NOT_CROSSING, None
        result.append(measured(status, kind, at))
    return result


def _add_days(start: datetime, days: float) -> datetime | None:
    try:
        return start + timedelta(days=days)
    except OverflowError:
        return None


def crosses_within(found: PartitionForecast, horizon: timedelta, now: datetime) -> bool:
    """Does the partition cross (or is it over) its budget before ``now + horizon``?"""
    return found.crosses_at is not None and found.crosses_at <= now + horizon


def describe(found: PartitionForecast, partition_name: str, budget: Budget) -> str:
    """One sentence, e.g. "chunks_part_13 reaches 1.5x its fair share in about 12 days"."""
    target = (
        f"{budget.share_factor:g}x its fair share"
        if found.budget_kind is not BudgetKind.BYTES
        else f"its size budget of {budget.max_bytes:,} bytes"
    )
    if found.status is ForecastStatus.OVER_BUDGET:
        return f"{partition_name} is over {target} already ({found.share_of_fair:.2f}x)"
    if found.status is ForecastStatus.CROSSING:
        return f"{partition_name} reaches {target} in about {_about(found.days_to_budget or 0.0)}"
    if found.status is ForecastStatus.NOT_CROSSING:
        return f"{partition_name} does not reach {target} at its current growth"
    return f"{partition_name}: not enough history ({found.samples} of {MIN_SAMPLES} snapshots)"


def _about(days: float) -> str:
    if days < 1:
        hours = max(1, round(days * 24))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if days < 365:
        whole = round(days)
        return f"{whole} day{'s' if whole != 1 else ''}"
    return f"{days / 365:.1f} years"
