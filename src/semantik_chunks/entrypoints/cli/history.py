"""``semantik-chunks snapshot``, ``history`` and ``forecast``: the partitions over time.

A snapshot records every partition's rows, bytes, dead rows and writes (the scheduled health
check takes one every six hours); ``history`` shows each partition's growth with a sparkline,
``forecast`` when a partition crosses its capacity budget at its current growth rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated

import attrs
import typer
from rich.console import Console
from rich.text import Text

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.hashing import partition_table_name
from semantik_chunks.domain.history import (
    DEFAULT_FORECAST_WINDOW,
    ESTIMATOR,
    MIN_SAMPLES,
    ForecastStatus,
    InvalidSinceError,
    PartitionForecast,
    PartitionSeries,
    describe,
    parse_since,
    parse_span,
)
from semantik_chunks.entrypoints import report_models as m
from semantik_chunks.entrypoints.cli import payloads, render, runtime
from semantik_chunks.entrypoints.cli.app import DbUrl, Format, OutputFormat, _done, _one_line_failures, app
from semantik_chunks.services.history import ForecastReport, SnapshotTaken

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
FORECAST_STATUS_COLOUR = {
    ForecastStatus.OVER_BUDGET: "red",
    ForecastStatus.CROSSING: "yellow",
    ForecastStatus.NOT_CROSSING: "green",
    ForecastStatus.NOT_ENOUGH_HISTORY: "dim",
}


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """``values`` as at most ``width`` block characters, low to high; evenly spaced picks when longer."""
    if not values:
        return ""
    if len(values) > width:
        last = len(values) - 1
        values = [values[round(i * last / (width - 1))] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return SPARK_LEVELS[0] * len(values)
    top = len(SPARK_LEVELS) - 1
    return "".join(SPARK_LEVELS[round((v - low) / (high - low) * top)] for v in values)


@attrs.frozen
class HistoryReport:
    generated_at: datetime
    partition_count: int
    since: datetime
    partition_num: int | None
    series: tuple[PartitionSeries, ...]

    @property
    def snapshots(self) -> int:
        return len({s.taken_at for series in self.series for s in series.samples})


# -- options ---------------------------------------------------------------------------------------------


def _since(text: str, now: datetime, option: str) -> datetime:
    try:
        return parse_since(text, now)
    except InvalidSinceError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _window(text: str) -> timedelta:
    try:
        return parse_span(text)
    except InvalidSinceError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from None


def _check_partition(partition: int | None) -> None:
    """Before anything connects: a partition the configured table does not have is a usage error."""
    if partition is None:
        return
    count = runtime.load_settings().partition_count
    if not 0 <= partition < count:
        raise typer.BadParameter(
            f"{partition} is not a partition: the table has partitions 0 to {count - 1} "
            f"(CHUNK_PARTITION_COUNT={count})",
            param_hint="--partition",
        )


# -- JSON ------------------------------------------------------------------------------------------------


def snapshot_document(taken: SnapshotTaken, partition_count: int) -> m.SnapshotDocument:
    return m.SnapshotDocument(
        command="snapshot",
        generated_at=taken.taken_at,
        partition_count=partition_count,
        taken_at=taken.taken_at,
        partitions=taken.partitions,
        pruned=taken.pruned,
        retention_days=taken.retention.total_seconds() / 86_400,
    )


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _points(series: PartitionSeries) -> list[m.HistoryPoint]:
    return [
        m.HistoryPoint(
            taken_at=p.taken_at, row_count=p.row_count, size_bytes=p.size_bytes, dead_rows=p.dead_rows, writes=p.writes
        )
        for p in series.samples
    ]


def history_document(report: HistoryReport) -> m.HistoryDocument:
    n = report.partition_count
    return m.HistoryDocument(
        command="history",
        generated_at=report.generated_at,
        partition_count=n,
        since=report.since,
        partition=report.partition_num,
        snapshots=report.snapshots,
        partitions=[
            m.PartitionHistoryRow(
                partition_num=s.partition_num,
                partition_name=partition_table_name(s.partition_num, n),
                first_taken_at=s.first.taken_at,
                last_taken_at=s.last.taken_at,
                row_count=s.last.row_count,
                row_change=s.row_change,
                rows_per_day=_rate(s.rows_per_day),
                writes=s.writes,
                points=_points(s),
            )
            for s in report.series
        ],
    )


def forecast_document(report: ForecastReport, partition_count: int) -> m.ForecastDocument:
    budget = report.budget
    return m.ForecastDocument(
        command="forecast",
        generated_at=report.generated_at,
        partition_count=partition_count,
        window_days=report.window.total_seconds() / 86_400,
        snapshots=report.snapshots,
        min_snapshots=MIN_SAMPLES,
        estimator=ESTIMATOR,
        budget=m.CapacityBudget(share_factor=budget.share_factor, max_bytes=budget.max_bytes),
        partitions=[_forecast_entry(f, partition_count, report) for f in report.partitions],
    )


def _forecast_entry(f: PartitionForecast, partition_count: int, report: ForecastReport) -> m.PartitionForecastEntry:
    name = partition_table_name(f.partition_num, partition_count)
    return m.PartitionForecastEntry(
        partition_num=f.partition_num,
        partition_name=name,
        samples=f.samples,
        row_count=f.row_count,
        size_bytes=f.size_bytes,
        rows_per_day=_rate(f.rows_per_day),
        bytes_per_day=_rate(f.bytes_per_day),
        share_of_fair=round(f.share_of_fair, 4),
        status=f.status,
        budget_kind=f.budget_kind.value if f.budget_kind else None,
        crosses_at=f.crosses_at,
        days_to_budget=None if f.days_to_budget is None else round(f.days_to_budget, 3),
        summary=describe(f, name, report.budget),
    )


# -- tables ------------------------------------------------------------------------------------------------


def _per_day(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.0f}"


def draw_history(console: Console, report: HistoryReport) -> None:
    facts = [f"since {render.when(report.since)}", f"{report.snapshots} snapshots", render.when(report.generated_at)]
    console.print(Text.assemble(("Partition history", "bold"), ("  " + " · ".join(facts), "dim")))
    if not report.series:
        console.print(
            "No snapshots in this window. Take one with `semantik-chunks snapshot` "
            "(the scheduled health check takes one every six hours)."
        )
        return
    table = render._table(
        ("partition", "left"), ("rows", "right"), ("change", "right"), ("per day", "right"), ("writes", "right")
    )
    table.add_column("rows over time", no_wrap=True)
    for s in report.series:
        table.add_row(
            partition_table_name(s.partition_num, report.partition_count),
            render.count(s.last.row_count),
            f"{s.row_change:+,}",
            _per_day(s.rows_per_day),
            render.count(s.writes),
            sparkline([float(p.row_count) for p in s.samples]),
        )
    console.print()
    console.print(table)
    console.print(Text(f"per day: {ESTIMATOR} (at least {MIN_SAMPLES} snapshots).", style="dim"))


def draw_forecast(console: Console, report: ForecastReport, partition_count: int) -> None:
    facts = [
        f"window {report.window.total_seconds() / 86_400:g} days",
        f"{report.snapshots} snapshots",
        f"budget {report.budget.share_factor:g}x the fair share",
        render.when(report.generated_at),
    ]
    console.print(Text.assemble(("Partition forecast", "bold"), ("  " + " · ".join(facts), "dim")))
    by_status = {s: [f for f in report.partitions if f.status is s] for s in ForecastStatus}
    lacking = by_status[ForecastStatus.NOT_ENOUGH_HISTORY]
    if len(lacking) == len(report.partitions):
        console.print(
            f"Not enough history to forecast: {report.snapshots} snapshots in the window, {MIN_SAMPLES} needed. "
            "Take snapshots with `semantik-chunks snapshot` (the scheduled health check takes one every six hours)."
        )
        return
    soon = sorted(
        by_status[ForecastStatus.OVER_BUDGET] + by_status[ForecastStatus.CROSSING],
        key=lambda f: (f.days_to_budget or 0.0, f.partition_num),
    )
    if soon:
        table = render._table(
            ("partition", "left"), ("rows", "right"), ("per day", "right"), ("x fair", "right"), ("budget", "left")
        )
        for f in soon:
            name = partition_table_name(f.partition_num, partition_count)
            when = "over now" if f.status is ForecastStatus.OVER_BUDGET else f"in {f.days_to_budget:,.1f} days"
            table.add_row(
                name,
                render.count(f.row_count),
                _per_day(f.rows_per_day),
                f"{f.share_of_fair:.2f}",
                Text(when, style=FORECAST_STATUS_COLOUR[f.status]),
            )
        console.print()
        console.print(table)
        console.print()
        for f in soon[:5]:
            console.print(describe(f, partition_table_name(f.partition_num, partition_count), report.budget) + ".")
    else:
        console.print(f"No partition reaches {report.budget.share_factor:g}x its fair share at its current growth.")
    quiet = len(by_status[ForecastStatus.NOT_CROSSING])
    console.print(
        Text(
            f"{quiet} partitions stay within budget at their current growth"
            + (f"; {len(lacking)} lack history" if lacking else "")
            + f". Growth: {ESTIMATOR}.",
            style="dim",
        )
    )


# -- the commands ---------------------------------------------------------------------------------------------

Partition = Annotated[
    int | None,
    typer.Option("--partition", min=0, show_default=False, help="Only this partition (0 to N-1)."),
]


@app.command()
def snapshot(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """Record every partition's rows, bytes, dead rows and writes now (the scheduled check does this
    every six hours); snapshots older than CHUNK_HISTORY_RETENTION_DAYS (default 90) are pruned."""

    async def take(container: Container) -> tuple[SnapshotTaken, int]:
        return await container.history_service().take_snapshot(), container.partition_count()

    with _one_line_failures():
        taken, n = runtime.run(db_url, take, runtime.containers(ctx.obj))
        days = taken.retention.total_seconds() / 86_400
        _done(
            output,
            snapshot_document(taken, n),
            f"Recorded a snapshot of {taken.partitions} partitions at {render.when(taken.taken_at)}; "
            f"pruned {taken.pruned:,} samples older than {days:g} days.",
        )


@app.command()
def history(
    ctx: typer.Context,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    partition: Partition = None,
    since: Annotated[
        str, typer.Option("--since", help="How far back: a span (30m, 12h, 7d, 2w) or an ISO-8601 date.")
    ] = "7d",
) -> None:
    """Each partition's rows over the snapshots since --since: change, growth per day, writes, sparkline."""
    now = utc_now()
    start = _since(since, now, "--since")
    _check_partition(partition)

    async def read(container: Container) -> HistoryReport:
        series = await container.history_service().history(start, partition)
        return HistoryReport(now, container.partition_count(), start, partition, tuple(series))

    with _one_line_failures():
        report = runtime.run(db_url, read, runtime.containers(ctx.obj))
        if output is OutputFormat.json:
            typer.echo(payloads.dumps(history_document(report)))
        else:
            draw_history(render.stdout_console(), report)


@app.command()
def forecast(
    ctx: typer.Context,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    window: Annotated[
        str, typer.Option("--window", help="How much history the growth rates are read from (e.g. 14d).")
    ] = f"{DEFAULT_FORECAST_WINDOW.days}d",
) -> None:
    """Per partition: growth per day and when it crosses its capacity budget (the share at which its
    skew turns critical), from the snapshots of the last --window. Robust to a one-off bulk load."""
    span = _window(window)

    async def read(container: Container) -> tuple[ForecastReport, int]:
        return await container.history_service().forecast(span), container.partition_count()

    with _one_line_failures():
        report, n = runtime.run(db_url, read, runtime.containers(ctx.obj))
        if output is OutputFormat.json:
            typer.echo(payloads.dumps(forecast_document(report, n)))
        else:
            draw_forecast(render.stdout_console(), report, n)
