"""Validation of chunks before storage: one rule set for every adapter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

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
# In JSON text, u0000 after an odd run of backslashes is an escaped NUL; after an even run, plain text.
_JSON_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _where(position: int, chunk: Chunk) -> str:
    return f"chunk #{position} (collection_id={chunk.collection_id!r}, chunk_index={chunk.chunk_index!r})"


def _check_text(position: int, chunk: Chunk, field: str, value: object, *, required: bool) -> None:
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
    _check_text(position, chunk, "collection_id", chunk.collection_id, required=True)
    if chunk.collection_id == "":
        raise InvalidChunkError(f"{_where(position, chunk)}: collection_id must not be empty")
    _check_text(position, chunk, "content", chunk.content, required=True)
    _check_text(position, chunk, "document_id", chunk.document_id, required=False)
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
        encoded = json.dumps(dict(chunk.metadata), allow_nan=False, ensure_ascii=False)
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


def prepare_batch(chunks: Iterable[Chunk], partition_count: int, now: datetime) -> list[Chunk]:
    """Validate a whole batch before anything is written, so a bad chunk writes nothing."""
    prepared = [prepare_chunk(chunk, i, partition_count, now) for i, chunk in enumerate(chunks)]
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
