"""Reports as Rich tables that fit an 80-column terminal.

Colour marks status (green healthy, yellow warning, red unbalanced). Rich drops colour when
the output is not a terminal or ``NO_COLOR`` is set; everything colour says is also written
out, so nothing is lost in a log file.

Collection ids and names, alert texts and advice come from the database: a hostile id such as
``"\x1b[2J\x1b]0;title\x07"`` must not clear the operator's screen or retitle the terminal.
Two guards: every plain string the consoles render goes through ``SafeConsole.render_str``
(table cells, printed lines), and every ``Text`` built here from such data is built from
``safe(...)``. Both write control and format characters out as escapes (``\x1b``).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich import box
from rich.bar import Bar
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from semantik_chunks.domain.hashing import partition_table_name
from semantik_chunks.domain.model import (
    Alert,
    AlertLevel,
    HotPartition,
    PartitionHealth,
    PartitionHealthStatus,
    Priority,
    Recommendation,
    SkewStatus,
)
from semantik_chunks.domain.text import printable
from semantik_chunks.entrypoints.cli.reports import (
    CollectionsReport,
    DistributionReport,
    FullReport,
    HealthReport,
    HotReport,
    SizesReport,
    SkewReport,
)

STATUS_COLOUR = {
    PartitionHealthStatus.HEALTHY: "green",
    PartitionHealthStatus.WARNING: "yellow",
    PartitionHealthStatus.UNBALANCED: "red",
    PartitionHealthStatus.CRITICAL: "red",
}
SKEW_COLOUR = {SkewStatus.NORMAL: "green", SkewStatus.WARNING: "yellow", SkewStatus.CRITICAL: "red"}
ALERT_COLOUR = {AlertLevel.INFO: "cyan", AlertLevel.WARNING: "yellow", AlertLevel.CRITICAL: "red"}
PRIORITY_COLOUR = {Priority.LOW: "cyan", Priority.MEDIUM: "yellow", Priority.HIGH: "red"}

STRIP_LEVELS = "▁▂▃▄▅▆▇█"
STRIP_EMPTY = "·"
STRIP_ROW = 50  # partitions per row of the heat strip, in groups of ten
LISTED_PARTITIONS = 10  # non-healthy partitions listed under the strip
LISTED_RECOMMENDATIONS = 3
BAR_WIDTH = 18

if TYPE_CHECKING:
    from semantik_chunks.domain.adoption import MoveReport


def safe(value: str) -> str:
    """Text from the database, shown as it is but with control and format characters escaped."""
    return printable(value)


class SafeConsole(Console):
    """A console whose every plain string is escaped before it is drawn (never read as markup)."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(printable(text), **options)


def stdout_console() -> Console:
    # Collection ids and names come from the database: never markup, never control characters.
    return SafeConsole(highlight=False, markup=False, emoji=False)


def stderr_console() -> Console:
    return SafeConsole(stderr=True, highlight=False, markup=False, emoji=False)


# -- small formats -----------------------------------------------------------------------


def count(value: int) -> str:
    return f"{value:,}"


def size(value: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "—"
    seconds = max(0.0, (now - value).total_seconds())
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds // length:.0f}{unit} ago"
    return "just now"


def status_text(status: PartitionHealthStatus) -> Text:
    return Text(status.value, style=STATUS_COLOUR[status])


def _header(console: Console, title: str, *facts: str) -> None:
    console.print(Text.assemble((title, "bold"), ("  " + " · ".join(facts), "dim")))


def _section(console: Console, title: str) -> None:
    console.print()
    console.print(Text(title, style="bold underline"))


def _bar(value: float, largest: float, colour: str) -> Bar:
    return Bar(size=largest or 1.0, begin=0, end=value, width=BAR_WIDTH, color=colour)


def _table(*columns: tuple[str, str]) -> Table:
    """A borderless table; each column is (header, justify)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_edge=False)
    for header, justify in columns:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    return table


# -- the heat strip ----------------------------------------------------------------------


def strip_cell(share_ratio: float) -> str:
    """A partition as one character: its height is its share against the fair share,
    on a log scale (▄ = fair share, █ = four times it or more, ▁ = a quarter or less)."""
    if share_ratio <= 0:
        return STRIP_EMPTY
    level = round(3 + 2 * math.log2(share_ratio))
    return STRIP_LEVELS[min(max(level, 0), len(STRIP_LEVELS) - 1)]


def heat_strip(partitions: Sequence[PartitionHealth]) -> Text:
    """Every partition, in order, as one coloured character; rows of 50 in groups of ten."""
    strip = Text()
    n = len(partitions)
    for row_start in range(0, n, STRIP_ROW):
        row = partitions[row_start : row_start + STRIP_ROW]
        strip.append(f"{row_start:>5} ", style="dim")
        for i, p in enumerate(row):
            if i and i % 10 == 0:
                strip.append(" ")
            strip.append(strip_cell(p.chunk_percentage * n / 100.0), style=STATUS_COLOUR[p.health_status])
        strip.append(f" {row_start + len(row) - 1}\n", style="dim")
    return strip


def _strip_section(console: Console, partitions: Sequence[PartitionHealth]) -> None:
    fair = 100.0 / len(partitions) if partitions else 0.0
    _section(console, "Share of chunks per partition")
    console.print(
        Text(
            f"One character per partition. Height: share against the fair {fair:.2f}% "
            f"(▄ fair, █ 4× or more, ▁ ¼ or less, {STRIP_EMPTY} empty). Colour: status.",
            style="dim",
        )
    )
    console.print(heat_strip(partitions), end="")
    console.print(
        Text.assemble(
            "      ",
            ("■ HEALTHY", STATUS_COLOUR[PartitionHealthStatus.HEALTHY]),
            "  ",
            ("■ WARNING", STATUS_COLOUR[PartitionHealthStatus.WARNING]),
            "  ",
            ("■ UNBALANCED", STATUS_COLOUR[PartitionHealthStatus.UNBALANCED]),
        )
    )


# -- health --------------------------------------------------------------------------------


def _verdict(console: Console, report: HealthReport) -> None:
    result, metrics = report.result, report.result.metrics
    if metrics is None:  # a failed check is not rendered: reports.health raises CommandError for it
        raise ValueError("a failed health check has no verdict")
    overall = result.overall or PartitionHealthStatus.HEALTHY
    console.print(
        Text.assemble(
            "Verdict: ", (overall.value, f"bold {STATUS_COLOUR[overall]}"), f"  (exit code {int(report.exit_code)})"
        )
    )
    if result.verdict is not None:
        verdict = result.verdict
        because = f"; cause: {', '.join(c.value for c in verdict.causes)}" if verdict.causes else ""
        console.print(
            Text.assemble(
                "Placement: ",
                (verdict.placement.value, STATUS_COLOUR[verdict.placement]),
                "   Capacity: ",
                (verdict.capacity.value, STATUS_COLOUR[verdict.capacity]),
                because,
            )
        )
    console.print(
        f"{count(metrics.total_chunks)} chunks in {metrics.total_partitions} partitions: "
        f"{metrics.healthy_count} healthy, {metrics.warning_count} warning, "
        f"{metrics.unbalanced_count} unbalanced."
    )
    if not metrics.total_chunks:
        console.print(Text("The table is empty; `semantik-chunks demo` loads a sample workload.", style="dim"))
    k_eff, sigma = metrics.effective_collections, metrics.chance_skew
    if k_eff and sigma is not None:
        console.print(
            Text(
                f"The data spreads like {k_eff:.0f} equal collections; chance alone varies a partition's "
                f"skew by about ±{sigma:.2f}, so only skew beyond {report.chance_z * sigma:.2f} counts as real.",
                style="dim",
            )
        )


def command_lines(command: str, width: int) -> list[str]:
    """``command`` as lines of at most ``width`` characters, broken between arguments with `` \\`` (a
    POSIX shell's line continuation; continuation lines indented by two), so that the lines pasted are
    the one command. An argument longer than ``width`` gets a line of its own, whole. The arguments
    keep their shell quoting; ``&&`` stays an operator."""
    if len(command) <= width:
        return [command]
    try:
        words = [w if w == "&&" else shlex.quote(w) for w in shlex.split(command)]
    except ValueError:  # not one the library wrote (they are shlex-quoted): shown as it is
        return [command]
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        indent = 2 if lines else 0
        if current and indent + len(candidate) + 2 > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return [("  " if i else "") + line + (" \\" if i < len(lines) - 1 else "") for i, line in enumerate(lines)]


def _alerts(console: Console, alerts: Sequence[Alert]) -> None:
    _section(console, "Alerts")
    if not alerts:
        console.print("None.")
        return
    # One grid per alert, its command below it, never wrapped by the terminal or cut at a table's edge
    # (it could not be pasted then): a command wider than the console is broken between its arguments
    # with shell line continuations (``command_lines``), which paste as one command.
    width = max(len(f"{a.level.value} {a.cause.value}") for a in alerts)
    for alert in alerts:
        table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
        table.add_column("level", no_wrap=True, min_width=width)
        table.add_column("alert")
        message = Text(safe(alert.message))
        if alert.partitions:
            listed = ", ".join(str(p) for p in alert.partitions[:12])
            more = f", … ({len(alert.partitions)} in all)" if len(alert.partitions) > 12 else ""
            message.append(f": partitions {listed}{more}")
        message.append(f"\n→ {safe(alert.action)}", style="dim")
        level = Text(alert.level.value, style=f"bold {ALERT_COLOUR[alert.level]}")
        level.append(f" {alert.cause.value}", style="dim")
        table.add_row(level, message)
        console.print(table)
        if alert.command:
            for i, line in enumerate(command_lines(alert.command, console.width - 4)):
                command = Text("  ")
                command.append("$ " if i == 0 else "  ", style="dim")
                command.append(safe(line), style="bold")
                console.print(command, soft_wrap=True)


def _partition_table(partitions: Sequence[PartitionHealth]) -> Table:
    table = _table(("part", "right"), ("chunks", "right"), ("share", "right"), ("skew", "right"), ("status", "left"))
    table.add_column("share of chunks", no_wrap=True)
    largest = max((p.chunk_percentage for p in partitions), default=0.0)
    for p in partitions:
        table.add_row(
            str(p.partition_num),
            count(p.chunk_count),
            f"{p.chunk_percentage:.2f}%",
            f"{p.chunk_skew:.2f}",
            status_text(p.health_status),
            _bar(p.chunk_percentage, largest, STATUS_COLOUR[p.health_status]),
        )
    return table


def _unhealthy(console: Console, partitions: Sequence[PartitionHealth]) -> None:
    fair = 100.0 / len(partitions)
    flagged = [p for p in partitions if p.health_status is not PartitionHealthStatus.HEALTHY]
    over = sorted((p for p in flagged if p.chunk_percentage > fair), key=lambda p: (-p.chunk_skew, p.partition_num))
    under = len(flagged) - len(over)
    _section(console, "Most skewed partitions")
    if over:
        console.print(_partition_table(over[:LISTED_PARTITIONS]))
    else:
        console.print("No partition holds more than the warning threshold above its fair share.")
    notes = []
    if len(over) > LISTED_PARTITIONS:
        notes.append(f"{len(over) - LISTED_PARTITIONS} more over-full partitions not shown.")
    if under:
        notes.append(f"{under} under-full partitions are flagged too; they only mean the others carry more.")
    if notes:
        notes.append("`semantik-chunks distribution` lists every partition.")
        console.print(Text(" ".join(notes), style="dim"))


def health(console: Console, report: HealthReport) -> None:
    _header(console, "Partition health", f"{report.mode} mode", when(report.generated_at))
    _verdict(console, report)
    _alerts(console, report.result.alerts)
    if report.partitions:
        _strip_section(console, report.partitions)
        _unhealthy(console, report.partitions)


# -- distribution and sizes ------------------------------------------------------------------


def distribution(console: Console, report: DistributionReport) -> None:
    s = report.summary
    _header(console, "Chunk distribution", f"{report.mode} mode", when(report.generated_at))
    console.print(
        f"{count(s.total_chunks)} chunks, {size(s.total_size_bytes)}, in {s.partitions_used} of "
        f"{s.partition_count} partitions used ({s.empty_partitions} empty)."
    )
    console.print(
        f"Per partition: average {s.avg_chunks_per_partition:,.0f}, standard deviation {s.stddev_chunks:,.0f}, "
        f"min {count(s.min_chunks)}, max {count(s.max_chunks)} (max skew {s.max_skew_ratio:.2f})."
    )
    console.print(Text.assemble("Distribution status: ", status_text(s.distribution_status)))
    if s.effective_collections and s.chance_skew is not None:
        console.print(
            Text(
                f"The data spreads like {s.effective_collections:.0f} equal collections; chance alone "
                f"gives a partition a skew of about ±{s.chance_skew:.2f}.",
                style="dim",
            )
        )
    console.print()
    console.print(_partition_table(report.partitions))


def sizes(console: Console, report: SizesReport) -> None:
    s = report.summary
    _header(console, "Partition sizes", "largest first", when(report.generated_at))
    console.print(
        f"{size(s.total_size_mb * 1024 * 1024)} on disk "
        f"for {count(s.total_chunks)} chunks in {s.partition_count} partitions "
        f"(average {s.avg_chunks_per_partition:,.0f} chunks per partition, standard deviation "
        f"{s.chunk_count_stddev:,.0f})."
    )
    table = _table(("part", "right"), ("size", "right"), ("share", "right"), ("skew", "right"), ("chunks", "right"))
    table.add_column("share of bytes", no_wrap=True)
    largest = max((p.size_percentage for p in report.partitions), default=0.0)
    for p in report.partitions:
        colour = STATUS_COLOUR[p.health_status]
        table.add_row(
            str(p.partition_num),
            size(p.size_bytes),
            f"{p.size_percentage:.2f}%",
            f"{p.size_skew:.2f}",
            count(p.chunk_count),
            _bar(p.size_percentage, largest, colour),
        )
    console.print()
    console.print(table)


# -- hot partitions --------------------------------------------------------------------------


def _hot_table(hot_partitions: Sequence[HotPartition]) -> Table:
    table = _table(("part", "right"), ("writes", "right"), ("of hour", "right"), ("collection", "left"))
    table.add_column("of part", justify="right")
    for h in hot_partitions:
        collections = h.top_collections or ()
        first = collections[0] if collections else None
        table.add_row(
            str(h.partition_num),
            count(h.last_hour),
            f"{h.hour_share:.1%}",
            safe(first.collection_id) if first else "—",
            f"{first.share_of_partition:.0%}" if first else "",
        )
        for c in collections[1:]:
            table.add_row("", "", "", safe(c.collection_id), f"{c.share_of_partition:.0%}")
    return table


def _hot_section(console: Console, report: HotReport) -> None:
    console.print(
        Text(
            f"Partitions taking at least {report.hot_hour_share:.1%} of the last hour's writes, "
            "with the collections that wrote there (share of the partition's writes).",
            style="dim",
        )
    )
    if not report.hot_partitions:
        console.print("No hot partitions.")
        return
    console.print(_hot_table(report.hot_partitions))


def hot(console: Console, report: HotReport) -> None:
    _header(console, "Hot partitions", "last hour", when(report.generated_at))
    _hot_section(console, report)


# -- skew --------------------------------------------------------------------------------------


def skew(console: Console, report: SkewReport) -> None:
    _header(console, "Partition skew", f"{report.mode} mode", when(report.generated_at))
    table = _table(("metric", "left"), ("value", "right"), ("status", "left"), ("details", "left"))
    for m in report.metrics:
        table.add_row(
            safe(m.metric), f"{m.value:.3f}", Text(m.status.value, style=SKEW_COLOUR[m.status]), safe(m.details)
        )
    console.print(table)
    if report.effective_collections and report.chance_skew is not None:
        console.print(
            Text(
                f"The data spreads like {report.effective_collections:.0f} equal collections; chance alone "
                f"gives a partition a skew of about ±{report.chance_skew:.2f}.",
                style="dim",
            )
        )


# -- collections -------------------------------------------------------------------------------


def _collections_table(report: CollectionsReport) -> Table:
    table = _table(("collection", "left"), ("part", "right"), ("chunks", "right"), ("docs", "right"))
    table.add_column("last write", justify="right", no_wrap=True)
    table.columns[0].no_wrap = True
    for row in report.collections:
        s = row.stats
        ident = Text(safe(s.id))
        if s.name:
            ident.append(f"\n{safe(s.name)}", style="dim")
        table.add_row(
            ident,
            str(row.partition_num),
            count(s.total_chunks),
            count(s.chunked_documents),
            ago(s.last_chunk_created, report.generated_at),
        )
    return table


def collections(console: Console, report: CollectionsReport) -> None:
    _header(console, "Collections", "collection_chunking_stats, largest first", when(report.generated_at))
    console.print(
        f"{count(report.total_collections)} collections, {count(report.total_chunks)} chunks "
        "(as of the last `semantik-chunks refresh`)."
    )
    if not report.collections:
        return
    console.print(_collections_table(report))
    if len(report.collections) < report.total_collections:
        console.print(
            Text(f"… {len(report.collections)} of {report.total_collections} shown; --limit 0 shows all.", style="dim")
        )


# -- the full report -----------------------------------------------------------------------------


def _recommendations(console: Console, recommendations: Sequence[Recommendation], partition_count: int) -> None:
    _section(console, "Rebalancing recommendations")
    if not recommendations:
        console.print("None: no partition is over-full beyond the rebalance threshold.")
        return
    rank = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
    shown = sorted(recommendations, key=lambda r: (rank[r.priority], -r.current_skew))[:LISTED_RECOMMENDATIONS]
    previous_action = None
    for r in shown:
        console.print(
            Text.assemble(
                (f"{r.priority.value:<6} ", f"bold {PRIORITY_COLOUR[r.priority]}"),
                (f"partition {r.partition_num} ({partition_table_name(r.partition_num, partition_count)})", "bold"),
                # Advice is only for over-full partitions, so share = (skew + 1) x the fair share.
                f": {(r.current_skew + 1) * 100 / partition_count:.2f}% of chunks, skew {r.current_skew:.2f}",
            )
        )
        for c in r.top_collections[:3]:
            console.print(
                Padding(
                    Text(
                        f"{safe(c.collection_id)}  {c.share_of_partition:>4.0%} of partition, "
                        f"{c.share_of_total:.1%} of all"
                    ),
                    (0, 0, 0, 7),
                )
            )
        action = "→ as above" if r.action == previous_action else f"→ {safe(r.action)}"
        console.print(Padding(Text(action, style="dim"), (0, 0, 0, 7)))
        previous_action = r.action
    if len(recommendations) > len(shown):
        by_priority = {p: sum(1 for r in recommendations if r.priority is p) for p in Priority}
        console.print(
            Text(
                f"… {len(shown)} of {len(recommendations)} shown (HIGH {by_priority[Priority.HIGH]}, "
                f"MEDIUM {by_priority[Priority.MEDIUM]}, LOW {by_priority[Priority.LOW]}); "
                "--format json lists all.",
                style="dim",
            )
        )


def full(console: Console, report: FullReport) -> None:
    checked = report.health
    s = report.distribution
    _header(console, "Partition maintenance report", f"{checked.mode} mode", when(checked.generated_at))
    _verdict(console, checked)
    _alerts(console, checked.result.alerts)
    if checked.partitions:
        _strip_section(console, checked.partitions)
    _section(console, "Distribution")
    console.print(
        f"{count(s.total_chunks)} chunks, {size(s.total_size_bytes)}; {s.partitions_used} of {s.partition_count} "
        f"partitions used; per partition average {s.avg_chunks_per_partition:,.0f}, "
        f"min {count(s.min_chunks)}, max {count(s.max_chunks)}."
    )
    table = _table(("skew metric", "left"), ("value", "right"), ("status", "left"))
    for m in report.skew:
        table.add_row(safe(m.metric), f"{m.value:.3f}", Text(m.status.value, style=SKEW_COLOUR[m.status]))
    console.print(table)
    if checked.partitions:
        _unhealthy(console, checked.partitions)
    _section(console, "Hot partitions")
    _hot_section(console, report.hot)
    _recommendations(console, report.recommendations, checked.partition_count)
    _section(console, "Largest collections")
    console.print(
        Text(
            f"{count(report.collections.total_collections)} collections, as of the last `semantik-chunks refresh`.",
            style="dim",
        )
    )
    if report.collections.collections:
        console.print(_collections_table(report.collections))


def move_preview_lines(preview: MoveReport) -> list[str]:
    """``migrate --dry-run`` as lines: the total, then the partitions that would change."""
    if not preview.would_move:
        return ["Every row is in its partition: the takeover would move nothing."]
    lines = [f"{preview.would_move:,} rows would move (nothing was changed). Partition  gain  lose:"]
    for p in sorted(set(preview.would_gain) | set(preview.would_lose)):
        lines.append(f"  {p:>9}  {preview.would_gain.get(p, 0):>8,}  {preview.would_lose.get(p, 0):>8,}")
    return lines
