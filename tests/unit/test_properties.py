"""Hypothesis properties of routing, skew and the in-memory chunk store."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from semantik_chunks import hashtext, partition_for
from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.domain import chance, hashing, skew
from semantik_chunks.domain.errors import DuplicateChunkError, InvalidChunkError
from semantik_chunks.domain.model import Chunk, PartitionSnapshot
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS
from tests.hash_paths import HASH_PATHS, hash_bytes_of, hashing_path

postgres_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
partition_counts = st.integers(min_value=1, max_value=hashing.MAX_PARTITIONS)


def _signed(unsigned: int) -> int:
    return unsigned - 2**32 if unsigned >= 2**31 else unsigned


# -- routing ------------------------------------------------------------------------------------


# Each routing property runs on both hash_bytes paths, pure Python and the C accelerator.


@pytest.mark.parametrize("path", HASH_PATHS)
@given(value=postgres_text, count=partition_counts)
def test_partition_is_always_in_range(path: str, value: str, count: int) -> None:
    with hashing_path(path):
        assert 0 <= partition_for(value, count) < count


@pytest.mark.parametrize("path", HASH_PATHS)
@given(value=postgres_text, count=partition_counts)
def test_routing_is_deterministic(path: str, value: str, count: int) -> None:
    with hashing_path(path):
        assert hashtext(value) == hashtext(value)
        assert partition_for(value, count) == partition_for(str(value), count)
        assert hashtext(value) == _signed(hashing.hash_bytes_py(value.encode("utf-8")))
        assert -(2**31) <= hashtext(value) < 2**31


@pytest.mark.parametrize("path", HASH_PATHS)
@given(value=st.uuids(), count=partition_counts)
def test_a_uuid_and_its_text_agree(path: str, value: uuid.UUID, count: int) -> None:
    with hashing_path(path):
        assert hashtext(value) == hashtext(str(value))
        assert partition_for(value, count) == partition_for(str(value), count)
        assert partition_for(uuid.UUID(str(value).upper()), count) == partition_for(str(value), count)


@pytest.mark.parametrize("path", HASH_PATHS)
@given(data=st.binary(max_size=300))
def test_each_path_equals_the_python_reference(path: str, data: bytes) -> None:
    assert hash_bytes_of(path)(data) == hashing.hash_bytes_py(data)
    assert 0 <= hashing.hash_bytes_py(data) < 2**32


def test_the_paths_really_differ() -> None:
    # Otherwise the "c" runs above would check the reference against itself.
    assert hash_bytes_of("c") is not hash_bytes_of("python")
    assert hash_bytes_of("c").__module__ == "semantik_chunks._hashtext"


@pytest.mark.parametrize("path", HASH_PATHS)
@given(before=postgres_text, after=postgres_text)
def test_text_postgres_cannot_store_is_rejected(path: str, before: str, after: str) -> None:
    with hashing_path(path):
        for bad in (before + "\x00" + after, before + "\ud800" + after):
            try:
                hashtext(bad)
            except ValueError:
                continue
            raise AssertionError(f"{bad!r} was accepted")


# -- skew ---------------------------------------------------------------------------------------


def _snapshots(rows: list[int]) -> list[PartitionSnapshot]:
    return [PartitionSnapshot(partition_num=i, row_count=r, size_bytes=r * 3) for i, r in enumerate(rows)]


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=10**9))
def test_uniform_counts_give_zero_skew(count: int, per_partition: int) -> None:
    healths = skew.partition_health(_snapshots([per_partition] * count), count, DEFAULT_THRESHOLDS)
    assert all(h.chunk_skew == 0.0 and h.size_skew == 0.0 for h in healths)


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=200))
def test_skew_is_never_negative_and_bounded_by_n_minus_1(rows: list[int]) -> None:
    count = len(rows)
    healths = skew.partition_health(_snapshots(rows), count, DEFAULT_THRESHOLDS)
    assert all(0.0 <= h.chunk_skew <= count - 1 for h in healths)
    assert all(0.0 <= h.size_skew <= count - 1 for h in healths)


@given(st.integers(min_value=1, max_value=1024), st.integers(min_value=1, max_value=10**12), st.data())
def test_a_partition_holding_everything_has_skew_n_minus_1(count: int, rows: int, data: st.DataObject) -> None:
    full = data.draw(st.integers(min_value=0, max_value=count - 1))
    assert skew.skew_factor(rows, rows, count) == count - 1
    placed = [rows if i == full else 0 for i in range(count)]
    healths = skew.partition_health(_snapshots(placed), count, DEFAULT_THRESHOLDS)
    assert healths[full].chunk_skew == count - 1


# -- chance ---------------------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=300))
def test_effective_collections_lies_between_1_and_k(sizes: list[int]) -> None:
    k = sum(1 for s in sizes if s > 0)
    k_eff = chance.effective_collections(sizes)
    if k == 0:
        assert k_eff is None
        return
    assert k_eff is not None
    assert 1.0 - 1e-9 <= k_eff <= k * (1 + 1e-9)


@given(
    st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=200),
    st.integers(min_value=1, max_value=50),
    st.data(),
)
def test_chance_estimate_falls_back_to_the_partition_lower_bound(
    sizes: list[int], count: int, data: st.DataObject
) -> None:
    placement = data.draw(st.lists(st.integers(0, count - 1), min_size=len(sizes), max_size=len(sizes)))
    rows = [0] * count
    for size, partition in zip(sizes, placement, strict=True):
        rows[partition] += size
    # Fresh statistics: the collections themselves.
    assert chance.chance_estimate(rows, sizes) == (chance.effective_collections(sizes), True)
    # Stale statistics (covering less than half the rows): the partition totals, a lower bound.
    stale = data.draw(st.lists(st.sampled_from(sizes), max_size=len(sizes)))
    assume(sum(stale) * 2 < sum(rows))
    k_eff, from_collections = chance.chance_estimate(rows, stale)
    assert from_collections is False
    assert k_eff == chance.effective_collections(rows)
    true_k_eff = chance.effective_collections(sizes)
    assert k_eff is not None and true_k_eff is not None
    assert k_eff <= true_k_eff * (1 + 1e-9)
    sigma, true_sigma = chance.chance_skew(count, k_eff), chance.chance_skew(count, true_k_eff)
    assert sigma is not None and true_sigma is not None
    assert sigma >= true_sigma * (1 - 1e-9) or math.isclose(sigma, true_sigma)  # wider band: fewer alarms


# -- the in-memory chunk store as a state machine ---------------------------------------------------

T = TypeVar("T")
COLLECTIONS = ("c0", "c1", "c2", "c3", "c4")
DOCUMENTS = ("d0", "d1", None)
PARTITIONS = 3  # few partitions, so collections share them

chunk_specs = st.tuples(
    st.sampled_from(COLLECTIONS),
    st.sampled_from(DOCUMENTS),
    st.integers(min_value=0, max_value=5),
    st.one_of(st.none(), st.none(), st.integers(min_value=1, max_value=40)),  # mostly generated ids
)
invalid_chunks = st.sampled_from(
    [
        Chunk(collection_id="unknown", chunk_index=0, content="x"),
        Chunk(collection_id="c0", chunk_index=0, content="nul\x00"),
        Chunk(collection_id="c1", chunk_index=0, content="x", partition_key=(partition_for("c1", PARTITIONS) + 1) % 3),
        Chunk(collection_id="", chunk_index=0, content="x"),
        Chunk(collection_id="c2", chunk_index=2**31, content="x"),
        Chunk(collection_id="c3", chunk_index=0, content="x", metadata={"bad": float("nan")}),
    ]
)


class ChunkStoreMachine(RuleBasedStateMachine):
    """Random batches (valid, duplicate, invalid) and deletes, against a plain dict model."""

    stored_documents = Bundle("stored_documents")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = MemoryDatabase(partition_count=PARTITIONS)
        self.db.collections.update(dict.fromkeys(COLLECTIONS))
        self.repo = InMemoryChunkRepository(self.db)
        self.model: dict[tuple[int, str], tuple[str | None, int]] = {}
        self.highest_generated = 0
        self.highest_seen = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.loop.close()

    @rule(target=stored_documents, specs=st.lists(chunk_specs, max_size=6))
    def add_batch(self, specs: list[tuple[str, str | None, int, int | None]]) -> tuple[str, str | None]:
        batch = [
            Chunk(collection_id=c, document_id=d, chunk_index=i, content=f"{c}/{d}/{i}", id=n) for c, d, i, n in specs
        ]
        explicit = Counter((n, c) for c, _, _, n in specs if n is not None)
        duplicate = any(k in self.model or times > 1 for k, times in explicit.items())
        before = dict(self.model)
        try:
            stored = self.run(self.repo.add_many(batch))
        except DuplicateChunkError:
            assert duplicate, "a batch without duplicate ids was refused"
            assert self._stored() == before
            return specs[0][:2] if specs else ("c0", None)
        assert not duplicate, "a batch with a duplicate id was accepted"
        assert len(stored) == len(batch)
        self.highest_seen = max([self.highest_seen, *(n for _, _, _, n in specs if n is not None)])
        for original, saved in zip(batch, stored, strict=True):
            assert saved.id is not None
            assert saved.partition_key == partition_for(saved.collection_id, PARTITIONS)
            if original.id is None:
                # generated ids increase, and pass every id seen so far (like setval after explicit ids)
                assert saved.id > max(self.highest_generated, self.highest_seen)
                self.highest_generated = saved.id
            else:
                assert saved.id == original.id
            assert (saved.id, saved.collection_id) not in self.model, f"chunk {saved.id} overwrote another"
            self.model[(saved.id, saved.collection_id)] = (saved.document_id, saved.chunk_index)
        self.highest_seen = max([self.highest_seen, *(s.id for s in stored if s.id is not None)])
        return specs[0][:2] if specs else ("c0", None)

    @rule(specs=st.lists(chunk_specs.map(lambda s: (*s[:3], None)), max_size=4), bad=invalid_chunks, data=st.data())
    def add_invalid_batch(
        self, specs: list[tuple[str, str | None, int, None]], bad: Chunk, data: st.DataObject
    ) -> None:
        batch = [Chunk(collection_id=c, document_id=d, chunk_index=i, content="ok") for c, d, i, _ in specs]
        batch.insert(data.draw(st.integers(0, len(batch))), bad)
        before = self._stored()
        try:
            self.run(self.repo.add_many(batch))
        except InvalidChunkError:
            pass
        else:
            raise AssertionError("an invalid batch was accepted")
        assert self._stored() == before, "a failed batch wrote something"

    @rule(target_document=consumes(stored_documents))
    def delete_document(self, target_document: tuple[str, str | None]) -> None:
        collection_id, document_id = target_document
        if document_id is None:
            return
        expected = [k for k, (doc, _) in self.model.items() if k[1] == collection_id and doc == document_id]
        assert self.run(self.repo.delete_document(collection_id, document_id)) == len(expected)
        for key in expected:
            del self.model[key]

    @rule(collection_id=st.sampled_from(COLLECTIONS))
    def delete_collection(self, collection_id: str) -> None:
        expected = [k for k in self.model if k[1] == collection_id]
        assert self.run(self.repo.delete_collection(collection_id)) == len(expected)
        for key in expected:
            del self.model[key]

    def _stored(self) -> dict[tuple[int, str], tuple[str | None, int]]:
        found: dict[tuple[int, str], tuple[str | None, int]] = {}
        for collection_id in COLLECTIONS:
            for chunk in self.run(self.repo.list_by_collection(collection_id)):
                assert chunk.id is not None
                key = (chunk.id, chunk.collection_id)
                assert key not in found, f"chunk {key} listed twice"
                found[key] = (chunk.document_id, chunk.chunk_index)
        return found

    @invariant()
    def nothing_lost_or_duplicated(self) -> None:
        assert self._stored() == self.model

    @invariant()
    def counts_match_the_model(self) -> None:
        assert self.run(self.repo.count()) == len(self.model)
        for collection_id in COLLECTIONS:
            assert self.run(self.repo.count(collection_id)) == sum(1 for k in self.model if k[1] == collection_id)

    @invariant()
    def every_chunk_sits_in_its_partition(self) -> None:
        for number, rows in self.db.partitions.items():
            assert all(partition_for(cid, PARTITIONS) == number for _, cid in rows)


TestChunkStore = ChunkStoreMachine.TestCase
TestChunkStore.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
