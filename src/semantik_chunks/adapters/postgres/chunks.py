"""PostgreSQL chunk and collection repositories: COPY ingest, partition-pruned reads.

Every statement about a collection carries ``partition_key = get_partition_key(:collection_id)``
(the server's routing function, an inlined immutable SQL function) next to ``collection_id``, so
PostgreSQL prunes to one partition at plan time (or at executor start for a generic plan), and reads
stay right across an online reshape (docs/reshape.md) whatever count the process started with. The statements are
module constants so that tests can EXPLAIN exactly what runs here.

``get`` without a collection cannot name a partition: it probes the primary-key index of
every partition. Give the collection whenever it is known.

A repository works over an ``AsyncEngine`` (each call its own connection and transaction) or over one
``AsyncConnection`` (a unit of work's, or a host's: every call runs in that connection's transaction,
and a write that fails rolls back to a savepoint of its own, so the caller's transaction stays usable).
The paged reads (``iter_collection``, ``iter_document``) hold one batch at a time: keyset pagination on
``(document_id, chunk_index, id)``, each page pruned to the collection's partition.
"""

from __future__ import annotations

import asyncio
import json
import json.encoder
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from itertools import chain
from operator import attrgetter
from typing import Any

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.adapters.postgres.maintenance import flush_statistics_async
from semantik_chunks.adapters.postgres.schema import CHUNK_COLUMNS
from semantik_chunks.domain.chunks import (
    DEFAULT_BATCH_SIZE,
    ID_MAX,
    IDS_EXHAUSTED,
    check_batch_size,
    check_collection_id,
    check_unique_ids,
    prepare_chunks,
    storable_chunk_id,
)
from semantik_chunks.domain.clock import Clock, utc_now
from semantik_chunks.domain.errors import (
    ConfigurationError,
    DuplicateChunkError,
    IdsExhaustedError,
    InvalidChunkError,
)
from semantik_chunks.domain.hashing import postgres_text, validate_partition_count
from semantik_chunks.domain.model import Chunk

logger = logging.getLogger(__name__)


class _KeyRefused(Exception):
    """The database refused a partition key of the batch (nothing of it was stored)."""

    def __init__(self, error: asyncpg.CheckViolationError) -> None:
        super().__init__(error.message)
        self.error = error


_COLUMNS = ", ".join(CHUNK_COLUMNS)
_COPY_COLUMNS = list(CHUNK_COLUMNS)  # the order of _records' tuples (created_at and updated_at last)
_COPY_COLUMNS_UNSTAMPED = _COPY_COLUMNS[:-2]  # the server's DEFAULT now() fills in the last two
_ONE_COLLECTION = "partition_key = get_partition_key(CAST(:collection_id AS text)) AND collection_id = :collection_id"
# Byte order (= code point order for UTF-8), like Python's str ordering, whatever the database's collation.
_BY_DOCUMENT = 'document_id COLLATE "C" NULLS LAST, chunk_index, id'

LIST_BY_COLLECTION = text(f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} ORDER BY {_BY_DOCUMENT}")
LIST_BY_DOCUMENT = text(
    f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND document_id = :document_id ORDER BY chunk_index, id"
)
GET_IN_COLLECTION = text(f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND id = :id")
# Without the collection every partition is searched; the same id may exist in two collections.
GET_ANYWHERE = text(f'SELECT {_COLUMNS} FROM chunks WHERE id = :id ORDER BY collection_id COLLATE "C" LIMIT 1')
COUNT_COLLECTION = text(f"SELECT count(*) FROM chunks WHERE {_ONE_COLLECTION}")
COUNT_ALL = text("SELECT count(*) FROM chunks")
DELETE_COLLECTION = text(f"DELETE FROM chunks WHERE {_ONE_COLLECTION}")
DELETE_DOCUMENT = text(f"DELETE FROM chunks WHERE {_ONE_COLLECTION} AND document_id = :document_id")

# All ids of a batch in one round trip, as one array; the sequence is looked up once, not per id.
TAKE_IDS = text(
    "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('chunks', 'id')::regclass AS seq) "
    "SELECT array_agg(nextval(s.seq)) FROM s, generate_series(1, :n)"
)
# The same, and the transaction's now() with whether the table's created_at and updated_at both
# default to it (true on the library's schema; a host's may say otherwise): if they do, a batch
# stamped with that moment can leave both columns out of the COPY and the server fills them in.
# One round trip and one lookup of pg_attrdef per batch, so a changed default is seen at once.
TAKE_IDS_AND_NOW = text(
    "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('chunks', 'id')::regclass AS seq) "
    "SELECT array_agg(nextval(s.seq)), now(), "
    "(SELECT count(*) = 2 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
    "WHERE d.adrelid = 'chunks'::regclass AND a.attname IN ('created_at', 'updated_at') "
    "AND pg_get_expr(d.adbin, d.adrelid) IN ('now()', 'CURRENT_TIMESTAMP', 'transaction_timestamp()')) "
    "FROM s, generate_series(1, :n)"
)
# After explicit ids, later generated ids must not collide with them. Sequences are not
# transactional, so a concurrent writer's nextval between the check and setval can be rewound;
# callers that mix explicit and generated ids from several sessions should not rely on it.
ADVANCE_IDS_PAST = text(
    "SELECT setval(s.seq, :used) FROM (SELECT pg_get_serial_sequence('chunks', 'id')::regclass AS seq) AS s "
    "WHERE :used > coalesce(pg_sequence_last_value(s.seq), 0)"
)
# After a failed COPY (error path only): which collections are missing, which keys are taken.
MISSING_COLLECTIONS = text(
    "SELECT c FROM unnest(CAST(:collection_ids AS text[])) AS c "
    "WHERE NOT EXISTS (SELECT 1 FROM collections WHERE id = c)"
)
STORED_KEYS = text(
    "SELECT k.id, k.collection_id FROM unnest(CAST(:ids AS bigint[]), CAST(:collection_ids AS text[]), "
    "CAST(:partition_keys AS integer[])) AS k(id, collection_id, partition_key) "
    "WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.partition_key = k.partition_key "
    "AND c.collection_id = k.collection_id AND c.id = k.id)"
)

# Keyset pages: first the chunks with a document, in (document_id, chunk_index, id) order, then those
# without one (NULLS LAST), in (chunk_index, id) order. Each page starts after the last row of the one
# before, so a page costs the same wherever it is, and rows written or deleted meanwhile never shift one.
_WITH_DOCUMENT_ORDER = f"ORDER BY {_BY_DOCUMENT} LIMIT :limit"
_IN_DOCUMENT_ORDER = "ORDER BY chunk_index, id LIMIT :limit"
_AFTER_IN_DOCUMENT = "(chunk_index, id) > (:after_chunk_index, :after_id)"
PAGE_WITH_DOCUMENT_FIRST = text(
    f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND document_id IS NOT NULL {_WITH_DOCUMENT_ORDER}"
)
PAGE_WITH_DOCUMENT_AFTER = text(
    f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND document_id IS NOT NULL "
    'AND (document_id COLLATE "C", chunk_index, id) > '
    '(CAST(:after_document_id AS varchar) COLLATE "C", :after_chunk_index, :after_id) '
    f"{_WITH_DOCUMENT_ORDER}"
)
PAGE_WITHOUT_DOCUMENT_FIRST = text(
    f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND document_id IS NULL {_IN_DOCUMENT_ORDER}"
)
PAGE_WITHOUT_DOCUMENT_AFTER = text(
    f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND document_id IS NULL AND {_AFTER_IN_DOCUMENT} "
    f"{_IN_DOCUMENT_ORDER}"
)
PAGE_DOCUMENT_FIRST = text(
    f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND document_id = :document_id {_IN_DOCUMENT_ORDER}"
)
PAGE_DOCUMENT_AFTER = text(
    f"SELECT {_COLUMNS} FROM chunks WHERE {_ONE_COLLECTION} AND document_id = :document_id "
    f"AND {_AFTER_IN_DOCUMENT} {_IN_DOCUMENT_ORDER}"
)

DATABASE_PARTITION_COUNT = text("SELECT chunk_partition_count()")

ADD_COLLECTION = text("INSERT INTO collections (id, name) VALUES (:id, :name) ON CONFLICT (id) DO NOTHING")
COLLECTION_EXISTS = text("SELECT EXISTS (SELECT 1 FROM collections WHERE id = :id)")


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:  # a row written by plain SQL may have NULL metadata
        return {}
    # SQLAlchemy's asyncpg dialect decodes jsonb already; a host's engine may hand back text.
    return json.loads(value) if isinstance(value, str | bytes) else dict(value)


def row_to_chunk(row: Sequence[Any]) -> Chunk:
    values = dict(zip(CHUNK_COLUMNS, row, strict=True))
    values["metadata"] = _metadata(values["metadata"])
    return Chunk(**values)


def _metadata_encoder() -> Callable[[Any, int], Iterable[str]]:
    """The pieces of ``json.dumps(value, ensure_ascii=False)`` (``encode(value, 0)``, to be joined) for
    metadata that ``prepare_batch`` has checked.

    ``json.dumps`` builds its C encoder anew on every call, which is most of its cost on a small
    object (1.3 of 1.8 us); this builds CPython's (``json.encoder.c_make_encoder``, not public API)
    once. No cycle check: checked metadata has none.

    Kept because the benchmark shows it: ``.venv/bin/python benchmarks/bench_ingest.py --rows 200000
    --sample 20000``, ``add_many (all)`` client CPU per row, two alternating runs each (2026-11-30):
    5.6-5.7 us with this encoder, 6.4-6.6 us with the public ``json.JSONEncoder(ensure_ascii=False).encode``,
    7.2 us with ``json.dumps`` per chunk (+0.8 and +1.5 us a row, 14 % and 26 %).
    """
    make_encoder = getattr(json.encoder, "c_make_encoder", None)  # None where CPython's _json is missing
    if make_encoder is None:
        encoder = json.JSONEncoder(ensure_ascii=False)
        return lambda value, _level: (encoder.encode(value),)
    encode: Callable[[Any, int], Iterable[str]] = make_encoder(
        None, None, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    return encode


# ``"".join(_encode_metadata(value, 0))`` is ``json.dumps(value, ensure_ascii=False)``.
_encode_metadata = _metadata_encoder()
_CREATED_AT, _UPDATED_AT = attrgetter("created_at"), attrgetter("updated_at")
_PREPARE_SLICE = 500


def _give_id(chunk: Chunk, chunk_id: int) -> None:
    """Set the id of a chunk ``prepare_batch`` has just built, in place (bypassing ``frozen``): nothing
    else holds it before ``add_many`` returns it.

    Kept because the benchmark shows it: ``.venv/bin/python benchmarks/bench_ingest.py --rows 200000
    --sample 20000``, ``add_many (all)`` client CPU per row, two alternating runs each (2026-11-30):
    5.6-5.7 us in place, 7.7-7.8 us with ``attrs.evolve(chunk, id=...)`` for every generated id
    (+2.1 us a row, 37 %)."""
    object.__setattr__(chunk, "id", chunk_id)


def _records(part: Sequence[Chunk], ids: Iterator[int], *, stamped: bool = True) -> list[tuple[Any, ...]]:
    """COPY rows in ``CHUNK_COLUMNS`` order for prepared chunks, giving each chunk without an id the next of
    ``ids``; jsonb goes as JSON text (SQLAlchemy's asyncpg codec adds the binary jsonb version byte).
    Without ``stamped``, the rows end before ``created_at`` and ``updated_at`` (``_COPY_COLUMNS_UNSTAMPED``).

    One loop with the tuple written out: a call per row (a ``_record(chunk)`` function) or
    ``operator.attrgetter`` over the columns cost more than the tuple itself (0.85 and 0.97 us a row
    against 0.79 us with the JSON, ``process_time`` over 200,000 benchmark chunks, 2026-11-30)."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    join, encode = "".join, _encode_metadata
    for chunk in part:
        if chunk.id is None:
            _give_id(chunk, next(ids))
        metadata = chunk.metadata
        row = (
            chunk.id,
            chunk.collection_id,
            chunk.partition_key,
            chunk.document_id,
            chunk.chunking_config_id,
            chunk.chunk_index,
            chunk.content,
            chunk.start_offset,
            chunk.end_offset,
            chunk.token_count,
            chunk.embedding_vector_id,
            join(encode(metadata, 0)) if metadata else "{}",
        )
        append((*row, chunk.created_at, chunk.updated_at) if stamped else row)
    return rows


async def _driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn``. COPY there is one statement, atomic on its own; the
    sequence calls before it are never transactional, so the batch is atomic in autocommit mode too."""
    return (await conn.get_raw_connection()).driver_connection


async def _take_ids(conn: AsyncConnection, wanted: int) -> list[int]:
    return (await _take_ids_and_now(conn, wanted, TAKE_IDS))[0]


async def _take_ids_and_now(
    conn: AsyncConnection, wanted: int, statement: TextClause = TAKE_IDS_AND_NOW
) -> tuple[list[int], datetime | None, bool]:
    """``wanted`` new ids, ascending; with ``TAKE_IDS_AND_NOW`` also the transaction's ``now()`` and whether
    both timestamp columns default to it (``None, False`` with ``TAKE_IDS``)."""
    try:
        row = (await conn.execute(statement, {"n": wanted})).one()
    except DBAPIError as exc:
        if isinstance(exc.orig and exc.orig.__cause__, asyncpg.SequenceGeneratorLimitExceededError):
            raise IdsExhaustedError(IDS_EXHAUSTED) from None
        raise
    ids = sorted(row[0] or ())
    return (ids, row[1], bool(row[2])) if len(row) == 3 else (ids, None, False)


Bind = AsyncEngine | AsyncConnection


class _Connections:
    """Where a repository's statements run: a connection of ``bind`` per call (an engine), or ``bind``
    itself (a connection whose transaction belongs to a unit of work or to the host)."""

    def __init__(self, bind: Bind) -> None:
        self.bind = bind

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        if isinstance(self.bind, AsyncConnection):
            yield self.bind
            return
        async with self.bind.connect() as conn:
            yield conn

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A transaction of its own on an engine; on a given connection, a savepoint in its transaction
        (opening one if there is none), so that a write that fails undoes only itself."""
        if isinstance(self.bind, AsyncConnection):
            async with self.bind.begin_nested():
                yield self.bind
            return
        async with self.bind.begin() as conn:
            yield conn


def _check_asyncpg(bind: Bind, who: str) -> None:
    if bind.dialect.driver != "asyncpg":  # COPY goes through asyncpg's copy_records_to_table
        raise ConfigurationError(
            f"{who} needs an asyncpg engine (postgresql+asyncpg://), got driver {bind.dialect.driver!r}"
        )


class PostgresChunkRepository:
    """The ``chunks`` table over ``bind``: an asyncpg ``AsyncEngine`` (the container's, or a host's; each
    call its own transaction), or an ``AsyncConnection`` whose transaction the calls join (a unit of work)."""

    def __init__(self, bind: Bind, partition_count: int = 100, *, clock: Clock = utc_now) -> None:
        _check_asyncpg(bind, "PostgresChunkRepository")
        self._db = _Connections(bind)
        self._partition_count = validate_partition_count(partition_count)
        self._clock = clock
        # On an engine each add_many is a transaction of its own, begun just before its COPY: its now()
        # is the moment of the call, as the default clock would give it, read from the database's clock.
        # On a given connection the transaction may be older (now() is when it began), and a clock given
        # by the caller must be followed: both stamp each row from the clock, as before.
        self._server_stamps = isinstance(bind, AsyncEngine) and clock is utc_now

    @property
    def partition_count(self) -> int:
        return self._partition_count

    def _where(self, collection_id: str) -> dict[str, Any]:
        return {"collection_id": collection_id}

    async def _prepare(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        """``prepare_batch``, a slice at a time with a turn of the event loop in between. A socket holds
        only milliseconds of the server's COPY work, and preparing 10,000 chunks takes about 40 ms: in
        one go, that would leave the server of another batch in flight without rows to store."""
        now = self._clock()
        prepared: list[Chunk] = []
        for start in range(0, len(chunks), _PREPARE_SLICE):
            if start:
                await asyncio.sleep(0)
            part = chunks[start : start + _PREPARE_SLICE]
            prepared += prepare_chunks(part, self._partition_count, now, first_position=start)
        check_unique_ids(prepared)
        return prepared

    async def add_many(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        try:
            return await self._store(chunks)
        except _KeyRefused as refused:
            # The CHECK (or "no partition for row") refused a key computed here: the table may have been
            # reshaped since this process started (docs/reshape.md). Learn the database's count and retry
            # the batch once.
            if not await self._learn_partition_count():
                await self._explain_wrong_partition(refused.error)
        try:
            return await self._store(chunks)
        except _KeyRefused as again:
            await self._explain_wrong_partition(again.error)
            raise  # unreachable: the explanation raises

    async def _learn_partition_count(self) -> bool:
        """Adopt the database's partition count; True if it differed from the one in use."""
        try:
            async with self._db.writing() as conn:  # a savepoint on a given connection: it may fail
                database_count = int((await conn.execute(DATABASE_PARTITION_COUNT)).scalar_one())
        except DBAPIError:
            return False
        if database_count == self._partition_count:
            return False
        logger.info("chunks has %d partitions now (was %d): keys follow", database_count, self._partition_count)
        self._partition_count = validate_partition_count(database_count)
        return True

    async def _store(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        """Validation streams with the COPY: each slice of ``_PREPARE_SLICE`` chunks is checked and built
        while the server stores the slices before it, so that Python's work overlaps with the server's
        instead of preceding it. A chunk found invalid part-way aborts the COPY (nothing is stored, as
        before), and an error of the database's is explained only once the whole batch has passed the
        checks, so that the error raised is the one the in-memory adapter raises."""
        if not chunks:
            return []
        explicit = [c.id for c in chunks if c.id is not None]
        if not all(type(i) is int and 1 <= i <= ID_MAX for i in explicit):
            await self._prepare(chunks)  # raises, naming the chunk whose id is wrong
        now = self._clock()
        # A batch none of whose chunks brings a timestamp can be stamped by the server (see __init__):
        # asyncpg's timestamptz encoding is about 1.1 us of its 1.8 us a row (both columns).
        server_stamps = self._server_stamps and not (any(map(_CREATED_AT, chunks)) or any(map(_UPDATED_AT, chunks)))
        stamped = True
        prepared: list[Chunk] = []
        seen: set[tuple[int, str]] = set()

        def prepare_slice(start: int) -> list[Chunk]:
            end = start + _PREPARE_SLICE
            part = prepare_chunks(chunks[start:end], self._partition_count, now, first_position=start)
            for chunk in part:
                if chunk.id is None:
                    continue
                key = (chunk.id, chunk.collection_id)
                if key in seen:
                    # An invalid chunk further on is the error to raise, as prepare_batch would.
                    prepare_chunks(chunks[end:], self._partition_count, now, first_position=end)
                    check_unique_ids([*prepared, *part])
                seen.add(key)
            return part

        def slices(ids: Iterator[int]) -> Iterator[list[tuple[Any, ...]]]:
            # Checked and built while COPY streams, so that this work overlaps with the server's. asyncpg
            # takes the rows through itertools.chain: no Python frame is resumed per row.
            for start in range(0, len(chunks), _PREPARE_SLICE):
                part = prepare_slice(start)
                rows = _records(part, ids, stamped=stamped)
                prepared.extend(part)
                yield rows

        def check_the_rest() -> None:
            """After the database refused a row: the chunks COPY had not reached yet are checked too."""
            for start in range(len(prepared), len(chunks), _PREPARE_SLICE):
                prepared.extend(prepare_slice(start))

        async with database_errors():
            try:
                async with self._db.writing() as conn:
                    # First, so that the ids taken below step over the batch's explicit ones.
                    if explicit:
                        await conn.execute(ADVANCE_IDS_PAST, {"used": max(explicit)})
                    wanted = len(chunks) - len(explicit)
                    driver = await _driver_connection(conn)
                    if server_stamps:
                        taken, server_now, defaults_to_now = await _take_ids_and_now(conn, wanted)
                        # In autocommit mode (a host's engine may be) the COPY is a transaction of its
                        # own, whose now() is not the one just read: then the clock stamps.
                        if defaults_to_now and server_now is not None and driver.is_in_transaction():
                            now, stamped = server_now, False  # what DEFAULT now() stores, to the microsecond
                    else:
                        taken = await _take_ids(conn, wanted) if wanted else []
                    ids = iter(taken)
                    await driver.copy_records_to_table(
                        "chunks",
                        records=chain.from_iterable(slices(ids)),
                        columns=_COPY_COLUMNS if stamped else _COPY_COLUMNS_UNSTAMPED,
                    )
                    # The batch's row counts reach the shared statistics at commit, not up to ~10 s later:
                    # an ANALYZE after the load then counts each row once (adapters/postgres/maintenance.py).
                    await flush_statistics_async(conn)
            except (asyncpg.UniqueViolationError, asyncpg.ForeignKeyViolationError) as exc:
                check_the_rest()
                await self._explain_rejection(prepared, exc)
            except asyncpg.CheckViolationError as exc:
                check_the_rest()
                raise _KeyRefused(exc) from None
        return prepared

    async def _explain_wrong_partition(self, exc: asyncpg.CheckViolationError) -> None:
        """prepare_batch computed every key, so a key the database refuses means its partition count differs."""
        try:
            async with self._db.writing() as conn:  # a savepoint on a given connection: it may fail
                database_count = (await conn.execute(DATABASE_PARTITION_COUNT)).scalar_one()
        except DBAPIError:  # a host's schema without the helper: say what we know
            database_count = None
        cause = (
            f"the database has {database_count} partitions: set CHUNK_PARTITION_COUNT={database_count}"
            if database_count is not None and database_count != self._partition_count
            else "check that the database was migrated with the same CHUNK_PARTITION_COUNT"
        )
        raise InvalidChunkError(
            f"the database rejected a partition key ({exc.message}); keys were computed for "
            f"{self._partition_count} partitions, {cause}"
        ) from None

    async def _explain_rejection(self, stored: Sequence[Chunk], exc: asyncpg.PostgresError) -> None:
        """Name the chunk at fault, in the same words as the in-memory adapter; always raises. Chunks COPY
        had not reached yet have no id. On a given connection the batch's savepoint is rolled back
        already, and the collections its transaction registered count as there."""
        async with self._db.reading() as conn:
            missing = set(
                (
                    await conn.execute(
                        MISSING_COLLECTIONS, {"collection_ids": sorted({c.collection_id for c in stored})}
                    )
                ).scalars()
            )
            taken = {
                (row.id, row.collection_id)
                for row in await conn.execute(
                    STORED_KEYS,
                    {
                        "ids": [c.id for c in stored],
                        "collection_ids": [c.collection_id for c in stored],
                        "partition_keys": [c.partition_key for c in stored],
                    },
                )
            }
        for position, chunk in enumerate(stored):
            if chunk.collection_id in missing:
                raise InvalidChunkError(
                    f"chunk #{position}: collection {chunk.collection_id!r} does not exist in collections"
                ) from None
            if (chunk.id, chunk.collection_id) in taken:
                raise DuplicateChunkError(
                    f"chunk #{position}: chunk id {chunk.id} of collection {chunk.collection_id!r} is already stored"
                ) from None
        # The conflicting row is gone again (a concurrent delete) or another constraint was hit.
        error = DuplicateChunkError if isinstance(exc, asyncpg.UniqueViolationError) else InvalidChunkError
        raise error(f"the database rejected the batch: {exc.message} ({exc.detail})") from None

    async def _rows(self, statement: TextClause, parameters: dict[str, Any]) -> list[Chunk]:
        async with database_errors(), self._db.reading() as conn:
            return [row_to_chunk(row) for row in await conn.execute(statement, parameters)]

    async def _scalar(self, statement: TextClause, parameters: dict[str, Any]) -> Any:
        async with database_errors(), self._db.reading() as conn:
            return (await conn.execute(statement, parameters)).scalar_one()

    async def _delete(self, statement: TextClause, parameters: dict[str, Any]) -> int:
        async with database_errors(), self._db.writing() as conn:
            return (await conn.execute(statement, parameters)).rowcount

    async def get(self, chunk_id: int, *, collection_id: str | None = None) -> Chunk | None:
        if not storable_chunk_id(chunk_id):
            return None  # not an int in bigint's range: no row can have it (as in memory)
        if collection_id is None:
            found = await self._rows(GET_ANYWHERE, {"id": chunk_id})
        else:
            found = await self._rows(GET_IN_COLLECTION, {**self._where(collection_id), "id": chunk_id})
        return found[0] if found else None

    async def list_by_collection(self, collection_id: str) -> list[Chunk]:
        return await self._rows(LIST_BY_COLLECTION, self._where(collection_id))

    async def list_by_document(self, collection_id: str, document_id: str) -> list[Chunk]:
        return await self._rows(LIST_BY_DOCUMENT, {**self._where(collection_id), "document_id": document_id})

    async def _pages(
        self, first: TextClause, after: TextClause, parameters: dict[str, Any], batch_size: int
    ) -> AsyncIterator[Chunk]:
        """Keyset pages of ``batch_size`` rows: ``first``, then ``after`` the last row of each page."""
        page = await self._rows(first, {**parameters, "limit": batch_size})
        while page:
            for chunk in page:
                yield chunk
            if len(page) < batch_size:
                return
            last = page[-1]
            cursor = {"after_document_id": last.document_id, "after_chunk_index": last.chunk_index, "after_id": last.id}
            page = await self._rows(after, {**parameters, **cursor, "limit": batch_size})

    async def iter_collection(
        self, collection_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[Chunk]:
        where = self._where(collection_id)
        size = check_batch_size(batch_size)
        async for chunk in self._pages(PAGE_WITH_DOCUMENT_FIRST, PAGE_WITH_DOCUMENT_AFTER, where, size):
            yield chunk
        async for chunk in self._pages(PAGE_WITHOUT_DOCUMENT_FIRST, PAGE_WITHOUT_DOCUMENT_AFTER, where, size):
            yield chunk

    async def iter_document(
        self, collection_id: str, document_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[Chunk]:
        where = {**self._where(collection_id), "document_id": document_id}
        async for chunk in self._pages(PAGE_DOCUMENT_FIRST, PAGE_DOCUMENT_AFTER, where, check_batch_size(batch_size)):
            yield chunk

    async def delete_collection(self, collection_id: str) -> int:
        return await self._delete(DELETE_COLLECTION, self._where(collection_id))

    async def delete_document(self, collection_id: str, document_id: str) -> int:
        return await self._delete(DELETE_DOCUMENT, {**self._where(collection_id), "document_id": document_id})

    async def count(self, collection_id: str | None = None) -> int:
        if collection_id is None:
            return int(await self._scalar(COUNT_ALL, {}))
        return int(await self._scalar(COUNT_COLLECTION, self._where(collection_id)))


def _check_storable(what: str, value: str) -> None:
    try:
        postgres_text(value)
    except (TypeError, ValueError) as exc:
        raise InvalidChunkError(f"{what} {value!r}: {exc}") from None


class PostgresCollectionRepository:
    """Rows of ``collections``: the library's minimal table standalone. A host's own table may require
    columns this does not fill; a host registers its collections itself."""

    def __init__(self, bind: Bind) -> None:
        self._db = _Connections(bind)

    async def add(self, collection_id: str, name: str | None = None) -> None:
        check_collection_id(collection_id)
        if name is not None:
            _check_storable("collection name", name)
        async with database_errors(), self._db.writing() as conn:
            await conn.execute(ADD_COLLECTION, {"id": collection_id, "name": name})

    async def exists(self, collection_id: str) -> bool:
        try:
            postgres_text(collection_id)
        except (TypeError, ValueError):
            return False  # PostgreSQL could never have stored it
        async with database_errors(), self._db.reading() as conn:
            return bool((await conn.execute(COLLECTION_EXISTS, {"id": collection_id})).scalar_one())
