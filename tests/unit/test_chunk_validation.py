"""prepare_chunk / prepare_batch: one rule set, what PostgreSQL can store, errors naming the chunk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from semantik_chunks import partition_for
from semantik_chunks.domain.chunks import check_unique_ids, prepare_batch, prepare_chunk
from semantik_chunks.domain.errors import ChunksError, DuplicateChunkError, InvalidChunkError
from semantik_chunks.domain.model import Chunk

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CID = "550e8400-e29b-41d4-a716-446655440000"


def chunk(**overrides: Any) -> Chunk:
    fields: dict[str, Any] = {"collection_id": CID, "chunk_index": 0, "content": "hello"}
    fields.update(overrides)
    return Chunk(**fields)


def test_errors_are_value_errors_of_the_library() -> None:
    assert issubclass(InvalidChunkError, ValueError)
    assert issubclass(InvalidChunkError, ChunksError)
    assert issubclass(DuplicateChunkError, ChunksError)


def test_partition_key_and_timestamps_are_filled() -> None:
    prepared = prepare_chunk(chunk(), 0, 100, NOW)
    assert prepared.partition_key == partition_for(CID) == 5
    assert prepared.created_at == NOW
    assert prepared.updated_at == NOW
    assert prepared.id is None
    assert attrs.evolve(prepared, partition_key=None, created_at=None, updated_at=None) == chunk()


def test_given_timestamps_are_kept() -> None:
    created = NOW - timedelta(days=1)
    prepared = prepare_chunk(chunk(created_at=created), 0, 100, NOW)
    assert prepared.created_at == prepared.updated_at == created
    updated = NOW - timedelta(hours=1)
    prepared = prepare_chunk(chunk(created_at=created, updated_at=updated), 0, 100, NOW)
    assert (prepared.created_at, prepared.updated_at) == (created, updated)


def test_the_partition_count_decides_the_partition() -> None:
    assert prepare_chunk(chunk(), 0, 7, NOW).partition_key == partition_for(CID, 7)
    assert prepare_chunk(chunk(), 0, 1, NOW).partition_key == 0


def test_a_right_partition_key_is_accepted() -> None:
    assert prepare_chunk(chunk(partition_key=5), 0, 100, NOW).partition_key == 5


def test_a_wrong_partition_key_is_rejected_naming_the_chunk() -> None:
    with pytest.raises(InvalidChunkError) as caught:
        prepare_chunk(chunk(partition_key=6, chunk_index=3), 4, 100, NOW)
    message = str(caught.value)
    assert "chunk #4" in message
    assert CID in message
    assert "chunk_index=3" in message
    assert "partition_key=6 is wrong" in message
    assert "belongs in partition 5" in message


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"collection_id": None}, "collection_id is required"),
        ({"collection_id": ""}, "collection_id must not be empty"),
        ({"content": None}, "content is required"),
        ({"chunk_index": None}, "chunk_index is required"),
        ({"collection_id": "a\x00b"}, "collection_id: PostgreSQL text cannot contain a NUL"),
        ({"content": "nul \x00 here"}, "content: PostgreSQL text cannot contain a NUL"),
        ({"document_id": "\x00"}, "document_id: PostgreSQL text cannot contain a NUL"),
        ({"embedding_vector_id": "\x00"}, "embedding_vector_id: PostgreSQL text cannot contain a NUL"),
        ({"content": "lone \ud800"}, "content: PostgreSQL text cannot contain a lone surrogate"),
        ({"document_id": "\udfff"}, "document_id: PostgreSQL text cannot contain a lone surrogate"),
        ({"content": 42}, "content"),
        ({"content": b"bytes"}, "content"),
        ({"content": uuid.UUID(CID)}, "content"),
        ({"collection_id": uuid.UUID(CID)}, "collection_id"),
        ({"document_id": 7}, "document_id"),
    ],
)
def test_text_fields(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidChunkError, match=fragment) as caught:
        prepare_chunk(chunk(**overrides), 2, 100, NOW)
    assert "chunk #2" in str(caught.value)


def test_unicode_text_is_accepted() -> None:
    prepared = prepare_chunk(chunk(content="日本語 😀 é", document_id="doc-é"), 0, 100, NOW)
    assert prepared.content == "日本語 😀 é"


@pytest.mark.parametrize("field", ["chunk_index", "chunking_config_id", "start_offset", "end_offset", "token_count"])
def test_int4_fields(field: str) -> None:
    for fine in (-(2**31), 0, 2**31 - 1):
        assert getattr(prepare_chunk(chunk(**{field: fine}), 0, 100, NOW), field) == fine
    for wrong, fragment in [(2**31, "outside"), (-(2**31) - 1, "outside"), (True, "must be an int"), (1.0, "int")]:
        with pytest.raises(InvalidChunkError, match=f"{field}.*{fragment}"):
            prepare_chunk(chunk(**{field: wrong}), 0, 100, NOW)


def test_optional_int_fields_may_be_none() -> None:
    prepared = prepare_chunk(chunk(token_count=None, start_offset=None), 0, 100, NOW)
    assert prepared.token_count is None


def test_id_is_a_positive_bigint() -> None:
    assert prepare_chunk(chunk(id=1), 0, 100, NOW).id == 1
    assert prepare_chunk(chunk(id=2**63 - 1), 0, 100, NOW).id == 2**63 - 1
    for wrong in (0, -5, 2**63):
        with pytest.raises(InvalidChunkError, match="id="):
            prepare_chunk(chunk(id=wrong), 0, 100, NOW)


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
def test_timestamps_must_be_timezone_aware(field: str) -> None:
    with pytest.raises(InvalidChunkError, match=f"{field} must be a timezone-aware datetime"):
        prepare_chunk(chunk(**{field: datetime(2026, 1, 1)}), 0, 100, NOW)
    with pytest.raises(InvalidChunkError, match=field):
        prepare_chunk(chunk(**{field: "2026-01-01"}), 0, 100, NOW)
    aware = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert getattr(prepare_chunk(chunk(**{field: aware}), 0, 100, NOW), field) == aware


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"a": 1, "b": [1, 2.5, None, True], "c": {"d": "é😀"}},
        {"path": "C:\\u0000"},  # a backslash followed by "u0000" is ordinary text, not a NUL
        {"escaped": "\\\\u0000"},
    ],
)
def test_json_metadata_is_accepted(metadata: dict[str, Any]) -> None:
    assert prepare_chunk(chunk(metadata=metadata), 0, 100, NOW).metadata == metadata


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"x": float("nan")}, "metadata is not JSON"),
        ({"x": float("inf")}, "metadata is not JSON"),
        ({"x": {1, 2}}, "metadata is not JSON"),
        ({"x": object()}, "metadata is not JSON"),
        ({(1, 2): "tuple key"}, "metadata is not JSON"),
        ({"x": "nul\x00"}, "jsonb cannot contain a NUL"),
        ({"nul\x00key": 1}, "jsonb cannot contain a NUL"),
        ({"x": ["\\", "\x00"]}, "jsonb cannot contain a NUL"),
        ({"x": "\ud800"}, "metadata"),  # jsonb rejects a lone surrogate too
    ],
)
def test_metadata_postgres_cannot_store_is_rejected(metadata: dict[Any, Any], fragment: str) -> None:
    with pytest.raises(InvalidChunkError, match=fragment):
        prepare_chunk(chunk(metadata=metadata), 0, 100, NOW)


def test_batch_names_the_first_bad_chunk() -> None:
    batch = [chunk(chunk_index=0), chunk(chunk_index=1), chunk(chunk_index=2, content=None)]
    with pytest.raises(InvalidChunkError, match=r"chunk #2 .*content is required"):
        prepare_batch(batch, 100, NOW)


def test_batch_is_prepared_in_order() -> None:
    batch = [chunk(chunk_index=i, collection_id=f"c{i}") for i in range(5)]
    prepared = prepare_batch(iter(batch), 100, NOW)
    assert [c.chunk_index for c in prepared] == list(range(5))
    assert [c.partition_key for c in prepared] == [partition_for(f"c{i}") for i in range(5)]
    assert prepare_batch([], 100, NOW) == []


def test_duplicate_ids_in_a_batch_are_rejected() -> None:
    with pytest.raises(DuplicateChunkError, match=f"chunk id 3 of collection '{CID}' appears twice"):
        prepare_batch([chunk(id=3), chunk(id=3, chunk_index=1)], 100, NOW)


def test_the_same_id_in_two_collections_is_fine() -> None:
    # the primary key is (id, collection_id, partition_key)
    prepared = prepare_batch([chunk(id=3), chunk(id=3, collection_id="other")], 100, NOW)
    assert len(prepared) == 2
    check_unique_ids([chunk(), chunk()])  # ids left to storage never clash here
