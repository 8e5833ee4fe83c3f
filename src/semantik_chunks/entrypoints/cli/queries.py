"""``semantik-chunks queries``: statements on chunks that read more than one partition.

Query texts and PostgreSQL's error messages are the database's data: drawn through ``render.safe``.

Gathered from the pruning service, drawn as a table or printed as JSON (``queries_document`` in
docs/cli.schema.json). Exit codes: 0 when no pruning alert, 1 when statements reading every
partition take more than the alert share of the time spent on chunks, 3 when the statement
statistics cannot be read (pg_stat_statements missing or not loaded: the error line says how to
enable it).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import attrs
from rich.console import Console
from rich.text import Text

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.model import AlertLevel
from semantik_chunks.domain.pruning import PruningReport
from semantik_chunks.entrypoints import report_models as m
from semantik_chunks.entrypoints.cli.errors import ExitCode
from semantik_chunks.entrypoints.cli.render import safe

LISTED_NOT_ANALYSED_REASONS = 5
QUERY_WIDTH = 200

_LEVEL_COLOUR = {AlertLevel.INFO: "cyan", AlertLevel.WARNING: "yellow", AlertLevel.CRITICAL: "red"}


@attrs.frozen
class QueriesReport:
    generated_at: datetime
    pruning: PruningReport

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.WARNING if self.pruning.alerts else ExitCode.HEALTHY


async def gather(container: Container) -> QueriesReport:
    return QueriesReport(generated_at=utc_now(), pruning=await container.pruning_service().find_unpruned_statements())


def _one_line(query: str | None, width: int = QUERY_WIDTH) -> str:
    if query is None:
        return "(no text)"
    flat = " ".join(query.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _seconds(ms: float) -> str:
    return f"{ms / 1000:,.2f} s" if ms >= 1000 else f"{ms:,.1f} ms"


def draw(console: Console, report: QueriesReport) -> None:
    p = report.pruning
    console.print(
        Text.assemble(
            ("Statements on chunks", "bold"),
            (f"  {p.partition_count} partitions · from pg_stat_statements", "dim"),
        )
    )
    console.print(
        f"{p.statements:,} statements name chunks or a partition: {p.analysed:,} analysed, "
        f"{p.pruned:,} read at most one partition, {len(p.unpruned):,} read more, "
        f"{len(p.not_analysed):,} not analysed."
    )
    console.print(
        f"Time spent on chunks: {_seconds(p.chunks_time_ms)}; statements reading every partition: "
        f"{_seconds(p.every_partition_time_ms)} ({p.every_partition_time_share:.1%}, alert above {p.alert_share:.0%})."
    )
    for alert in p.alerts:
        console.print()
        console.print(
            Text.assemble((f"[{alert.level.value}] ", f"bold {_LEVEL_COLOUR[alert.level]}"), safe(alert.message))
        )
        console.print(Text(f"  Action: {safe(alert.action)}", style="dim"))
    console.print()
    if not p.unpruned:
        console.print(Text("Every analysed statement reads at most one partition.", style="green"))
    for rank, s in enumerate(p.unpruned, start=1):
        colour = "red" if s.reads_every_partition else "yellow"
        reads = "every partition" if s.reads_every_partition else f"{s.partitions_read} partitions"
        console.print(
            Text.assemble(
                (f"{rank}. reads {reads}", f"bold {colour}"),
                (
                    f"  {s.calls:,} calls · {_seconds(s.total_time_ms)} total · {_seconds(s.mean_time_ms)} mean · "
                    f"{s.rows:,} rows · {s.share_of_chunks_time:.1%} of the time on chunks",
                    "dim",
                ),
            )
        )
        console.print(Text(f"   {safe(_one_line(s.query))}"))
        console.print(Text(f"   Fix: {s.fix}", style="cyan"))
    if p.not_analysed:
        console.print()
        console.print(Text("Not analysed", style="bold underline"))
        reasons = Counter(s.reason for s in p.not_analysed)
        for reason, count in reasons.most_common(LISTED_NOT_ANALYSED_REASONS):
            example = next(s for s in p.not_analysed if s.reason == reason)
            console.print(Text.assemble(f"{count:,} × ", (safe(reason), "yellow")))
            console.print(Text(f"   e.g. {safe(_one_line(example.query, 100))}", style="dim"))
        if len(reasons) > LISTED_NOT_ANALYSED_REASONS:
            console.print(Text(f"and {len(reasons) - LISTED_NOT_ANALYSED_REASONS} more reasons (see --format json)"))


def document(report: QueriesReport) -> m.QueriesDocument:
    """The ``queries`` JSON document (``QueriesDocument`` in docs/cli.schema.json)."""
    return m.QueriesDocument(
        command="queries",
        generated_at=report.generated_at,
        exit_code=1 if report.pruning.alerts else 0,
        **m.statement_pruning_fields(report.pruning),
    )
