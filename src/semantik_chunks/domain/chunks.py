"""Validation of chunks before storage: one rule set for every adapter."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from semantik_chunks.domain.errors import DuplicateChunkError, InvalidChunkError
from semantik_chunks.domain.hashing import partition_for, postgres_text
from semantik_chunks.domain.model import Chunk

_INT4_MIN, _INT4_MAX = -(2**31), 2**31 - 1
_INT8_MAX = 2**63 - 1
ID_MAX = _INT8_MAX
IDS_EXHAUSTED = (
    f"no chunk id left: ids reached the bigint maximum {ID_MAX} (an explicit id took it); "
    "give the remaining chunks explicit ids"
)
# collection_id and document_id are btree-indexed; PostgreSQL refuses an index entry over about 2,704
# bytes (a third of a page). Ids are refused above this many UTF-8 bytes, with room to spare.
ID_MAX_BYTES = 2048
_ID_FAST_CHARS = ID_MAX_BYTES // 4  # at most 4 UTF-8 bytes a character: shorter ids are always within
# Metadata nested deeper than this is refused (json and jsonb recurse per level; 3,000 levels overflow).
METADATA_MAX_DEPTH = 64
# In JSON text, u0000 after an odd run of backslashes is an escaped NUL; after an even run, plain text.
_JSON_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _where(position: int, chunk: Chunk) -> str:
    return f"chunk #{position} (collection_id={chunk.collection_id!r}, chunk_index={chunk.chunk_index!r})"


def _id_too_long(value: str) -> str | None:
    """Why ``value`` is too long for an indexed id, or None."""
    if len(value) <= _ID_FAST_CHARS:
        return None
    size = len(value.encode("utf-8", "surrogatepass"))
    if size <= ID_MAX_BYTES:
        return None
    return f"is {size} bytes in UTF-8, over the {ID_MAX_BYTES}-byte limit for ids (PostgreSQL indexes it)"


def _check_text(
    position: int, chunk: Chunk, field: str, value: object, *, required: bool, indexed: bool = False
) -> None:
    if value is None:
        if required:
            raise InvalidChunkError(f"{_where(position, chunk)}: {field} is required")
        return
    if not isinstance(value, str):  # postgres_text also takes a UUID, but a Chunk's text fields are str
        raise InvalidChunkError(f"{_where(position, chunk)}: {field} must be a str, got {type(value).__name__}")
    try:
        postgres_text(value)
    except (TypeError, ValueError) as exc:
        raise InvalidChunkError(f"{_where(position, chunk)}: {field}: {exc}") from None
    if indexed and (too_long := _id_too_long(value)):
        raise InvalidChunkError(f"{_where(position, chunk)}: {field} {too_long}")


def _nested_too_deep(value: object, limit: int = METADATA_MAX_DEPTH) -> bool:
    """Whether JSON containers nest more than ``limit`` deep in ``value`` (iterative: no recursion limit)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        for child in children:
            if isinstance(child, dict | list | tuple):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def check_collection_id(collection_id: object, what: str = "collection id") -> None:
    """Refuse a collection id no adapter could store: not text, empty, NUL, lone surrogate, over ``ID_MAX_BYTES``."""
    if not isinstance(collection_id, str):
        raise InvalidChunkError(f"{what} must be a str, got {type(collection_id).__name__}")
    if collection_id == "":
        raise InvalidChunkError(f"{what} must not be empty")
    try:
        postgres_text(collection_id)
    except (TypeError, ValueError) as exc:
        raise InvalidChunkError(f"{what} {collection_id!r}: {exc}") from None
    if too_long := _id_too_long(collection_id):
        raise InvalidChunkError(f"{what} {collection_id[:40]!r}... {too_long}")


def storable_chunk_id(chunk_id: object) -> bool:
    """Whether ``chunk_id`` could be a stored id (an int in bigint's range); ``get`` of anything else is None."""
    return type(chunk_id) is int and -(2**63) <= chunk_id <= _INT8_MAX


def _check_int(position: int, chunk: Chunk, field: str, value: object, *, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidChunkError(f"{_where(position, chunk)}: {field} must be an int, got {value!r}")
    if not low <= value <= high:
        raise InvalidChunkError(f"{_where(position, chunk)}: {field}={value} is outside {low}..{high}")


def prepare_chunk(chunk: Chunk, position: int, partition_count: int, now: datetime) -> Chunk:
    """Check ``chunk`` against what PostgreSQL can store and fill ``partition_key`` and timestamps.

    Raises ``InvalidChunkError`` naming the chunk's position and the field at fault.
    """
    _check_text(position, chunk, "collection_id", chunk.collection_id, required=True, indexed=True)
    if chunk.collection_id == "":
        raise InvalidChunkError(f"{_where(position, chunk)}: collection_id must not be empty")
    _check_text(position, chunk, "content", chunk.content, required=True)
    _check_text(position, chunk, "document_id", chunk.document_id, required=False, indexed=True)
    _check_text(position, chunk, "embedding_vector_id", chunk.embedding_vector_id, required=False)
    if chunk.chunk_index is None:
        raise InvalidChunkError(f"{_where(position, chunk)}: chunk_index is required")
    for field in ("chunk_index", "chunking_config_id", "start_offset", "end_offset", "token_count"):
        _check_int(position, chunk, field, getattr(chunk, field), low=_INT4_MIN, high=_INT4_MAX)
    _check_int(position, chunk, "id", chunk.id, low=1, high=_INT8_MAX)
    for field in ("created_at", "updated_at"):
        stamp = getattr(chunk, field)
        if stamp is not None and (not isinstance(stamp, datetime) or stamp.tzinfo is None):
            raise InvalidChunkError(f"{_where(position, chunk)}: {field} must be a timezone-aware datetime")
    try:
        metadata = dict(chunk.metadata)
    except (TypeError, ValueError) as exc:
        raise InvalidChunkError(f"{_where(position, chunk)}: metadata is not a mapping: {exc}") from None
    if _nested_too_deep(metadata):
        raise InvalidChunkError(
            f"{_where(position, chunk)}: metadata nests deeper than {METADATA_MAX_DEPTH} levels (or refers to itself)"
        )
    try:
        encoded = json.dumps(metadata, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidChunkError(f"{_where(position, chunk)}: metadata is not JSON: {exc}") from None
    if _JSON_NUL_ESCAPE.search(encoded):
        raise InvalidChunkError(f"{_where(position, chunk)}: metadata: jsonb cannot contain a NUL character")
    try:
        encoded.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidChunkError(
            f"{_where(position, chunk)}: metadata: jsonb cannot contain a lone surrogate "
            f"({encoded[exc.start : exc.end]!r})"
        ) from None

    expected = partition_for(chunk.collection_id, partition_count)
    if chunk.partition_key is not None and chunk.partition_key != expected:
        raise InvalidChunkError(
            f"{_where(position, chunk)}: partition_key={chunk.partition_key} is wrong, "
            f"collection {chunk.collection_id!r} belongs in partition {expected} "
            "(leave partition_key unset to have it computed)"
        )
    created_at = chunk.created_at or now
    return attrs.evolve(
        chunk,
        partition_key=expected,
        created_at=created_at,
        updated_at=chunk.updated_at or created_at,
        # What jsonb gives back: string keys, lists for tuples; every adapter returns the same.
        metadata=json.loads(encoded),
    )


def _encodable(value: str) -> bool:
    """No lone surrogate (which UTF-8 cannot encode)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(value: str) -> bool:
    """What ``postgres_text`` accepts, without raising: no NUL, no lone surrogate."""
    return "\x00" not in value and (value.isascii() or _encodable(value))


# Chunk's fields in the order of its slots: the order ``_build_chunk`` takes them in.
_CHUNK_FIELDS = (
    "collection_id",
    "chunk_index",
    "content",
    "document_id",
    "chunking_config_id",
    "start_offset",
    "end_offset",
    "token_count",
    "embedding_vector_id",
    "metadata",
    "created_at",
    "updated_at",
    "partition_key",
    "id",
)


def _plain_chunk_class(cls: type[Any] = Chunk) -> bool:
    """Whether ``cls`` (``Chunk``) is still what ``_build_chunk`` assumes: slots in ``_CHUNK_FIELDS``
    order, and no converter, validator or ``on_setattr`` hook that setting a slot directly would skip."""
    fields = attrs.fields(cls)
    slots = tuple(name for name in getattr(cls, "__slots__", ()) if name != "__weakref__")
    return tuple(field.name for field in fields) == _CHUNK_FIELDS == slots and all(
        f.converter is None and f.validator is None and f.on_setattr is None and f.init for f in fields
    )


def _chunk_builder() -> Callable[..., Chunk]:
    """A constructor of ``Chunk`` from its fourteen values, positional, in ``_CHUNK_FIELDS`` order.

    attrs' ``__init__`` of a frozen class sets each field through ``object.__setattr__`` (a lookup by
    name per field); this sets the slots through their descriptors: the same object in half the time
    (0.52 us against 1.03 us a chunk, ``timeit`` best of three on the development VM, 2026-11-30), which
    is a sixth of ``add_many``'s Python work per row. Should ``Chunk`` gain a hook or change its slots,
    ``Chunk`` itself is called instead (``tests/unit/test_chunk_fast_path.py`` checks both ways build
    equal chunks, and that the fast one is in use)."""
    if not _plain_chunk_class():

        def construct(*values: Any) -> Chunk:
            return Chunk(**dict(zip(_CHUNK_FIELDS, values, strict=True)))

        return construct
    new = object.__new__
    (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13) = (
        Chunk.__dict__[name].__set__ for name in _CHUNK_FIELDS
    )

    def build(  # one argument per field, positional: the cheapest call
        v0: Any,
        v1: Any,
        v2: Any,
        v3: Any,
        v4: Any,
        v5: Any,
        v6: Any,
        v7: Any,
        v8: Any,
        v9: Any,
        v10: Any,
        v11: Any,
        v12: Any,
        v13: Any,
    ) -> Chunk:
        chunk: Chunk = new(Chunk)
        s0(chunk, v0)
        s1(chunk, v1)
        s2(chunk, v2)
        s3(chunk, v3)
        s4(chunk, v4)
        s5(chunk, v5)
        s6(chunk, v6)
        s7(chunk, v7)
        s8(chunk, v8)
        s9(chunk, v9)
        s10(chunk, v10)
        s11(chunk, v11)
        s12(chunk, v12)
        s13(chunk, v13)
        return chunk

    return build


_build_chunk = _chunk_builder()


def _prepare_usual(chunk: Chunk, partition_keys: dict[str, int], partition_count: int, now: datetime) -> Chunk | None:
    """``prepare_chunk`` for the usual chunk, with cheap exact-type checks; None for anything out of the
    ordinary, valid or not, which ``prepare_chunk`` then handles (and names what is wrong).

    ``partition_keys`` caches the partition of every collection id already checked in this batch.

    The checks are written out inline rather than calling helpers (``_storable``, an int4 check, a
    metadata check) per field: a Python call costs about as much as the check it makes, and this runs
    once per stored row. ``tests/unit/test_chunk_fast_path.py`` holds it equal to ``prepare_chunk``.
    """
    collection_id = chunk.collection_id
    if type(collection_id) is not str:
        return None
    partition_key = partition_keys.get(collection_id)
    if partition_key is None:
        if not collection_id or len(collection_id) > _ID_FAST_CHARS or not _storable(collection_id):
            return None
        partition_key = partition_keys[collection_id] = partition_for(collection_id, partition_count)
    given_key = chunk.partition_key
    if given_key is not None and given_key != partition_key:
        return None
    content = chunk.content
    if type(content) is not str or "\x00" in content or not (content.isascii() or _encodable(content)):
        return None
    document_id = chunk.document_id
    if document_id is not None and (
        type(document_id) is not str
        or len(document_id) > _ID_FAST_CHARS
        or "\x00" in document_id
        or not (document_id.isascii() or _encodable(document_id))
    ):
        return None
    vector_id = chunk.embedding_vector_id
    if vector_id is not None and (type(vector_id) is not str or not _storable(vector_id)):
        return None
    chunk_index = chunk.chunk_index
    if type(chunk_index) is not int or not _INT4_MIN <= chunk_index <= _INT4_MAX:
        return None
    config_id, start, end, tokens = chunk.chunking_config_id, chunk.start_offset, chunk.end_offset, chunk.token_count
    if not (
        (config_id is None or (type(config_id) is int and _INT4_MIN <= config_id <= _INT4_MAX))
        and (start is None or (type(start) is int and _INT4_MIN <= start <= _INT4_MAX))
        and (end is None or (type(end) is int and _INT4_MIN <= end <= _INT4_MAX))
        and (tokens is None or (type(tokens) is int and _INT4_MIN <= tokens <= _INT4_MAX))
    ):
        return None
    chunk_id = chunk.id
    if chunk_id is not None and not (type(chunk_id) is int and 1 <= chunk_id <= _INT8_MAX):
        return None
    created_at, updated_at = chunk.created_at, chunk.updated_at
    if created_at is None:
        created_at = now
    elif type(created_at) is not datetime or created_at.tzinfo is None:
        return None
    if updated_at is None:
        updated_at = created_at
    elif type(updated_at) is not datetime or updated_at.tzinfo is None:
        return None
    metadata = chunk.metadata
    if type(metadata) is not dict:
        return None
    # What jsonb gives back for a flat dict of string keys and scalar values is a copy of it; any
    # other shape takes the careful path (which round-trips it through JSON).
    for key, value in metadata.items():
        if type(key) is not str or "\x00" in key or not (key.isascii() or _encodable(key)):
            return None
        kind = type(value)
        if kind is str:
            if "\x00" in value or not (value.isascii() or _encodable(value)):
                return None
        elif kind is int:
            if not -_INT8_MAX <= value <= _INT8_MAX:  # huge ints can exceed int-to-str's digit limit
                return None
        elif kind is float:
            if value - value != 0.0:  # NaN or infinite: not JSON
                return None
        elif value is not None and kind is not bool:
            return None
    return _build_chunk(
        collection_id,
        chunk_index,
        content,
        document_id,
        config_id,
        start,
        end,
        tokens,
        vector_id,
        dict(metadata),
        created_at,
        updated_at,
        partition_key,
        chunk_id,
    )


def prepare_chunks(
    chunks: Iterable[Chunk], partition_count: int, now: datetime, *, first_position: int = 0
) -> list[Chunk]:
    """``prepare_chunk`` on every chunk, a fraction of its cost for the usual ones. Errors count
    positions from ``first_position``, so that a slice of a batch names a chunk by its place in the batch."""
    partition_keys: dict[str, int] = {}
    prepared = []
    for position, chunk in enumerate(chunks, first_position):
        ready = _prepare_usual(chunk, partition_keys, partition_count, now)
        prepared.append(ready if ready is not None else prepare_chunk(chunk, position, partition_count, now))
    return prepared


def prepare_batch(chunks: Iterable[Chunk], partition_count: int, now: datetime) -> list[Chunk]:
    """Validate a whole batch before anything is written, so a bad chunk writes nothing."""
    prepared = prepare_chunks(chunks, partition_count, now)
    check_unique_ids(prepared)
    return prepared


def check_unique_ids(chunks: Sequence[Chunk]) -> None:
    seen: set[tuple[int, str]] = set()
    for chunk in chunks:
        if chunk.id is None:
            continue
        key = (chunk.id, chunk.collection_id)
        if key in seen:
            raise DuplicateChunkError(
                f"chunk id {chunk.id} of collection {chunk.collection_id!r} appears twice in the batch"
            )
        seen.add(key)


# -- paged reads ------------------------------------------------------------------------------------

DEFAULT_BATCH_SIZE = 1000


def check_batch_size(batch_size: int) -> int:
    """The rows of one page of ``iter_collection`` / ``iter_document``: a positive int."""
    if type(batch_size) is not int or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def reading_order(chunk: Chunk) -> tuple[bool, str, int, int]:
    """A collection's reading order, (document_id, chunk_index, id) with chunks without a document last:
    what ``ORDER BY document_id COLLATE "C" NULLS LAST, chunk_index, id`` gives (Python compares strings
    by code point, as the "C" collation compares UTF-8 bytes)."""
    return (chunk.document_id is None, chunk.document_id or "", chunk.chunk_index, chunk.id or 0)
