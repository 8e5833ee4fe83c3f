"""Partitions on other PostgreSQL servers through postgres_fdw: servers, placement, online moves.

A server is a postgres_fdw foreign server (``COMMENT 'semantik_chunks: server'``) with a user mapping
for the coordinator's user holding the credentials; they are read back only to open this adapter's
own connections and are never put in a message or a log line.

A move of partition ``p`` (``move``), resumable at every step:

1. bookkeeping row in ``semantik_chunks_moves`` (phase ``copy``); the target table made (same columns,
   NOT NULLs, CHECKs, primary key, indexes); on the coordinator, writes to the source are captured
   into ``semantik_chunks_move_log`` by a trigger (committed before the first row is read);
2. bulk copy in batches of whole id ranges, each batch one binary COPY committed on the target; a rerun
   starts after the target's highest id (every source row not on the target is above it or captured);
3. catch-up: the captured keys replayed (delete them on the target, copy their current source rows);
4. swap, one coordinator transaction: lock ``chunks``, replay the rest, compare row count and content
   checksum on both sides, DETACH the source, ATTACH the target ``FOR VALUES IN (p)``, phase ``swapped``;
5. only then the source is dropped and the bookkeeping row deleted.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres import local_keys
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.adapters.postgres.placement_sql import (
    CAPTURE_TRIGGER,
    CASCADE_TRIGGER,
    CHECK_COLLECTION_TRIGGER,
    MOVE_LOG_TABLE,
    MOVES_TABLE,
    REMOTE_STATEMENTS,
    SERVER_MARK,
    remote_monitoring_tables,
)
from semantik_chunks.adapters.postgres.reshape import RUNS as RESHAPE_RUNS
from semantik_chunks.domain.hashing import partition_table_name, validate_partition_count
from semantik_chunks.domain.placement import (
    COORDINATOR,
    MoveOutcome,
    MoveProgressCallback,
    MoveStep,
    PartitionPlace,
    PlacementError,
    ServerStatus,
    check_server_name,
)

CONNECT_TIMEOUT_SECONDS = 5
BATCH_ROWS = 20_000
CATCH_UP_ROUNDS = 5
SMALL_ENOUGH_TO_SWAP = 2_000
LOCK_TIMEOUT = "10s"
_LOCK_CLASS = 0x5C_F0  # pg_advisory_lock(class, partition): one move of a partition at a time

_SERVER_OPTIONS = {"async_capable": "true", "fetch_size": "10000", "batch_size": "1000", "connect_timeout": "5"}

_SERVERS = f"""
SELECT s.srvname, coalesce(s.srvoptions, '{{}}') FROM pg_foreign_server s
WHERE obj_description(s.oid, 'pg_foreign_server') = '{SERVER_MARK}' ORDER BY s.srvname
"""
_MAPPING = """
SELECT coalesce(umoptions, '{}') FROM pg_user_mappings
WHERE srvname = $1 AND (usename = current_user OR usename = 'public')
ORDER BY usename = 'public' LIMIT 1
"""
_PLACES = """
SELECT c.relname, c.relkind::text, fs.srvname, pg_total_relation_size(c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
WHERE i.inhparent = 'chunks'::regclass
"""
_COLUMNS = """
SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
WHERE attrelid = 'chunks'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
"""
_CHECKS = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = 'chunks'::regclass AND contype = 'c' ORDER BY conname
"""
_TABLE_KEYS = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = to_regclass($1) AND contype IN ('p', 'u') ORDER BY contype, conname
"""
_TABLE_INDEXES = """
SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x
WHERE x.indrelid = to_regclass($1)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY x.indexrelid
"""
_REMOTE_STATS = """
SELECT c.relname, pg_stat_get_live_tuples(c.oid), pg_stat_get_dead_tuples(c.oid), pg_total_relation_size(c.oid),
       pg_stat_get_tuples_inserted(c.oid)
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname = ANY($1::text[])
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _options(options: dict[str, str]) -> str:
    return ", ".join(f"{key} {_literal(value)}" for key, value in options.items())


def _parse_options(raw: Sequence[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in raw)


def connection_options(url: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(server options, user mapping options)`` of a ``postgresql://user:pw@host:port/db`` URL (a
    ``?host=/socket/dir`` parameter is the host)."""
    try:
        parsed = make_url(url)
    except Exception:
        raise PlacementError(
            "the server's URL is not a database URL (expected postgresql://user@host:port/dbname)"
        ) from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise PlacementError("the server's URL must be a postgresql:// URL")
    query_host = parsed.query.get("host")
    host = parsed.host or (query_host if isinstance(query_host, str) else None)
    server: dict[str, str] = {}
    if host:
        server["host"] = host
    if parsed.port:
        server["port"] = str(parsed.port)
    server["dbname"] = parsed.database or "postgres"
    mapping: dict[str, str] = {}
    if parsed.username:
        mapping["user"] = parsed.username
    if parsed.password:
        mapping["password"] = str(parsed.password)
    return server, mapping


def _copy_target_name(partition: str) -> str:
    return f"{partition}_fdw"


def _home_name(partition: str) -> str:
    return f"{partition}_home"


def _moved_name(partition: str) -> str:
    return f"{partition}_moved"


def _checksum_sql(table: str, columns: Sequence[str]) -> str:
    row = ", ".join(_ident(c) for c in columns)
    return f"SELECT count(*), coalesce(sum(hashtextextended(ROW({row})::text, 0)::numeric), 0)::text FROM {table}"


_SAME_TEXT = ("SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, MDY'", "SET extra_float_digits = 3")


class _Side:
    """One end of a move: a table on a connection (the coordinator's, or a server's)."""

    def __init__(self, conn: Any, table: str) -> None:
        self.conn = conn
        self.table = table

    async def max_id(self) -> int | None:
        value = await self.conn.fetchval(f"SELECT max(id) FROM {self.table}")
        return None if value is None else int(value)

    async def copy_out(self, where: str, *args: Any) -> bytes:
        buffer = io.BytesIO()
        await self.conn.copy_from_query(
            f"SELECT {self.columns_sql} FROM {self.table} AS t WHERE {where}", *args, output=buffer, format="binary"
        )
        return buffer.getvalue()

    async def copy_in(self, data: bytes, columns: Sequence[str]) -> None:
        if data:
            await self.conn.copy_to_table(
                self.table.split(".")[-1].strip('"'),
                schema_name="public",
                source=io.BytesIO(data),
                columns=list(columns),
                format="binary",
            )

    columns_sql = "*"


class PostgresPlacement:
    """The ``PartitionPlacement`` port over the coordinator's engine (the database holding ``chunks``)."""

    def __init__(self, engine: AsyncEngine, partition_count: int) -> None:
        self._engine = engine
        self._partition_count = validate_partition_count(partition_count)
        # Tests inject faults here: called with the step name; raising there stops the move as a kill would.
        self.checkpoint: Any = None

    # -- connections --------------------------------------------------------------------------------

    @asynccontextmanager
    async def _coordinator(self) -> AsyncIterator[Any]:
        async with database_errors(), self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await conn.get_raw_connection()
            yield raw.driver_connection

    async def _server_options(self, coord: Any, name: str) -> tuple[dict[str, str], dict[str, str]]:
        row = await coord.fetchrow(
            f"SELECT srvoptions FROM pg_foreign_server s WHERE srvname = $1 "
            f"AND obj_description(s.oid, 'pg_foreign_server') = '{SERVER_MARK}'",
            name,
        )
        if row is None:
            raise PlacementError(f"no server {name!r}: add it with `semantik-chunks servers add {name} URL`")
        mapping = await coord.fetchval(_MAPPING, name)
        return _parse_options(row[0] or []), _parse_options(mapping or [])

    @staticmethod
    async def _connect(server: dict[str, str], mapping: dict[str, str], name: str) -> Any:
        try:
            conn = await asyncpg.connect(
                host=server.get("host"),
                port=int(server["port"]) if "port" in server else None,
                database=server.get("dbname"),
                user=mapping.get("user"),
                password=mapping.get("password"),
                timeout=CONNECT_TIMEOUT_SECONDS,
            )
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            # The driver's message names host and user at most, never the password.
            raise PlacementError(f"server {name!r} unreachable: {type(exc).__name__}: {exc}") from None
        for statement in _SAME_TEXT:
            await conn.execute(statement)
        return conn

    @asynccontextmanager
    async def _remote(self, coord: Any, name: str) -> AsyncIterator[Any]:
        server, mapping = await self._server_options(coord, name)
        conn = await self._connect(server, mapping, name)
        try:
            yield conn
        finally:
            await conn.close()

    async def _step(self, name: str) -> None:
        if self.checkpoint is not None:
            result = self.checkpoint(name)
            if inspect.isawaitable(result):
                await result

    # -- servers ------------------------------------------------------------------------------------

    async def add_server(self, name: str, url: str, password: str | None = None) -> ServerStatus:
        check_server_name(name)
        server, mapping = connection_options(url)
        if password is not None:
            mapping["password"] = password
        remote = await self._connect(server, mapping, name)  # refuse a server that does not answer
        try:
            await self._install_remote_monitoring(remote)
        finally:
            await remote.close()
        async with self._coordinator() as coord:
            if await coord.fetchval("SELECT 1 FROM pg_foreign_server WHERE srvname = $1", name):
                raise PlacementError(f"a foreign server {name!r} exists already")
            async with coord.transaction():
                if await coord.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
                    # The password is in the user mapping's DDL: keep it out of the server's log.
                    await coord.execute("SET LOCAL log_statement = 'none'")
                    await coord.execute("SET LOCAL log_min_error_statement = 'panic'")
                await coord.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
                await coord.execute(
                    f"CREATE SERVER {_ident(name)} FOREIGN DATA WRAPPER postgres_fdw "
                    f"OPTIONS ({_options({**server, **_SERVER_OPTIONS})})"
                )
                await coord.execute(f"COMMENT ON SERVER {_ident(name)} IS '{SERVER_MARK}'")
                user_options = f" OPTIONS ({_options(mapping)})" if mapping else ""
                await coord.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {_ident(name)}{user_options}")
                for statement in remote_monitoring_tables(name):
                    await coord.execute(statement)
        return next(s for s in await self.servers() if s.name == name)

    @staticmethod
    async def _install_remote_monitoring(remote: Any) -> None:
        """The server's statistics views the coordinator's monitoring reads (idempotent)."""
        async with remote.transaction():
            for statement in REMOTE_STATEMENTS:
                await remote.execute(statement)

    async def remove_server(self, name: str) -> None:
        check_server_name(name)
        async with self._coordinator() as coord:
            await self._server_options(coord, name)
            held = [p for p in await self._places(coord) if p[1] == name]
            moving = await coord.fetch(
                f"SELECT partition_num FROM {MOVES_TABLE} WHERE source = $1 OR target = $1 ORDER BY 1", name
            )
            if held or moving:
                numbers = sorted({p[0] for p in held} | {r[0] for r in moving})
                raise PlacementError(
                    f"server {name!r} holds partitions {', '.join(map(str, numbers))}: move them first "
                    "(semantik-chunks place PARTITION --home, or --spread without it)"
                )
            await coord.execute(f"DROP SERVER {_ident(name)} CASCADE")

    async def _places(self, coord: Any) -> list[tuple[int, str, int]]:
        """``(partition_num, server or COORDINATOR, local bytes)`` of every partition of chunks."""
        rows = await coord.fetch(_PLACES)
        names = {partition_table_name(n, self._partition_count): n for n in range(self._partition_count)}
        places = []
        for relname, kind, server, size in rows:
            if relname in names:
                places.append((names[relname], server if kind == "f" else COORDINATOR, int(size or 0)))
        return sorted(places)

    async def remote_statistics(self) -> dict[str, tuple[dict[int, tuple[int, int, int, int]], str | None]]:
        """Per server: ``{partition: (live rows, dead rows, bytes, rows inserted)}`` read from that server's
        own statistics, and the error when it did not answer (its partitions then absent)."""
        async with self._coordinator() as coord:
            servers = [(r[0], _parse_options(r[1])) for r in await coord.fetch(_SERVERS)]
            mappings = {name: _parse_options(await coord.fetchval(_MAPPING, name) or []) for name, _ in servers}
            places = await self._places(coord)

        async def one(name: str, options: dict[str, str]) -> tuple[dict[int, tuple[int, int, int, int]], str | None]:
            mine = {partition_table_name(p, self._partition_count): p for p, where, _ in places if where == name}
            try:
                conn = await self._connect(options, mappings[name], name)
            except PlacementError as exc:
                return {}, str(exc)
            try:
                rows = await asyncio.wait_for(conn.fetch(_REMOTE_STATS, list(mine)), CONNECT_TIMEOUT_SECONDS)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                return {}, f"server {name!r} failed: {type(exc).__name__}: {exc}"
            finally:
                await conn.close()
            return {mine[r[0]]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}, None

        answers = await asyncio.gather(*(one(name, options) for name, options in servers))
        return {name: answer for (name, _), answer in zip(servers, answers, strict=True)}

    async def servers(self) -> list[ServerStatus]:
        stats = await self.remote_statistics()
        async with self._coordinator() as coord:
            servers = [(r[0], _parse_options(r[1])) for r in await coord.fetch(_SERVERS)]
            places = await self._places(coord)
        result = []
        for name, options in servers:
            partitions = tuple(p for p, where, _ in places if where == name)
            found, error = stats.get(name, ({}, "not read"))
            port = options.get("port")
            result.append(
                ServerStatus(
                    name=name,
                    host=options.get("host", ""),
                    port=int(port) if port else None,
                    database=options.get("dbname", ""),
                    partitions=partitions,
                    rows=None if error else sum(v[0] for v in found.values()),
                    size_bytes=None if error else sum(v[2] for v in found.values()),
                    reachable=error is None,
                    error=error,
                )
            )
        return result

    async def placements(self) -> list[PartitionPlace]:
        stats = await self.remote_statistics()
        async with self._coordinator() as coord:
            places = await self._places(coord)
        sizes = {p: v[2] for found, _ in stats.values() for p, v in found.items()}
        return [
            PartitionPlace(p, where, size if where == COORDINATOR else sizes.get(p, 0)) for p, where, size in places
        ]

    # -- moves --------------------------------------------------------------------------------------

    async def move(self, partition_num: int, target: str, progress: MoveProgressCallback | None = None) -> MoveOutcome:
        """Move a partition to ``target`` (a server's name, or ``COORDINATOR``); finishes an interrupted
        move of it to the same target."""
        if not 0 <= partition_num < self._partition_count:
            raise PlacementError(f"partition {partition_num} does not exist (0..{self._partition_count - 1})")
        if target != COORDINATOR:
            check_server_name(target)
        report = progress or (lambda _step: None)
        started = time.perf_counter()
        async with self._coordinator() as coord:
            if not await coord.fetchval("SELECT pg_try_advisory_lock($1, $2)", _LOCK_CLASS, partition_num):
                raise PlacementError(f"another move of partition {partition_num} is running")
            try:
                return await self._move_locked(coord, partition_num, target, report, started)
            finally:
                await coord.execute("SELECT pg_advisory_unlock($1, $2)", _LOCK_CLASS, partition_num)

    async def _refuse_while_reshaping(self, coord: Any, part: str) -> None:
        """A move copies one plain table: not while a reshape or isolation rebuilds the table (both would
        capture the same writes), nor a partition an isolation sub-partitioned (docs/reshape.md)."""
        if await coord.fetchval(f"SELECT to_regclass('{RESHAPE_RUNS}') IS NOT NULL") and await coord.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {RESHAPE_RUNS} WHERE phase <> 'done')"
        ):
            raise PlacementError(
                "a reshape or isolation is unfinished: run its command again to finish it (or --undo) first"
            )
        if await coord.fetchval("SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)", part) == "p":
            raise PlacementError(
                f"{part} holds isolated collections (sub-partitions): undo them first "
                "(semantik-chunks isolate COLLECTION_ID --undo)"
            )

    async def _move_locked(
        self, coord: Any, p: int, target: str, report: MoveProgressCallback, started: float
    ) -> MoveOutcome:
        part = partition_table_name(p, self._partition_count)
        state = await coord.fetchrow(f"SELECT source, target, phase FROM {MOVES_TABLE} WHERE partition_num = $1", p)
        current = next((where for n, where, _ in await self._places(coord) if n == p), None)
        if state is None:
            if current is None:
                raise PlacementError(f"partition {part} is not attached to chunks")
            if current == target:
                return MoveOutcome(p, current, target, 0, 0, 0, 0.0, "", already_done=True)
            if current != COORDINATOR and target != COORDINATOR:
                raise PlacementError(f"partition {p} is on {current!r}: move it home first (place {p} --home)")
            await self._refuse_while_reshaping(coord, part)
            if target != COORDINATOR:
                async with self._remote(coord, target) as remote:
                    if await remote.fetchval("SELECT to_regclass($1) IS NOT NULL", f"public.{part}"):
                        raise PlacementError(
                            f"server {target!r} already has a table {part}: drop it there, or choose another server"
                        )
            await coord.execute(
                f"INSERT INTO {MOVES_TABLE} (partition_num, source, target, phase) VALUES ($1, $2, $3, 'copy')",
                p,
                current,
                target,
            )
            source = current
            phase = "copy"
        else:
            source, planned, phase = state
            if planned != target:
                raise PlacementError(
                    f"partition {p} is being moved from {source!r} to {planned!r}: "
                    f"finish that first (place {p} {'--home' if planned == COORDINATOR else '--on ' + planned})"
                )
        await self._step("start")
        server = target if target != COORDINATOR else source
        async with self._remote(coord, server) as remote:
            copied = replayed = rows = 0
            checksum = ""
            if phase == "copy":
                if target == COORDINATOR:
                    src, dst = _Side(remote, f"public.{_ident(part)}"), _Side(coord, _ident(_home_name(part)))
                    await self._prepare_home(coord, remote, p, part)
                else:
                    src, dst = _Side(coord, _ident(part)), _Side(remote, f"public.{_ident(part)}")
                    await self._prepare_away(coord, remote, p, part, target)
                columns = [r[0] for r in await coord.fetch(_COLUMNS)]
                src.columns_sql = ", ".join(_ident(c) for c in columns)
                report(MoveStep(p, "copy", 0))
                copied = await self._bulk_copy(src, dst, columns, lambda n: report(MoveStep(p, "copy", n)))
                for _ in range(CATCH_UP_ROUNDS):
                    report(MoveStep(p, "catch-up", copied))
                    done = await self._replay(coord, p, src, dst, columns)
                    replayed += done
                    if done < SMALL_ENOUGH_TO_SWAP:
                        break
                report(MoveStep(p, "swap", copied))
                more, rows, checksum = await self._swap(coord, p, part, target, src, dst, columns)
                replayed += more
            await self._step("swapped")
            report(MoveStep(p, "analyze", copied))
            # The copy loaded every row at once: the planner's statistics for the partition where it now
            # lives, as after any bulk load (the coordinator samples a foreign partition on its own ANALYZE).
            if target == COORDINATOR:
                await coord.execute(f"ANALYZE {_ident(part)}")
            else:
                await remote.execute(f"ANALYZE public.{_ident(part)}")
            report(MoveStep(p, "drop source", copied))
            if target == COORDINATOR:
                await remote.execute(f"DROP TABLE IF EXISTS public.{_ident(part)}")
            else:
                await coord.execute(f"DROP TABLE IF EXISTS {_ident(_moved_name(part))}")
            await coord.execute(f"DELETE FROM {MOVES_TABLE} WHERE partition_num = $1", p)
        report(MoveStep(p, "done", copied))
        return MoveOutcome(p, source, target, rows, copied, replayed, time.perf_counter() - started, checksum)

    async def _prepare_away(self, coord: Any, remote: Any, p: int, part: str, server: str) -> None:
        """The target table on the server, the foreign table that will replace the partition, and the
        capture of writes to the source. Each step can run again."""
        columns = await coord.fetch(_COLUMNS)
        checks = await coord.fetch(_CHECKS)
        column_sql = ", ".join(f"{_ident(n)} {t}{' NOT NULL' if nn else ''}" for n, t, nn in columns)
        check_sql = "".join(f", CONSTRAINT {_ident(n)} {d}" for n, d in checks)
        keys = await coord.fetch(_TABLE_KEYS, part)
        key_sql = "".join(f", CONSTRAINT {_ident(n)} {d}" for n, d in keys)
        indexes = await coord.fetch(_TABLE_INDEXES, part)
        exists = await remote.fetchval("SELECT to_regclass($1) IS NOT NULL", f"public.{part}")
        if not exists:
            async with remote.transaction():
                await remote.execute(
                    f"CREATE TABLE public.{_ident(part)} ({column_sql}{check_sql}{key_sql}, "
                    f"CONSTRAINT {_ident(part + '_partition')} CHECK (partition_key = {p}))"
                )
                for (definition,) in indexes:
                    await remote.execute(
                        re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX IF NOT EXISTS ", definition)
                    )
        await self._install_remote_monitoring(remote)
        for statement in remote_monitoring_tables(server):
            await coord.execute(statement)
        staging = _ident(_copy_target_name(part))
        await coord.execute(
            f"CREATE FOREIGN TABLE IF NOT EXISTS {staging} ({column_sql}{check_sql}) SERVER {_ident(server)} "
            f"OPTIONS (schema_name 'public', table_name {_literal(part)})"
        )
        await coord.execute(
            f"CREATE OR REPLACE TRIGGER {CHECK_COLLECTION_TRIGGER} BEFORE INSERT OR UPDATE ON {staging} "
            f"FOR EACH ROW EXECUTE FUNCTION {CHECK_COLLECTION_TRIGGER}()"
        )
        await coord.execute(
            f"CREATE OR REPLACE TRIGGER {CAPTURE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {_ident(part)} "
            f"FOR EACH ROW EXECUTE FUNCTION {CAPTURE_TRIGGER}({p})"
        )

    async def _prepare_home(self, coord: Any, remote: Any, p: int, part: str) -> None:
        """The local table that will replace the foreign partition, with its keys and indexes, and the
        capture of writes routed to the foreign partition."""
        home = _home_name(part)
        if not await coord.fetchval("SELECT to_regclass($1) IS NOT NULL", home):
            keys = [(r[0], r[1], r[2]) for r in await coord.fetch(local_keys.STORED_KEYS)]
            indexes = await remote.fetch(_TABLE_INDEXES, f"public.{part}")
            async with coord.transaction():
                await coord.execute(
                    f"CREATE TABLE {_ident(home)} (LIKE chunks INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                    f"INCLUDING STORAGE INCLUDING COMPRESSION)"
                )
                await coord.execute(
                    f"ALTER TABLE {_ident(home)} ADD CONSTRAINT {_ident(part + '_partition')} "
                    f"CHECK (partition_key = {p})"
                )
                for statement in local_keys.add_keys_statements(part, keys, table=home):
                    await coord.execute(statement)
                for (definition,) in indexes:
                    await coord.execute(
                        re.sub(
                            r"^CREATE (UNIQUE )?INDEX (\S+) ON (ONLY )?\S+ ",
                            rf"CREATE \1INDEX IF NOT EXISTS \2 ON {_ident(home)} ",
                            definition,
                        )
                    )
        await coord.execute(
            f"CREATE OR REPLACE TRIGGER {CAPTURE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {_ident(part)} "
            f"FOR EACH ROW EXECUTE FUNCTION {CAPTURE_TRIGGER}({p})"
        )

    async def _bulk_copy(self, src: _Side, dst: _Side, columns: Sequence[str], report: Any) -> int:
        """Whole id ranges, one committed COPY each, from after the target's highest id."""
        copied = 0
        while True:
            last = await dst.max_id()
            after = "TRUE" if last is None else f"id > {int(last)}"
            high = await src.conn.fetchval(
                f"SELECT id FROM {src.table} WHERE {after} ORDER BY id OFFSET {BATCH_ROWS - 1} LIMIT 1"
            )
            if high is None:
                high = await src.conn.fetchval(f"SELECT max(id) FROM {src.table} WHERE {after}")
            if high is None:
                return copied
            data = await src.copy_out(f"{after} AND id <= {int(high)}")
            await dst.copy_in(data, columns)
            copied += await dst.conn.fetchval(f"SELECT count(*) FROM {dst.table} WHERE {after} AND id <= {int(high)}")
            await self._step("batch")
            report(copied)

    async def _replay(self, coord: Any, p: int, src: _Side, dst: _Side, columns: Sequence[str]) -> int:
        """Captured keys: deleted on the target, their current source rows copied there; then forgotten."""
        upto = await coord.fetchval(f"SELECT max(seq) FROM {MOVE_LOG_TABLE} WHERE partition_num = $1", p)
        if upto is None:
            return 0
        keys = await coord.fetch(
            f"SELECT DISTINCT id, collection_id FROM {MOVE_LOG_TABLE} WHERE partition_num = $1 AND seq <= $2", p, upto
        )
        ids = [k[0] for k in keys]
        collection_ids = [k[1] for k in keys]
        matching = "(t.id, t.collection_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))"
        data = await src.copy_out(matching, ids, collection_ids)
        async with dst.conn.transaction():
            await dst.conn.execute(f"DELETE FROM {dst.table} AS t WHERE {matching}", ids, collection_ids)
            await dst.copy_in(data, columns)
        await coord.execute(f"DELETE FROM {MOVE_LOG_TABLE} WHERE partition_num = $1 AND seq <= $2", p, upto)
        return len(keys)

    async def _swap(
        self, coord: Any, p: int, part: str, target: str, src: _Side, dst: _Side, columns: Sequence[str]
    ) -> tuple[int, int, str]:
        async with coord.transaction():
            await coord.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            for statement in _SAME_TEXT:
                await coord.execute(statement.replace("SET ", "SET LOCAL ", 1))
            await coord.execute("LOCK TABLE ONLY chunks IN ACCESS EXCLUSIVE MODE")
            replayed = await self._replay(coord, p, src, dst, columns)
            source_sum = tuple(await src.conn.fetchrow(_checksum_sql(src.table, columns)))
            target_sum = tuple(await dst.conn.fetchrow(_checksum_sql(dst.table, columns)))
            if source_sum != target_sum:
                raise PlacementError(
                    f"partition {p}: the copy differs from the source (rows {target_sum[0]} vs {source_sum[0]}, "
                    "checksums differ); nothing was swapped, run the move again"
                )
            await self._step("verified")
            await coord.execute(f"ALTER TABLE chunks DETACH PARTITION {_ident(part)}")
            if target == COORDINATOR:
                await coord.execute(f"DROP FOREIGN TABLE {_ident(part)}")
                await coord.execute(f"ALTER TABLE {_ident(_home_name(part))} RENAME TO {_ident(part)}")
            else:
                await coord.execute(f"ALTER TABLE {_ident(part)} RENAME TO {_ident(_moved_name(part))}")
                await coord.execute(f"DROP TRIGGER {CAPTURE_TRIGGER} ON {_ident(_moved_name(part))}")
                await coord.execute(f"ALTER FOREIGN TABLE {_ident(_copy_target_name(part))} RENAME TO {_ident(part)}")
                await coord.execute(
                    f"CREATE OR REPLACE TRIGGER {CASCADE_TRIGGER} AFTER DELETE ON collections "
                    f"FOR EACH ROW EXECUTE FUNCTION {CASCADE_TRIGGER}()"
                )
            await coord.execute(f"ALTER TABLE chunks ATTACH PARTITION {_ident(part)} FOR VALUES IN ({p})")
            await coord.execute(f"UPDATE {MOVES_TABLE} SET phase = 'swapped' WHERE partition_num = $1", p)
            await coord.execute(f"DELETE FROM {MOVE_LOG_TABLE} WHERE partition_num = $1", p)
        return replayed, int(source_sum[0]), str(source_sum[1])
