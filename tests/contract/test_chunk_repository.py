"""The chunk and collection storage contract: every test runs on every adapter (see conftest)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from semantik_chunks import partition_for
from semantik_chunks.domain.chunks import ID_MAX_BYTES, METADATA_MAX_DEPTH
from semantik_chunks.domain.errors import DuplicateChunkError, IdsExhaustedError, InvalidChunkError
from semantik_chunks.domain.model import Chunk
from tests.contract.conftest import PARTITION_COUNT, Repositories

COLLECTION = "6b4f0c1e-0d55-4a3e-9d6e-3f0f4b8b2a11"
OTHER = "collection-b"


def neighbour_of(collection_id: str) -> str:
    """Another collection id routed to the same partition, so that filters on collection_id are tested."""
    target = partition_for(collection_id, PARTITION_COUNT)
    return next(
        f"neighbour-{i}" for i in itertools.count() if partition_for(f"neighbour-{i}", PARTITION_COUNT) == target
    )


def chunk(collection_id: str = COLLECTION, chunk_index: int = 0, **fields: Any) -> Chunk:
    fields.setdefault("content", f"chunk {chunk_index} of {collection_id}")
    return Chunk(collection_id=collection_id, chunk_index=chunk_index, **fields)


@pytest.fixture
async def repo(repos: Repositories) -> Repositories:
    await repos.collections.add(COLLECTION, "main")
    await repos.collections.add(OTHER)
    return repos


# --- collections -----------------------------------------------------------------------------------------------


async def test_a_collection_exists_once_added_and_adding_it_again_changes_nothing(repos: Repositories) -> None:
    assert not await repos.collections.exists("new")
    await repos.collections.add("new", "first name")
    await repos.collections.add("new", "second name")
    assert await repos.collections.exists("new")
    assert not await repos.collections.exists("New")


@pytest.mark.parametrize(("collection_id", "name"), [("lone-\ud800", None), ("nul\x00", None), ("ok", "nul\x00")])
async def test_a_collection_postgres_cannot_store_is_rejected(
    repos: Repositories, collection_id: str, name: str | None
) -> None:
    with pytest.raises(InvalidChunkError, match="collection"):
        await repos.collections.add(collection_id, name)
    assert not await repos.collections.exists(collection_id)
    assert not await repos.collections.exists("ok")


# --- add and read back -------------------------------------------------------------------------------------------


async def test_added_chunks_come_back_with_id_partition_key_and_timestamps(repo: Repositories) -> None:
    before = datetime.now(UTC)
    stored = await repo.chunks.add_many([chunk(chunk_index=0, document_id="doc"), chunk(chunk_index=1)])
    after = datetime.now(UTC)

    for original, saved in zip([0, 1], stored, strict=True):
        assert saved.chunk_index == original
        assert saved.id is not None
        assert saved.partition_key == partition_for(COLLECTION, PARTITION_COUNT)
        assert saved.created_at is not None and saved.created_at.tzinfo is not None
        assert before - timedelta(seconds=1) <= saved.created_at <= after + timedelta(seconds=1)
        assert saved.updated_at == saved.created_at
        assert await repo.chunks.get(saved.id, collection_id=COLLECTION) == saved
        assert await repo.chunks.get(saved.id) == saved


async def test_an_empty_batch_writes_nothing(repo: Repositories) -> None:
    assert await repo.chunks.add_many([]) == []
    assert await repo.chunks.count() == 0


async def test_get_of_an_unknown_chunk_or_the_wrong_collection_is_none(repo: Repositories) -> None:
    [saved] = await repo.chunks.add_many([chunk()])
    assert saved.id is not None
    assert await repo.chunks.get(saved.id + 1000) is None
    assert await repo.chunks.get(saved.id, collection_id=OTHER) is None
    assert await repo.chunks.get(saved.id, collection_id=neighbour_of(COLLECTION)) is None


async def test_generated_ids_increase_across_batches_and_within_a_batch(repo: Repositories) -> None:
    first = await repo.chunks.add_many([chunk(chunk_index=i) for i in range(3)])
    second = await repo.chunks.add_many([chunk(OTHER, i) for i in range(3)])
    ids = [c.id for c in first + second]
    assert all(isinstance(i, int) for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_explicit_ids_are_kept_and_generated_ids_step_past_them(repo: Repositories) -> None:
    mixed = await repo.chunks.add_many([chunk(chunk_index=0, id=500), chunk(chunk_index=1)])
    assert mixed[0].id == 500
    assert mixed[1].id is not None and mixed[1].id > 500
    [later] = await repo.chunks.add_many([chunk(chunk_index=2)])
    assert later.id is not None and later.id > mixed[1].id
    [low] = await repo.chunks.add_many([chunk(chunk_index=3, id=7)])  # free, though below the sequence
    assert low.id == 7
    [after_low] = await repo.chunks.add_many([chunk(chunk_index=4)])
    assert after_low.id is not None and after_low.id > later.id
    assert await repo.chunks.count(COLLECTION) == 5


async def test_the_same_id_may_exist_in_two_collections_and_get_without_collection_picks_the_first(
    repo: Repositories,
) -> None:
    await repo.chunks.add_many([chunk(OTHER, 0, id=42), chunk(COLLECTION, 0, id=42)])
    assert (await repo.chunks.get(42, collection_id=OTHER)) is not None
    found = await repo.chunks.get(42)
    assert found is not None
    assert found.collection_id == min(COLLECTION, OTHER)


# --- order ---------------------------------------------------------------------------------------------------------


async def test_list_by_collection_orders_by_document_nulls_last_then_chunk_index_then_id(repo: Repositories) -> None:
    # Code point order, whatever the database's collation: "Z" < "a" < "f" < "é" < "😀".
    documents = ["f", None, "a", "é", "Z", "😀", "a", None]
    batch = [chunk(chunk_index=i % 3, document_id=d) for i, d in enumerate(documents)]
    batch += [chunk(chunk_index=1, document_id="a"), chunk(chunk_index=1, document_id="a")]  # ties go by id
    stored = await repo.chunks.add_many(batch)

    listed = await repo.chunks.list_by_collection(COLLECTION)

    expected = sorted(stored, key=lambda c: (c.document_id is None, c.document_id or "", c.chunk_index, c.id))
    assert [c.id for c in listed] == [c.id for c in expected]
    assert [c.document_id for c in listed][:3] == ["Z", "a", "a"]
    assert [c.document_id for c in listed][-2:] == [None, None]
    assert listed == expected


async def test_list_by_document_orders_by_chunk_index_then_id(repo: Repositories) -> None:
    stored = await repo.chunks.add_many(
        [chunk(chunk_index=i, document_id="doc") for i in (3, 1, 2, 1)] + [chunk(chunk_index=0, document_id="other")]
    )
    listed = await repo.chunks.list_by_document(COLLECTION, "doc")
    assert [c.chunk_index for c in listed] == [1, 1, 2, 3]
    assert [c.id for c in listed] == [stored[1].id, stored[3].id, stored[2].id, stored[0].id]


async def test_lists_hold_only_their_collection_even_when_another_shares_the_partition(repos: Repositories) -> None:
    neighbour = neighbour_of(COLLECTION)
    for collection_id in (COLLECTION, neighbour):
        await repos.collections.add(collection_id)
    await repos.chunks.add_many([chunk(COLLECTION, 0, document_id="doc"), chunk(neighbour, 0, document_id="doc")])
    assert [c.collection_id for c in await repos.chunks.list_by_collection(COLLECTION)] == [COLLECTION]
    assert [c.collection_id for c in await repos.chunks.list_by_document(neighbour, "doc")] == [neighbour]
    assert await repos.chunks.list_by_collection("never-added") == []


# --- round trips ---------------------------------------------------------------------------------------------------


async def test_unicode_and_astral_text_round_trips(repos: Repositories) -> None:
    collection_id = "collection-𝔘𝔫𝔦-中文-😀"
    await repos.collections.add(collection_id, "naïve 😀")
    content = "héllo 😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u200b中文 e\u0301 \r\n\ttabs and a \\ backslash and 'quotes' \"too\""
    [saved] = await repos.chunks.add_many(
        [chunk(collection_id, 0, content=content, document_id="doc-🎉", embedding_vector_id="vec-Ω")]
    )
    assert saved.id is not None
    got = await repos.chunks.get(saved.id, collection_id=collection_id)
    assert got == saved
    assert got.content == content
    assert await repos.chunks.list_by_document(collection_id, "doc-🎉") == [saved]


async def test_metadata_round_trips_as_json(repo: Repositories) -> None:
    metadata = {
        "title": "Ünïcödé 😀",
        "nested": {"list": [1, 2.5, "three", None, True, False], "empty": {}},
        "big": 2**62,
        "negative": -17,
        "backslash": "a\\u0000b",
    }
    [saved] = await repo.chunks.add_many([chunk(metadata=metadata)])
    assert saved.id is not None
    assert saved.metadata == metadata
    assert (await repo.chunks.get(saved.id, collection_id=COLLECTION)) == saved


async def test_metadata_comes_back_as_jsonb_does_keys_as_strings_tuples_as_lists(repo: Repositories) -> None:
    [saved] = await repo.chunks.add_many([chunk(metadata={1: "one", "pair": (1, 2)})])
    assert saved.id is not None
    assert saved.metadata == {"1": "one", "pair": [1, 2]}
    stored = await repo.chunks.get(saved.id, collection_id=COLLECTION)
    assert stored is not None and stored.metadata == {"1": "one", "pair": [1, 2]}


async def test_given_timestamps_round_trip_as_the_same_instants_timezone_aware(repo: Repositories) -> None:
    created = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    updated = datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    [saved] = await repo.chunks.add_many([chunk(created_at=created, updated_at=updated)])
    assert saved.id is not None
    got = await repo.chunks.get(saved.id, collection_id=COLLECTION)
    assert got is not None
    assert got.created_at == created and got.updated_at == updated
    assert got.created_at.tzinfo is not None and got.updated_at.tzinfo is not None
    assert got.created_at.utcoffset() is not None


async def test_optional_fields_round_trip(repo: Repositories) -> None:
    full = chunk(
        chunk_index=-(2**31),
        document_id="doc",
        start_offset=0,
        end_offset=2**31 - 1,
        token_count=12,
        embedding_vector_id="vec",
        id=2**62,
    )
    bare = chunk(chunk_index=0, content="")
    stored = await repo.chunks.add_many([full, bare])
    for saved in stored:
        assert saved.id is not None
        assert await repo.chunks.get(saved.id, collection_id=COLLECTION) == saved
    assert stored[0].id == 2**62
    assert stored[1].content == "" and stored[1].document_id is None and stored[1].metadata == {}


async def test_an_explicit_id_at_the_bigint_maximum_leaves_no_id_to_generate(repo: Repositories) -> None:
    [top] = await repo.chunks.add_many([chunk(chunk_index=0, id=2**63 - 1)])
    assert top.id == 2**63 - 1
    with pytest.raises(IdsExhaustedError, match="no chunk id left"):
        await repo.chunks.add_many([chunk(chunk_index=1)])
    assert await repo.chunks.count() == 1
    [explicit] = await repo.chunks.add_many([chunk(chunk_index=2, id=5)])
    assert explicit.id == 5


# --- failures are atomic -------------------------------------------------------------------------------------------


async def _assert_nothing_written_and_still_usable(repo: Repositories, count_before: int) -> None:
    assert await repo.chunks.count() == count_before
    [saved] = await repo.chunks.add_many([chunk(OTHER, 99)])
    assert saved.id is not None
    assert await repo.chunks.get(saved.id, collection_id=OTHER) == saved


async def test_an_unknown_collection_fails_the_whole_batch(repo: Repositories) -> None:
    await repo.chunks.add_many([chunk(chunk_index=0)])
    with pytest.raises(InvalidChunkError, match=r"chunk #1: collection 'missing' does not exist in collections"):
        await repo.chunks.add_many([chunk(chunk_index=1), chunk("missing", 0), chunk(chunk_index=2)])
    await _assert_nothing_written_and_still_usable(repo, 1)


async def test_a_duplicate_id_in_the_batch_fails_the_whole_batch(repo: Repositories) -> None:
    with pytest.raises(DuplicateChunkError, match=r"chunk id 9 .* appears twice in the batch"):
        await repo.chunks.add_many([chunk(chunk_index=0, id=9), chunk(chunk_index=1), chunk(chunk_index=2, id=9)])
    await _assert_nothing_written_and_still_usable(repo, 0)


async def test_an_id_already_stored_fails_the_whole_batch(repo: Repositories) -> None:
    [first] = await repo.chunks.add_many([chunk(chunk_index=0)])
    with pytest.raises(DuplicateChunkError, match=rf"chunk #1: chunk id {first.id} of collection .* is already stored"):
        await repo.chunks.add_many([chunk(chunk_index=1), chunk(chunk_index=2, id=first.id)])
    await _assert_nothing_written_and_still_usable(repo, 1)


async def test_a_wrong_partition_key_fails_the_whole_batch_and_the_right_one_is_accepted(repo: Repositories) -> None:
    right = partition_for(COLLECTION, PARTITION_COUNT)
    with pytest.raises(InvalidChunkError, match=rf"chunk #1 .*partition_key={(right + 1) % 100} is wrong"):
        await repo.chunks.add_many([chunk(chunk_index=0), chunk(chunk_index=1, partition_key=(right + 1) % 100)])
    await _assert_nothing_written_and_still_usable(repo, 0)
    [saved] = await repo.chunks.add_many([chunk(partition_key=right)])
    assert saved.partition_key == right


@pytest.mark.parametrize(
    "bad",
    [
        {"content": "nul \x00 inside"},
        {"content": "lone \ud83d surrogate"},
        {"document_id": "doc\x00"},
        {"metadata": {"text": "nul \x00 inside"}},
        {"metadata": {"text": "lone \udc00"}},
        {"metadata": {"not a number": float("nan")}},
        {"chunk_index": 2**31},
    ],
    ids=["nul-content", "surrogate-content", "nul-document", "nul-metadata", "surrogate-metadata", "nan", "int4"],
)
async def test_values_postgres_cannot_store_fail_the_whole_batch(repo: Repositories, bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidChunkError, match="chunk #1"):
        await repo.chunks.add_many([chunk(chunk_index=0), attrs.evolve(chunk(chunk_index=1), **bad)])
    await _assert_nothing_written_and_still_usable(repo, 0)


async def test_a_bad_chunk_deep_in_a_large_batch_is_named_by_its_place_in_the_batch(repo: Repositories) -> None:
    # Adapters may prepare a large batch a slice at a time; positions still count from the batch's start.
    batch = [chunk(chunk_index=i) for i in range(2_500)]
    batch[2_345] = attrs.evolve(batch[2_345], content="nul \x00 inside")
    with pytest.raises(InvalidChunkError, match="chunk #2345 "):
        await repo.chunks.add_many(batch)
    batch[2_345] = chunk(chunk_index=2_345)
    batch[1_999] = attrs.evolve(batch[1_999], id=7)
    batch[2_001] = attrs.evolve(batch[2_001], id=7)
    with pytest.raises(DuplicateChunkError, match=r"chunk id 7 .* appears twice"):
        await repo.chunks.add_many(batch)
    await _assert_nothing_written_and_still_usable(repo, 0)


async def test_ids_after_a_failed_batch_still_increase(repo: Repositories) -> None:
    [first] = await repo.chunks.add_many([chunk(chunk_index=0)])
    with pytest.raises(InvalidChunkError):
        await repo.chunks.add_many([chunk(chunk_index=1), chunk("missing", 0)])
    [second] = await repo.chunks.add_many([chunk(chunk_index=2)])
    assert first.id is not None and second.id is not None and second.id > first.id


# --- deletes and counts --------------------------------------------------------------------------------------------


async def test_delete_document_removes_only_that_document_of_that_collection(repo: Repositories) -> None:
    neighbour = neighbour_of(COLLECTION)
    await repo.collections.add(neighbour)
    await repo.chunks.add_many(
        [chunk(chunk_index=i, document_id="doc") for i in range(3)]
        + [chunk(chunk_index=0, document_id="keep"), chunk(chunk_index=0)]
        + [chunk(neighbour, 0, document_id="doc"), chunk(OTHER, 0, document_id="doc")]
    )
    assert await repo.chunks.delete_document(COLLECTION, "doc") == 3
    assert await repo.chunks.delete_document(COLLECTION, "doc") == 0
    assert await repo.chunks.list_by_document(COLLECTION, "doc") == []
    assert [c.document_id for c in await repo.chunks.list_by_collection(COLLECTION)] == ["keep", None]
    assert await repo.chunks.count(neighbour) == 1
    assert await repo.chunks.count(OTHER) == 1


async def test_delete_collection_removes_only_that_collection(repo: Repositories) -> None:
    neighbour = neighbour_of(COLLECTION)
    await repo.collections.add(neighbour)
    await repo.chunks.add_many([chunk(chunk_index=i) for i in range(4)] + [chunk(neighbour, 0), chunk(OTHER, 0)])
    assert await repo.chunks.delete_collection(COLLECTION) == 4
    assert await repo.chunks.delete_collection(COLLECTION) == 0
    assert await repo.chunks.count(COLLECTION) == 0
    assert await repo.chunks.count(neighbour) == 1
    assert await repo.chunks.count() == 2
    assert await repo.collections.exists(COLLECTION)  # chunks go, the collection stays


async def test_counts_per_collection_and_in_total(repo: Repositories) -> None:
    assert await repo.chunks.count() == 0
    await repo.chunks.add_many([chunk(chunk_index=i) for i in range(5)] + [chunk(OTHER, i) for i in range(2)])
    assert await repo.chunks.count(COLLECTION) == 5
    assert await repo.chunks.count(OTHER) == 2
    assert await repo.chunks.count("never-added") == 0
    assert await repo.chunks.count() == 7


async def test_partition_count_is_the_configured_one(repos: Repositories) -> None:
    assert repos.chunks.partition_count == PARTITION_COUNT


async def test_a_bad_chunk_late_in_a_large_batch_writes_nothing(repo: Repositories) -> None:
    """The Postgres adapter checks a batch while COPY streams it: a bad chunk after rows already sent
    aborts the whole batch, and the error names it as the in-memory adapter does."""
    batch = [chunk(chunk_index=i, document_id=f"d{i // 20}") for i in range(1200)]
    batch[1100] = chunk(chunk_index=1100, content="nul\x00")
    with pytest.raises(InvalidChunkError, match=r"chunk #1100\b.*content"):
        await repo.chunks.add_many(batch)
    assert await repo.chunks.count() == 0


async def test_a_later_bad_chunk_wins_over_an_earlier_duplicate_or_missing_collection(repo: Repositories) -> None:
    """The batch is checked whole before any storage error is explained, on every adapter."""
    duplicate = [chunk(chunk_index=0, id=7), chunk(chunk_index=1, id=7)]
    bad = [chunk(chunk_index=i) for i in range(900)] + [chunk(chunk_index=900, content="nul\x00")]
    with pytest.raises(InvalidChunkError, match=r"chunk #902\b"):
        await repo.chunks.add_many([*duplicate, *bad])
    missing = [chunk("no-such-collection", chunk_index=0)]
    with pytest.raises(InvalidChunkError, match=r"chunk #901\b.*content"):
        await repo.chunks.add_many([*missing, *bad])
    await repo.chunks.add_many([chunk(chunk_index=0, id=70)])
    with pytest.raises(InvalidChunkError, match=r"chunk #901\b.*content"):
        await repo.chunks.add_many([chunk(chunk_index=1, id=70), *bad])
    assert await repo.chunks.count() == 1


# --- input no adapter may store, refused identically before anything is written ----------------------------------


def nested(depth: int, container: str = "dict") -> dict[str, Any]:
    """Metadata whose containers nest ``depth`` deep, the metadata dict itself being level 1."""
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = {"k": value} if container == "dict" else [value]
    return {"k": value}


@pytest.mark.parametrize(
    ("field", "value", "size"),
    [
        ("document_id", "d" * (ID_MAX_BYTES + 1), ID_MAX_BYTES + 1),
        ("document_id", "é" * 1_100, 2_200),  # 1,100 characters, 2,200 bytes
        ("document_id", "x" * 3_000, 3_000),  # over PostgreSQL's own btree limit (about 2,704 bytes)
        ("collection_id", "c" * 3_000, 3_000),
    ],
)
async def test_ids_over_the_byte_limit_are_refused_naming_chunk_and_field(
    repo: Repositories, field: str, value: str, size: int
) -> None:
    bad = attrs.evolve(chunk(chunk_index=1), **{field: value})
    with pytest.raises(InvalidChunkError, match=rf"chunk #1 .*{field} is {size} bytes in UTF-8, over the 2048-byte"):
        await repo.chunks.add_many([chunk(chunk_index=0), bad])
    await _assert_nothing_written_and_still_usable(repo, 0)


@pytest.mark.parametrize("document_id", ["d" * ID_MAX_BYTES, "é" * (ID_MAX_BYTES // 2), "😀" * (ID_MAX_BYTES // 4)])
async def test_ids_at_the_byte_limit_are_stored(repo: Repositories, document_id: str) -> None:
    [stored] = await repo.chunks.add_many([chunk(document_id=document_id)])
    assert (await repo.chunks.list_by_document(COLLECTION, document_id)) == [stored]


@pytest.mark.parametrize("container", ["dict", "list"])
async def test_metadata_nested_deeper_than_the_limit_is_refused(repo: Repositories, container: str) -> None:
    for depth in (METADATA_MAX_DEPTH + 1, 3_000):
        bad = chunk(chunk_index=1, metadata=nested(depth, container))
        with pytest.raises(InvalidChunkError, match=rf"chunk #1 .*metadata nests deeper than {METADATA_MAX_DEPTH}"):
            await repo.chunks.add_many([chunk(chunk_index=0), bad])
    await _assert_nothing_written_and_still_usable(repo, 0)
    [stored] = await repo.chunks.add_many([chunk(metadata=nested(METADATA_MAX_DEPTH, container))])
    assert (await repo.chunks.get(stored.id or 0)) == stored


async def test_metadata_that_refers_to_itself_is_refused(repo: Repositories) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InvalidChunkError, match=r"chunk #0 .*metadata nests deeper"):
        await repo.chunks.add_many([chunk(metadata=loop)])


@pytest.mark.parametrize(
    ("collection_id", "message"),
    [
        ("", "collection id must not be empty"),
        ("c" * 3_000, "3000 bytes in UTF-8, over the 2048-byte limit"),
        (None, "collection id must be a str, got NoneType"),
    ],
)
async def test_a_collection_id_no_adapter_can_store_is_refused_by_add(
    repos: Repositories, collection_id: Any, message: str
) -> None:
    with pytest.raises(InvalidChunkError, match=message):
        await repos.collections.add(collection_id)
    with pytest.raises(InvalidChunkError):
        await repos.collections.add(collection_id, "a name")
    assert not await repos.collections.exists("")


async def test_an_empty_collection_id_is_refused_by_add_many_and_finds_nothing_on_reads(repo: Repositories) -> None:
    with pytest.raises(InvalidChunkError, match=r"chunk #0 .*collection_id must not be empty"):
        await repo.chunks.add_many([chunk("")])
    await repo.chunks.add_many([chunk()])
    assert await repo.chunks.list_by_collection("") == []
    assert await repo.chunks.list_by_document("", "doc") == []
    assert await repo.chunks.count("") == 0
    assert await repo.chunks.get(1, collection_id="") is None
    assert await repo.chunks.delete_collection("") == 0
    assert await repo.chunks.delete_document("", "doc") == 0
    assert not await repo.collections.exists("")
    assert await repo.chunks.count() == 1


@pytest.mark.parametrize("chunk_id", [2**70, -(2**70), 2**63, "abc", "1", 1.0, True, None])
async def test_get_of_an_id_no_row_can_have_is_none(repo: Repositories, chunk_id: Any) -> None:
    [stored] = await repo.chunks.add_many([chunk(id=1)])
    assert stored.id == 1
    assert await repo.chunks.get(chunk_id) is None
    assert await repo.chunks.get(chunk_id, collection_id=COLLECTION) is None
    assert await repo.chunks.get(2**63 - 1) is None  # the largest bigint: a valid id, not stored
