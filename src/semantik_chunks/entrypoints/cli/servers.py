"""``servers add/list/remove`` and ``place``: partitions on other PostgreSQL servers (docs/scale-out.md).

Credentials come from the server's URL or ``--password-file``; they go to the coordinator's user
mapping and are never printed: every URL shown here is redacted, and the server list shows host, port
and database only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.placement import COORDINATOR, MoveOutcome, MoveStep, ServerStatus, SpreadPlan
from semantik_chunks.entrypoints.cli import payloads, render, runtime
from semantik_chunks.entrypoints.cli.app import DbUrl, Format, OutputFormat, _done, _one_line_failures, app
from semantik_chunks.entrypoints.cli.errors import CommandError

servers_app = typer.Typer(help="Other PostgreSQL servers holding partitions (postgres_fdw).", no_args_is_help=True)
app.add_typer(servers_app, name="servers")


def _size(value: int | None) -> str:
    if value is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value = value / 1024  # type: ignore[assignment]
    return str(value)


def server_document(server: ServerStatus) -> dict[str, Any]:
    return {
        "name": server.name,
        "host": server.host,
        "port": server.port,
        "database": server.database,
        "partitions": list(server.partitions),
        "rows": server.rows,
        "size_bytes": server.size_bytes,
        "reachable": server.reachable,
        "error": server.error,
    }


def _server_line(server: ServerStatus) -> str:
    where = f"{server.host}{':' + str(server.port) if server.port else ''}/{server.database}"
    state = "reachable" if server.reachable else f"UNREACHABLE ({server.error})"
    partitions = ",".join(map(str, server.partitions)) or "-"
    rows = f"{server.rows:,}" if server.rows is not None else "?"
    return f"{server.name}  {where}  partitions {partitions}  rows {rows}  size {_size(server.size_bytes)}  {state}"


@servers_app.command("add")
def servers_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the server: lower-case letters, digits, _.")],
    url: Annotated[str, typer.Argument(help="postgresql://user[:password]@host:port/dbname of the server.")],
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", exists=True, dir_okay=False, help="Read the password from this file."),
    ] = None,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
) -> None:
    """Register a server: a postgres_fdw server with async_capable on, and a user mapping with the credentials."""
    with _one_line_failures():
        password = password_file.read_text().rstrip("\n") if password_file else None

        async def add(container: Container) -> ServerStatus:
            return await container.scale_out_service().add_server(name, url, password)

        server = runtime.run(db_url, add, runtime.containers(ctx.obj))
        _done(
            output,
            payloads.command_result("servers add", utc_now(), server=server_document(server)),
            f"Added server {server.name} ({runtime.redact(url)}).",
        )


@servers_app.command("list")
def servers_list(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """Every server: its partitions, rows, bytes (from its own statistics), and whether it answered."""
    with _one_line_failures():

        async def gather(container: Container) -> list[ServerStatus]:
            return await container.scale_out_service().servers()

        servers = runtime.run(db_url, gather, runtime.containers(ctx.obj))
        lines = [_server_line(s) for s in servers] or [
            "No servers: add one with `semantik-chunks servers add NAME URL`."
        ]
        _done(
            output,
            payloads.command_result("servers list", utc_now(), servers=[server_document(s) for s in servers]),
            *lines,
        )
        if any(not s.reachable for s in servers):
            raise typer.Exit(1)


@servers_app.command("remove")
def servers_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The server's name.")],
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
) -> None:
    """Forget a server (its user mapping too); refused while it holds partitions."""
    with _one_line_failures():

        async def remove(container: Container) -> None:
            await container.scale_out_service().remove_server(name)

        runtime.run(db_url, remove, runtime.containers(ctx.obj))
        _done(output, payloads.command_result("servers remove", utc_now(), server=name), f"Removed server {name}.")


def _outcome_document(outcome: MoveOutcome) -> dict[str, Any]:
    return {
        "partition": outcome.partition_num,
        "source": outcome.source,
        "target": outcome.target,
        "rows": outcome.rows,
        "rows_copied": outcome.rows_copied,
        "rows_replayed": outcome.rows_replayed,
        "seconds": round(outcome.seconds, 3),
        "rows_per_second": round(outcome.rows_per_second, 1),
        "checksum": outcome.checksum,
        "already_done": outcome.already_done,
    }


def _outcome_line(outcome: MoveOutcome) -> str:
    if outcome.already_done:
        return f"Partition {outcome.partition_num} is on {outcome.target} already."
    return (
        f"Moved partition {outcome.partition_num} from {outcome.source} to {outcome.target}: {outcome.rows:,} rows "
        f"verified (count and checksum), {outcome.rows_replayed:,} concurrent writes replayed, "
        f"{outcome.seconds:.1f} s ({outcome.rows_per_second:,.0f} rows/s)."
    )


def _plan_document(plan: SpreadPlan) -> dict[str, Any]:
    return {
        "servers": list(plan.servers),
        "moves": [
            {"partition": m.partition_num, "source": m.source, "target": m.target, "size_bytes": m.size_bytes}
            for m in plan.moves
        ],
        "bytes_before": dict(plan.bytes_before),
        "bytes_after": dict(plan.bytes_after),
    }


def _plan_lines(plan: SpreadPlan, applied: bool) -> list[str]:
    lines = [
        f"{'Moved' if applied else 'Would move'} {len(plan.moves)} partitions to balance bytes over "
        f"{', '.join(plan.servers)}."
    ]
    lines += [f"  partition {m.partition_num}: {m.source} -> {m.target} ({_size(m.size_bytes)})" for m in plan.moves]
    before, after = dict(plan.bytes_before), dict(plan.bytes_after)
    lines += [f"  {name}: {_size(before.get(name, 0))} -> {_size(after.get(name, 0))}" for name in plan.servers]
    if not applied and plan.moves:
        lines.append("Dry run: nothing moved. Add --apply to move.")
    return lines


def _progress_line(step: MoveStep) -> None:
    console = render.stderr_console()
    if console.is_terminal:
        console.print(f"partition {step.partition_num}: {step.phase}, {step.rows_copied:,} rows copied")


@app.command()
def place(
    ctx: typer.Context,
    partition: Annotated[int | None, typer.Argument(help="The partition number to move.", show_default=False)] = None,
    on: Annotated[str | None, typer.Option("--on", metavar="NAME", help="Move it to this server.")] = None,
    home: Annotated[bool, typer.Option("--home", help="Move it back to the coordinator.")] = False,
    spread: Annotated[
        str | None,
        typer.Option(
            "--spread",
            metavar="NAME1,NAME2,...",
            help=f"Plan moves balancing bytes over these servers ({COORDINATOR} names this database).",
        ),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="With --spread: carry the plan out (default: dry run).")
    ] = False,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
) -> None:
    """Move a partition to another server (--on), back home (--home), or balance many (--spread).

    A move copies the rows in batches while writes go on, verifies row count and checksum on both
    sides, then swaps the partition in one short transaction and drops the source. Interrupted, the
    same command finishes it."""
    with _one_line_failures():
        chosen = [flag for flag, given in (("--on", on), ("--home", home), ("--spread", spread)) if given]
        if len(chosen) != 1:
            raise CommandError("give exactly one of --on NAME, --home, --spread NAME1,NAME2,...")
        if spread is None and partition is None:
            raise CommandError(f"{chosen[0]} needs a PARTITION")
        if spread is not None and partition is not None:
            raise CommandError("--spread plans every partition: give no PARTITION")
        make = runtime.containers(ctx.obj)
        started = time.perf_counter()
        if spread is not None:
            names = [n.strip() for n in spread.split(",") if n.strip()]

            async def run_spread(container: Container) -> tuple[SpreadPlan, list[MoveOutcome]]:
                service = container.scale_out_service()
                plan = await service.plan_spread(names)
                return plan, (await service.spread(plan, _progress_line) if apply else [])

            plan, outcomes = runtime.run(db_url, run_spread, make)
            document = payloads.command_result(
                "place",
                utc_now(),
                plan=_plan_document(plan),
                applied=apply,
                moves=[_outcome_document(o) for o in outcomes],
                duration_seconds=round(time.perf_counter() - started, 3),
            )
            _done(output, document, *_plan_lines(plan, apply), *[_outcome_line(o) for o in outcomes])
            return
        target = COORDINATOR if home else str(on)
        number = int(partition)  # type: ignore[arg-type]

        async def run_place(container: Container) -> list[MoveOutcome]:
            return await container.scale_out_service().place(number, target, _progress_line)

        outcomes = runtime.run(db_url, run_place, make)
        _done(
            output,
            payloads.command_result("place", utc_now(), moves=[_outcome_document(o) for o in outcomes]),
            *[_outcome_line(o) for o in outcomes],
        )
