"""``plan``, ``reshape`` and ``isolate``: the table's shape, planned from exact counts and changed online.

A refused command (bad count, unknown or already isolated collection, K < 2) exits 3 with one line
and changes nothing. See docs/reshape.md.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import attrs
import typer

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.hashing import MAX_PARTITIONS
from semantik_chunks.domain.model import IsolatedCollection
from semantik_chunks.domain.reshape import (
    IsolationPlan,
    ReshapeOutcome,
    ReshapePlan,
    ReshapeProgress,
)
from semantik_chunks.entrypoints.cli import payloads, render, runtime
from semantik_chunks.entrypoints.cli.app import DbUrl, Format, OutputFormat, _one_line_failures, app
from semantik_chunks.entrypoints.cli.errors import CommandError
from semantik_chunks.entrypoints.report_models import timestamp

Progress = Callable[[ReshapeProgress], None]
R = TypeVar("R")
SHOWN_PARTITIONS = 20


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


# -- documents ---------------------------------------------------------------------------------


Document = dict[str, Any]


def _value(_instance: object, _field: object, value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def plain(value: Any) -> Any:
    """A domain object (or a list of them) as JSON-ready dicts under its own field names."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return attrs.asdict(value, value_serializer=_value)


def _envelope(command: str, **fields: Any) -> Document:
    return {"command": command, "generated_at": timestamp(utc_now()), **fields}


def plan_document(plan: ReshapePlan) -> Document:
    fields = plain(plan)
    fields.pop("current_count")
    return _envelope("plan", partition_count=plan.current_count, rows_fraction=plan.rows_fraction, **fields)


def isolation_document(plan: IsolationPlan) -> Document:
    fields = plain(plan)
    fields.pop("partition_count")
    return _envelope("plan", partition_count=plan.partition_count, isolate=fields)


def outcome_document(command: str, outcome: ReshapeOutcome) -> Document:
    return _envelope(command, rows_per_second=outcome.rows_per_second, **plain(outcome))


# -- text --------------------------------------------------------------------------------------


def plan_lines(plan: ReshapePlan) -> list[str]:
    lines = [
        f"Plan: {plan.current_count} -> {plan.target_count} partitions (nothing changed).",
        f"{plan.collections_moving:,} of {plan.collections:,} collections change partition: "
        f"{plan.rows_moving:,} of {plan.total_rows:,} rows ({plan.rows_fraction:.1%}), "
        f"{render.size(plan.bytes_moving)}.",
        f"The reshape copies all {plan.rows_copied:,} rows into the new layout: about "
        f"{_seconds(plan.estimated_seconds)} at {plan.rows_per_second:,.0f} rows/s.",
        f"Verdict now {plan.verdict_before.value}, after {plan.verdict_after.value}. "
        + " · ".join(
            f"{before.metric} {before.value:.2f} -> {after.value:.2f} {after.status.value}"
            for before, after in zip(plan.skew_before, plan.skew_after, strict=True)
        ),
        "Nearby counts (share of rows changing partition):",
    ]
    for option in plan.nearby:
        lines.append(
            f"  {option.partition_count:>5}  {option.rows_fraction:6.1%}  {option.collections_moving:,} collections"
            f"  ({option.relation})"
        )
    busiest = sorted(plan.partitions, key=lambda p: -(p.rows_in + p.rows_out))[:SHOWN_PARTITIONS]
    lines.append(f"Partitions with the most rows moving (of {len(plan.partitions)}; --format json lists all):")
    lines.append("   part      before       out        in     after  status")
    for p in sorted(busiest, key=lambda p: p.partition_num):
        status = p.status_after.value if p.status_after else "(gone)"
        lines.append(
            f"  {p.partition_num:>5} {p.rows_before:>11,} {p.rows_out:>9,} {p.rows_in:>9,} {p.rows_after:>9,}  {status}"
        )
    return lines


def isolation_lines(plan: IsolationPlan) -> list[str]:
    split = (
        f" split into {plan.split_parts} hash parts of about {plan.rows_per_part:,} rows"
        if plan.split_parts > 1
        else ""
    )
    return [
        f"Plan: isolate collection {plan.collection_id} in partition {plan.partition_num} (nothing changed).",
        f"Its {plan.collection_rows:,} rows ({render.size(plan.collection_bytes)}, "
        f"{plan.share_of_partition:.0%} of the partition) get a sub-partition of their own{split}; "
        f"{plan.neighbours:,} neighbour collections "
        f"({plan.neighbour_rows:,} rows) go to the DEFAULT sub-partition.",
        f"Copies {plan.rows_copied:,} rows: about {_seconds(plan.estimated_seconds)} at "
        f"{plan.rows_per_second:,.0f} rows/s. The partition is {plan.status_before.value} "
        f"(skew {plan.chunk_skew:.2f}); "
        "routing and counts per partition do not change.",
    ]


def outcome_lines(outcome: ReshapeOutcome) -> list[str]:
    if outcome.kind == "abandon":
        return [f"Abandoned the unfinished reshape; chunks keeps its {outcome.from_count} partitions."]
    if outcome.noop:
        return [f"Nothing to do: chunks has {outcome.to_count} partitions already."]
    if outcome.kind == "partitions":
        what = f"Reshaped chunks from {outcome.from_count} to {outcome.to_count} partitions"
    elif outcome.kind == "isolate":
        parts = f" in {outcome.split_parts} parts" if outcome.split_parts > 1 else ""
        what = f"Isolated collection {outcome.collection_id}{parts}"
    else:
        what = f"Released collection {outcome.collection_id} back into its partition"
    resumed = " (resumed an interrupted run)" if outcome.resumed else ""
    return [
        f"{what}{resumed}: {outcome.rows_copied:,} rows copied in {_seconds(outcome.copy_seconds)} "
        f"({outcome.rows_per_second:,.0f} rows/s), {outcome.changes_replayed:,} concurrent changes replayed, "
        f"swap {outcome.swap_seconds * 1000:.0f} ms ({outcome.swap_attempts} attempt(s)), "
        f"total {_seconds(outcome.seconds)}."
    ]


@contextmanager
def _progress(what: str) -> Iterator[Progress]:
    console = render.stderr_console()
    if not console.is_terminal:
        yield lambda _p: None
        return
    with console.status(what) as status:
        yield lambda p: status.update(
            f"{what}: {p.phase}, {p.rows_copied:,} of ~{p.rows_expected:,} rows, {p.rows_per_second:,.0f} rows/s"
        )


def _emit(output: OutputFormat, document: Document, lines: list[str]) -> None:
    if output is OutputFormat.json:
        typer.echo(json.dumps(document, indent=2, allow_nan=False))
        return
    console = render.stdout_console()
    for line in lines:
        console.print(line)


# -- commands ----------------------------------------------------------------------------------


partitions_option = typer.Option(
    "--partitions", min=1, max=MAX_PARTITIONS, show_default=False, help="The new partition count M (1..1024)."
)
split_option = typer.Option(
    "--split-documents",
    show_default=False,
    help="Split the collection's own sub-partition into K hash parts (K >= 2).",
)


@app.command()
def plan(
    ctx: typer.Context,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    partitions: Annotated[int | None, partitions_option] = None,
    isolate: Annotated[
        str | None, typer.Option("--isolate", metavar="COLLECTION_ID", help="Plan isolating this collection.")
    ] = None,
    split_documents: Annotated[int | None, split_option] = None,
) -> None:
    """Plan a new partition count or an isolation from exact counts; changes nothing."""
    with _one_line_failures():
        if (partitions is None) == (isolate is None):
            raise CommandError("give exactly one of --partitions M and --isolate COLLECTION_ID")
        if isolate is not None:
            chosen = isolate

            async def plan_isolation(c: Container) -> IsolationPlan:
                return await c.reshape_service().plan_isolation(chosen, split_documents)

            found = runtime.run(db_url, plan_isolation, runtime.containers(ctx.obj))
            _emit(output, isolation_document(found), isolation_lines(found))
            return
        assert partitions is not None
        target = partitions

        async def plan_partitions(c: Container) -> ReshapePlan:
            return await c.reshape_service().plan_partitions(target)

        planned = runtime.run(db_url, plan_partitions, runtime.containers(ctx.obj))
        _emit(output, plan_document(planned), plan_lines(planned))


@app.command()
def reshape(
    ctx: typer.Context,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    partitions: Annotated[int | None, partitions_option] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    undo: Annotated[
        bool,
        typer.Option("--undo", help="Abandon an unfinished reshape, or reshape back to the previous count."),
    ] = False,
) -> None:
    """Change the partition count online: writers keep working; a rerun resumes; a second run does nothing."""
    with _one_line_failures():
        if undo == (partitions is not None):
            raise CommandError("give --partitions M, or --undo")
        if dry_run:
            if partitions is None:
                raise CommandError("--dry-run needs --partitions M")
            target = partitions

            async def plan_partitions(c: Container) -> ReshapePlan:
                return await c.reshape_service().plan_partitions(target)

            planned = runtime.run(db_url, plan_partitions, runtime.containers(ctx.obj))
            _emit(output, plan_document(planned), plan_lines(planned))
            return
        with _progress("Reshaping chunks") as progress:

            async def change(c: Container) -> ReshapeOutcome:
                service = c.reshape_service()
                if partitions is None:
                    return await service.undo_reshape(progress)
                return await service.reshape(partitions, progress)

            outcome = runtime.run(db_url, change, runtime.containers(ctx.obj))
        _emit(output, outcome_document("reshape", outcome), outcome_lines(outcome))


@app.command()
def isolate(
    ctx: typer.Context,
    collection_id: Annotated[str, typer.Argument(metavar="COLLECTION_ID", show_default=False)],
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    split_documents: Annotated[int | None, split_option] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Put the collection back into its partition.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
) -> None:
    """Give a collection a sub-partition of its own (optionally K hash parts), online; --undo reverts."""
    with _one_line_failures():
        if undo and split_documents is not None:
            raise CommandError("--undo takes no --split-documents")
        if dry_run:

            async def plan_isolation(c: Container) -> IsolationPlan:
                return await c.reshape_service().plan_isolation(collection_id, split_documents)

            found = runtime.run(db_url, plan_isolation, runtime.containers(ctx.obj))
            _emit(output, isolation_document(found), isolation_lines(found))
            return
        with _progress("Isolating" if not undo else "Releasing") as progress:

            async def change(c: Container) -> ReshapeOutcome:
                service = c.reshape_service()
                if undo:
                    return await service.release(collection_id, progress)
                return await service.isolate(collection_id, split_documents, progress)

            outcome = runtime.run(db_url, change, runtime.containers(ctx.obj))
        _emit(output, outcome_document("isolate", outcome), outcome_lines(outcome))


def with_isolated(
    gather: Callable[[Container], Awaitable[R]],
) -> Callable[[Container], Awaitable[tuple[R, list[IsolatedCollection]]]]:
    """A report's gathering, plus the isolated collections, in the same run (``sizes``, ``full``)."""

    async def both(c: Container) -> tuple[R, list[IsolatedCollection]]:
        return await gather(c), await c.reshape_service().isolated()

    return both


def draw_with_isolated(draw: Callable[[Any, R], None]) -> Callable[[Any, tuple[R, list[IsolatedCollection]]], None]:
    """The report's drawing, then the isolated collections and their parts, if any."""

    def both(console: Any, gathered: tuple[R, list[IsolatedCollection]]) -> None:
        report, found = gathered
        draw(console, report)
        if not found:
            return
        console.print()
        console.print("Isolated collections (semantik-chunks isolate; partition_isolated_collections)")
        for item in found:
            console.print(
                f"  {item.collection_id} in partition {item.partition_num}: {item.sub_partition}, "
                f"{item.parts} part(s), {item.rows:,} rows, {render.size(item.bytes)}"
            )

    return both


def document_with_isolated(
    document: Callable[[R, Sequence[IsolatedCollection]], payloads.JSON],
) -> Callable[[tuple[R, Sequence[IsolatedCollection]]], payloads.JSON]:
    """The report's JSON document with the isolated collections (``isolated``; docs/cli.schema.json)."""
    return lambda gathered: document(*gathered)
