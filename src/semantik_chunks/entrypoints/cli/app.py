"""The ``semantik-chunks`` commands: options in, a report out, an exit code a cron job can use.

Each command gathers a report (``reports``), then draws it (``render``) or prints it as JSON
(``payloads``). Failures become one line on stderr and exit code 3 (``runtime``).
"""

from __future__ import annotations

import enum
import logging
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import attrs
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from typer.core import TyperGroup

from semantik_chunks import __version__
from semantik_chunks.config import Settings
from semantik_chunks.container import Container
from semantik_chunks.domain.adoption import MoveProgress, MoveReport
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.hashing import MAX_PARTITIONS
from semantik_chunks.domain.schema import SchemaRevision
from semantik_chunks.entrypoints.cli import database, payloads, render, reports, runtime
from semantik_chunks.entrypoints.cli import queries as statement_queries
from semantik_chunks.entrypoints.cli.errors import CommandError, ExitCode
from semantik_chunks.services.demo import DEFAULT_CHUNKS, DEFAULT_COLLECTIONS, DemoSummary

R = TypeVar("R")

EXIT_CODES = (
    "Exit codes: 0 healthy, 1 warning, 4 unbalanced (the verdict of health and full), 2 usage error, "
    "3 could not check (database unreachable, credentials refused, schema missing, bad configuration), "
    "130 interrupted. The other commands exit 0 when they could read the database."
)


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


class OneLineUsageErrors(TyperGroup):
    """Usage errors as one line on stderr (exit code 2) instead of a usage block and a boxed message."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            outcome = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's exceptions, which Typer vendors
            if not standalone_mode:
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help was printed already
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "semantik-chunks"
            # Typer words a bad choice "Value error, 'xml' is not one of ..."; the prefix adds nothing.
            problem = exc.format_message().replace("Value error, ", "")
            typer.echo(f"{where}: error: {problem} (see `{where} --help`)", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("Aborted.", err=True)
            sys.exit(ExitCode.ABORTED)
        if not standalone_mode:
            return outcome
        sys.exit(outcome if isinstance(outcome, int) else 0)


app = typer.Typer(
    name="semantik-chunks",
    cls=OneLineUsageErrors,
    help=(
        "Monitor and maintain the partitioned chunks table of Semantik.\n\n"
        "The database is --db-url, else $DATABASE_URL, else an embedded PostgreSQL kept in "
        "~/.local/share/semantik-chunks (created and migrated on first use). "
        "Start with: semantik-chunks demo && semantik-chunks full"
    ),
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
server_app = typer.Typer(help="The embedded PostgreSQL server.", no_args_is_help=True)
app.add_typer(server_app, name="server")

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        metavar="URL",
        show_default=False,
        help="A PostgreSQL URL (postgresql://user:pw@host/db), or memory:// (empty, this process only). "
        "Default: $DATABASE_URL, else the embedded PostgreSQL.",
    ),
]
Format = Annotated[
    OutputFormat, typer.Option("--format", case_sensitive=False, help="table for people, json for programs.")
]
Exact = Annotated[
    bool,
    typer.Option(
        "--exact",
        help="Count rows (reads every row; slow on big tables) instead of the database's statistics "
        "(instant, as fresh as the last ANALYZE).",
    ),
]


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"semantik-chunks {__version__}")
        raise typer.Exit()


@app.callback()
def _configure(
    version: Annotated[  # noqa: ARG001 -- handled by its eager callback
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    if runtime.debugging():
        logging.basicConfig(level=logging.INFO)
    elif not logging.getLogger().handlers:
        # Library warnings would reach stderr through logging's last resort; the one-line
        # error is what the operator needs.
        logging.getLogger().addHandler(logging.NullHandler())


@contextmanager
def _one_line_failures() -> Iterator[None]:
    """Any failure: one line on stderr and exit code 3, never a traceback."""
    try:
        yield
    except CommandError as exc:
        _fail(str(exc))
    except (typer.Exit, typer.TyperException, typer.Abort):
        raise
    except Exception as exc:
        if runtime.debugging():
            raise
        first_line = " ".join(str(exc).split())
        _fail(f"unexpected {type(exc).__name__}: {first_line} (set {runtime.DEBUG_ENV}=1 for the traceback)")


def _fail(message: str) -> None:
    # Errors may quote ids or driver text: one line, control characters escaped.
    typer.echo(f"semantik-chunks: error: {render.safe(' '.join(message.split()))}", err=True)
    raise typer.Exit(ExitCode.COULD_NOT_CHECK)


def _report(
    ctx: typer.Context,
    db_url: str | None,
    output: OutputFormat,
    gather: Callable[[Container], Any],
    draw: Callable[[Any, R], None],
    document: Callable[[R], payloads.JSON],
) -> R:
    with _one_line_failures():
        report: R = runtime.run(db_url, gather, runtime.containers(ctx.obj))
        if output is OutputFormat.json:
            typer.echo(payloads.dumps(document(report)))
        else:
            draw(render.stdout_console(), report)
    return report


# -- reports -----------------------------------------------------------------------------------


@app.command()
def health(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table, exact: Exact = False) -> None:
    """Health verdict, alerts (each with its cause and command) and every partition's share of chunks.

    Exits 0 healthy, 1 warning, 4 unbalanced, 3 could not check (2 is a usage error). The verdict is
    the worst of placement (imbalance beyond what chance placement of collections explains) and
    capacity (a partition beyond its budget, whatever the cause).
    """
    report = _report(ctx, db_url, output, lambda c: reports.health(c, exact=exact), render.health, payloads.health)
    raise typer.Exit(report.exit_code)


@app.command()
def distribution(
    ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table, exact: Exact = False
) -> None:
    """Chunks per partition: count, share, skew and status of each, in partition order."""
    _report(
        ctx, db_url, output, lambda c: reports.distribution(c, exact=exact), render.distribution, payloads.distribution
    )


@app.command()
def sizes(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """Bytes on disk per partition, largest first."""
    _report(
        ctx,
        db_url,
        output,
        _reshape_commands.with_isolated(reports.sizes),
        _reshape_commands.draw_with_isolated(render.sizes),
        _reshape_commands.document_with_isolated(payloads.sizes),
    )


@app.command()
def hot(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """Partitions taking a large share of the last hour's writes, and the collections writing there."""
    _report(ctx, db_url, output, reports.hot, render.hot, payloads.hot)


@app.command()
def skew(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table, exact: Exact = False) -> None:
    """Skew metrics (analyze_partition_skew): worst chunk and size skew, spread of chunk counts."""
    _report(ctx, db_url, output, lambda c: reports.skew(c, exact=exact), render.skew, payloads.skew)


@app.command()
def collections(
    ctx: typer.Context,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    limit: Annotated[int, typer.Option(min=0, help="How many collections to list, largest first; 0 for all.")] = 20,
) -> None:
    """Collections from collection_chunking_stats (as fresh as the last refresh), largest first."""
    _report(
        ctx,
        db_url,
        output,
        lambda c: reports.collections(c, limit=limit or None),
        render.collections,
        payloads.collections,
    )


@app.command()
def full(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table, exact: Exact = False) -> None:
    """The full maintenance report: health, distribution, skew, hot spots, advice, collections.

    Exits 0 healthy, 1 warning, 4 unbalanced, 3 could not check (2 is a usage error).
    """
    report, _isolated = _report(
        ctx,
        db_url,
        output,
        _reshape_commands.with_isolated(lambda c: reports.full(c, exact=exact)),
        _reshape_commands.draw_with_isolated(render.full),
        _reshape_commands.document_with_isolated(payloads.full),
    )
    raise typer.Exit(report.health.exit_code)


@app.command()
def queries(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """Statements on chunks (from pg_stat_statements) whose plans read more than one partition, and the fix.

    Plans each statement as a call would, never executing it. Exits 0 when no pruning alert, 1 when
    statements reading every partition take more than SEMANTIK_PRUNING_ALERT_SHARE of the time spent
    on chunks, 3 when pg_stat_statements is missing or not loaded (the error says how to enable it).
    """
    report = _report(
        ctx,
        db_url,
        output,
        statement_queries.gather,
        statement_queries.draw,
        statement_queries.document,
    )
    raise typer.Exit(report.exit_code)


# -- commands that change something -------------------------------------------------------------


def _done(output: OutputFormat, document: payloads.JSON, *lines: str, wrap: bool = True) -> None:
    """``document`` as JSON, or ``lines`` for people; ``wrap=False``: each line whole, as printed
    before ``--format`` existed (a listing that scripts split by whitespace, e.g. ``migrate history``)."""
    if output is OutputFormat.json:
        typer.echo(payloads.dumps(document))
    elif not wrap:
        for line in lines:
            typer.echo(line)
    else:
        console = render.stdout_console()
        for line in lines:
            console.print(line)


@app.command()
def refresh(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """Refresh collection_chunking_stats (the hourly task does this too)."""
    with _one_line_failures():
        started = time.perf_counter()
        count = runtime.run(db_url, reports.refresh, runtime.containers(ctx.obj))
        took = time.perf_counter() - started
        _done(
            output,
            payloads.command_result("refresh", utc_now(), collections=count, duration_seconds=round(took, 3)),
            f"Refreshed collection_chunking_stats: {count:,} collections in {took:.2f} s.",
        )


migrate_app = typer.Typer(
    help="Install, upgrade or downgrade the library's schema; `migrate current` and `migrate history` show it.",
    invoke_without_command=True,
)
app.add_typer(migrate_app, name="migrate")


@migrate_app.callback()
def migrate(
    ctx: typer.Context,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            min=1,
            max=MAX_PARTITIONS,
            show_default=False,
            help="Partitions of a chunks table the migration creates. Default: $CHUNK_PARTITION_COUNT, else 100.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Change nothing: show how many rows each partition would gain and lose when an existing "
            "(host) chunks table is taken over.",
        ),
    ] = False,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="REV",
            show_default=False,
            help="Upgrade or downgrade to this revision (see `migrate history`); base removes the library's "
            "schema entirely, its version table included. Default: the newest.",
        ),
    ] = None,
) -> None:
    """Install or upgrade the library's schema in the database.

    On a database that already has the host's chunks table, the migration takes it over and then moves
    every row whose partition_key is wrong to its partition, in batches that each commit (an interrupted
    run loses nothing; run it again to finish). See docs/adoption.md. A database migrated for another
    partition count is an error: `semantik-chunks reshape --partitions N` changes the count."""
    if ctx.invoked_subcommand is not None:
        # `migrate --db-url URL current`: the subcommand reads the group's --db-url and --format (never the
        # default database instead of the one named); the options that change something belong to migrate.
        given = [name for name, value in (("--partitions", partitions), ("--to", to)) if value is not None]
        given += ["--dry-run"] if dry_run else []
        if given:
            raise typer.BadParameter(
                f"{', '.join(given)} belongs to `migrate` itself, not to `migrate {ctx.invoked_subcommand}`",
                param_hint=given[0],
            )
        ctx.meta[_MIGRATE_OPTIONS] = (db_url, output if _given(ctx, "output") else None)
        return
    with _one_line_failures():
        make = runtime.containers(ctx.obj)
        settings = runtime.load_settings()
        if partitions is not None:
            settings = attrs.evolve(settings, partition_count=partitions)
        target = runtime.resolve_target(db_url, settings, make)
        if target.is_memory:
            note = "memory:// keeps nothing between processes: there is nothing to migrate."
            _done(output, payloads.command_result("migrate", utc_now(), database=target.label, revisions=[]), note)
            return
        if dry_run:
            preview = runtime.run_once(settings, target, _preview_moves, make)
            _done(output, payloads.move_preview(preview, target.label), *render.move_preview_lines(preview))
            return
        if to is not None:
            revision = to

            async def migrate_to(container: Container) -> tuple[tuple[str, ...], MoveReport]:
                return await _migrate(container, revision)

            applied, moved = runtime.run_once(settings, target, migrate_to, make)
        else:
            applied, moved = runtime.run_once(settings, target, _migrate, make)
        note = f"{target.shown} is at revision {', '.join(applied) or '(none)'}."
        if moved.moved:
            note += (
                f" Moved {moved.moved:,} misplaced rows in {moved.seconds:.1f} s ({moved.rows_per_second:,.0f} rows/s)."
            )
        document = payloads.command_result(
            "migrate",
            utc_now(),
            database=target.label,
            revisions=list(applied),
            rows_moved=moved.moved,
            move_seconds=round(moved.seconds, 3),
        )
        _done(output, document, note)


async def _preview_moves(container: Container) -> MoveReport:
    return await container.schema_service().preview_moves()


async def _migrate(container: Container, revision: str | None = None) -> tuple[tuple[str, ...], MoveReport]:
    service = container.schema_service()
    applied = await service.install() if revision is None else await service.migrate_to(revision)
    if revision is not None:  # --to moves no rows: a plain `migrate` finishes a takeover (docs/migrations.md)
        nothing = MoveReport(
            partition_count=container.partition_count(), moved=0, batches=0, seconds=0.0, validated=False
        )
        return applied, nothing
    with _move_progress() as progress:
        moved = await service.move_rows(progress)
    return applied, moved


_MIGRATE_OPTIONS = "semantik_chunks.migrate_options"


def _given(ctx: typer.Context, parameter: str) -> bool:
    """Whether ``parameter`` was on the command line (by name: typer may bring its own copy of click's enum)."""
    source = ctx.get_parameter_source(parameter)
    return source is not None and source.name != "DEFAULT"


def _with_group_options(
    ctx: typer.Context, db_url: str | None, output: OutputFormat
) -> tuple[str | None, OutputFormat]:
    """A subcommand's own --db-url and --format, else those given to `migrate` before it."""
    group_url, group_output = ctx.meta.get(_MIGRATE_OPTIONS, (None, None))
    if db_url is None:
        db_url = group_url
    if not _given(ctx, "output") and group_output is not None:
        output = group_output
    return db_url, output


@migrate_app.command("current")
def migrate_current(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """The library's revision the database is at ((none) before the first migration)."""
    db_url, output = _with_group_options(ctx, db_url, output)
    with _one_line_failures():
        make = runtime.containers(ctx.obj)
        settings, target = runtime.select_database(db_url, make)
        applied = runtime.run_once(settings, target, _applied_revisions, make)
        _done(
            output,
            payloads.migrate_current(applied, target.label),
            f"{target.shown} is at revision {', '.join(applied) or '(none)'}.",
            wrap=False,
        )


@migrate_app.command("history")
def migrate_history(ctx: typer.Context, db_url: DbUrl = None, output: Format = OutputFormat.table) -> None:
    """Every revision of the library, oldest first, and which the database has."""
    db_url, output = _with_group_options(ctx, db_url, output)
    with _one_line_failures():
        make = runtime.containers(ctx.obj)
        settings, target = runtime.select_database(db_url, make)
        revisions = runtime.run_once(settings, target, _history, make)
        lines = [f"{r.revision}  {'applied' if r.applied else 'pending'}  {r.description}" for r in revisions]
        _done(
            output,
            payloads.migrate_history(revisions, target.label),
            "base  (nothing of the library's schema)",
            *lines,
            wrap=False,
        )


async def _applied_revisions(container: Container) -> tuple[str, ...]:
    return await container.schema_service().revisions()


async def _history(container: Container) -> list[SchemaRevision]:
    return await container.schema_service().history()


@contextmanager
def _move_progress() -> Iterator[Callable[[MoveProgress], None]]:
    console = render.stderr_console()
    if not console.is_terminal:
        yield lambda _progress: None
        return
    with console.status("Moving misplaced rows") as status:
        yield lambda p: status.update(
            f"Moving misplaced rows: {p.moved:,} moved, {p.rows_per_second:,.0f} rows/s, "
            f"partition {p.partitions_done}/{p.partition_count}"
        )


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    console = render.stderr_console()
    if not console.is_terminal:
        yield lambda _written: None
        return
    columns = (TextColumn("Loading chunks"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("demo", total=total)
        yield lambda written: progress.update(task, completed=written)


def _demo_lines(
    summary: DemoSummary, took: float, target: runtime.DatabaseTarget, make: runtime.ContainerFactory
) -> list[str]:
    rate = summary.chunks / took if took else 0.0
    lines = [
        f"Added {summary.chunks:,} chunks in {summary.documents:,} documents to {len(summary.collections):,} "
        f"new collections in {took:.1f} s ({rate:,.0f} chunks/s), seed {summary.seed}.",
    ]
    largest = summary.largest
    if largest is not None and summary.chunks:
        lines.append(
            f"Largest collection: {largest.collection_id} ({largest.name}), {largest.chunk_count:,} chunks "
            f"({largest.chunk_count / summary.chunks:.0%})."
        )
    ingesting = [c.collection_id for c in summary.collections if c.ingesting]
    if ingesting:
        lines.append(f"Being ingested in the last hour: {', '.join(ingesting)}.")
    if target.is_memory:
        lines.append("memory:// keeps nothing after this command: use a database to keep the demo.")
        return lines
    if target.source == "embedded":
        lines.append(
            f"Database: the embedded PostgreSQL in {make(Settings()).embedded_server().data_dir} "
            "(`semantik-chunks server stop` stops it)."
        )
    lines.append("Next: semantik-chunks full")
    return lines


@app.command()
def demo(
    ctx: typer.Context,
    db_url: DbUrl = None,
    output: Format = OutputFormat.table,
    collections: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="How many collections to add (sizes are heavy-tailed).")
    ] = DEFAULT_COLLECTIONS,
    chunks: Annotated[int, typer.Option(min=0, max=1_000_000_000, help="How many chunks to add in all.")] = (
        DEFAULT_CHUNKS
    ),
    seed: Annotated[
        int | None, typer.Option(min=0, show_default="random", help="Seed of the workload, to repeat it.")
    ] = None,
) -> None:
    """Load a synthetic workload (heavy-tailed collections); a second run adds to it.

    Collections of chunked documents written over the last week, with a burst in the last
    hour. Running it again adds new collections and never changes what is there.
    """
    chosen_seed = seed if seed is not None else secrets.randbelow(1_000_000)

    async def load(container: Container) -> tuple[DemoSummary, float]:
        started = time.perf_counter()
        with _progress(chunks) as advance:
            summary = await container.demo_workload().load(
                seed=chosen_seed, collections=collections, chunks=chunks, on_progress=advance
            )
        return summary, time.perf_counter() - started

    with _one_line_failures():
        make = runtime.containers(ctx.obj)
        settings, target = runtime.select_database(db_url, make)
        summary, took = runtime.run_selected(settings, target, load, make)
        _done(output, payloads.demo(summary, took, target.label), *_demo_lines(summary, took, target, make))


# -- the embedded server ------------------------------------------------------------------------


@server_app.command("stop")
def server_stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL (its data stays; the next command starts it again)."""
    with _one_line_failures():
        # The server does not depend on the settings: the environment is not read (nor can it be wrong).
        server = runtime.containers(ctx.obj)(Settings()).embedded_server()
        where = server.data_dir
        if database.stop_embedded(server):
            typer.echo(f"Stopped the embedded PostgreSQL in {where}.")
        else:
            typer.echo(f"The embedded PostgreSQL in {where} is not running.")


def main() -> None:
    app()


# The shape commands (plan, reshape, isolate) and the scale-out commands (servers add/list/remove,
# place) register themselves on ``app``.
from semantik_chunks.entrypoints.cli import reshape as _reshape_commands  # noqa: E402
from semantik_chunks.entrypoints.cli import servers as _servers  # noqa: E402

__all__ = ["_reshape_commands", "_servers", "app", "main"]
