"""prepare_batch's fast path for usual chunks gives exactly what prepare_chunk gives, on any input."""

from __future__ import annotations

import collections
import types
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semantik_chunks.domain import chunks as chunks_module
from semantik_chunks.domain.chunks import check_unique_ids, prepare_batch, prepare_chunk, prepare_chunks
from semantik_chunks.domain.errors import ChunksError, InvalidChunkError
from semantik_chunks.domain.model import Chunk

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PARTITIONS = 7


class Text(str):
    """Subclasses are valid but not the exact types the fast path expects."""


class Number(int):
    pass


ODD_TEXT = ["", "a\x00b", "\x00", "lone \ud800", "\udfff", "é😀", Text("sub"), None, 5, b"x", uuid.UUID(int=1), 1.5]
ODD_INT4 = [-(2**31), -(2**31) - 1, 2**31 - 1, 2**31, True, False, 1.0, "3", Number(4), None]
ODD_ID = [None, 0, -1, 1, 2**63 - 1, 2**63, True, 1.0, Number(9)]
ODD_STAMP = [
    None,
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 1, 1),
    "2026",
    date.today(),
]
ODD_METADATA: list[Any] = [
    {},
    {"x": float("nan")},
    {"x": float("inf")},
    {"x": -0.0},
    {"x": 1.5},
    {"x": 2**63 - 1},
    {"x": 2**63},
    {"x": -(2**63)},
    {"x": 10**5000},  # beyond int-to-str's digit limit
    {"x": True, "y": None},
    {1: "a"},
    {"1": 1, 1: 2},
    {True: 1},
    {None: 1},
    {1.5: 1},
    {"a\x00": 1},
    {"\ud800": 1},
    {"x": "a\x00"},
    {"x": "\ud800"},
    {"x": "\\u0000"},
    {"x": (1, 2)},
    {"x": [1]},
    {"x": {"y": 1}},
    {"x": {1, 2}},
    {"x": object()},
    {"x": Number(1)},
    {"x": Text("s")},
    {Text("k"): 1},
    types.MappingProxyType({"a": 1}),
    collections.OrderedDict(a=1),
    [("a", 1)],  # not a mapping, though dict() takes it
    "not a mapping",
]

texts = st.text(max_size=12)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), texts)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(texts, inner)),
    max_leaves=6,
)


def odd_or(values: list[Any], generated: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(values), generated)


usual: dict[str, st.SearchStrategy[Any]] = {
    "collection_id": st.sampled_from(["c1", "c2", "é"]),
    "chunk_index": st.integers(-5, 5),
    "content": st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
    "document_id": st.one_of(st.none(), st.sampled_from(["d", "dé"])),
    "chunking_config_id": st.one_of(st.none(), st.integers(0, 3)),
    "start_offset": st.one_of(st.none(), st.integers(0, 3)),
    "end_offset": st.one_of(st.none(), st.integers(0, 3)),
    "token_count": st.one_of(st.none(), st.integers(0, 3)),
    "embedding_vector_id": st.one_of(st.none(), st.just("v")),
    "metadata": st.dictionaries(st.sampled_from(["a", "b", "é"]), st.one_of(st.none(), st.integers(), st.text())),
    "created_at": st.one_of(st.none(), st.just(NOW - timedelta(days=1))),
    "updated_at": st.none(),
    "partition_key": st.none(),
    "id": st.one_of(st.none(), st.integers(1, 3)),
}
unusual: dict[str, st.SearchStrategy[Any]] = {
    "collection_id": odd_or(ODD_TEXT, texts),
    "chunk_index": odd_or(ODD_INT4, st.integers()),
    "content": odd_or(ODD_TEXT, texts),
    "document_id": odd_or(ODD_TEXT, texts),
    "chunking_config_id": odd_or(ODD_INT4, st.integers()),
    "start_offset": odd_or(ODD_INT4, st.integers()),
    "end_offset": odd_or(ODD_INT4, st.integers()),
    "token_count": odd_or(ODD_INT4, st.integers()),
    "embedding_vector_id": odd_or(ODD_TEXT, texts),
    "metadata": odd_or(ODD_METADATA, st.dictionaries(st.one_of(texts, st.integers()), json_values, max_size=3)),
    "created_at": st.sampled_from(ODD_STAMP),
    "updated_at": st.sampled_from(ODD_STAMP),
    "partition_key": st.sampled_from([None, *range(PARTITIONS), -1, 2.0, "2"]),
    "id": odd_or(ODD_ID, st.integers()),
}


@st.composite
def chunks(draw: st.DrawFn) -> Chunk:
    """A usual chunk with one field (at times two) drawn from the unusual, valid or not."""
    odd = {draw(st.sampled_from(sorted(usual)))} | draw(st.sets(st.sampled_from(sorted(usual)), max_size=1))
    return Chunk(**{field: draw(unusual[field] if field in odd else usual[field]) for field in usual})


def outcome(prepare: Callable[[], list[Chunk]]) -> tuple[str, Any]:
    """What a preparation returns, compared by repr and types so that 1, 1.0 and True differ, or what it raises."""
    try:
        prepared = prepare()
        return "prepared", [(repr(c), [type(v) for v in c.metadata.values()], type(c.metadata)) for c in prepared]
    except (ChunksError, TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


def careful(batch: list[Chunk]) -> list[Chunk]:
    prepared = [prepare_chunk(c, i, PARTITIONS, NOW) for i, c in enumerate(batch)]
    check_unique_ids(prepared)
    return prepared


ODD_VALUES: dict[str, list[Any]] = {
    "collection_id": ODD_TEXT,
    "chunk_index": ODD_INT4,
    "content": ODD_TEXT,
    "document_id": ODD_TEXT,
    "chunking_config_id": ODD_INT4,
    "start_offset": ODD_INT4,
    "end_offset": ODD_INT4,
    "token_count": ODD_INT4,
    "embedding_vector_id": ODD_TEXT,
    "metadata": ODD_METADATA,
    "created_at": ODD_STAMP,
    "updated_at": ODD_STAMP,
    "partition_key": [None, *range(PARTITIONS), -1, 2.0, "2"],
    "id": ODD_ID,
}


@pytest.mark.parametrize(
    ("field", "value"), [(field, value) for field, values in ODD_VALUES.items() for value in values]
)
def test_every_unusual_value_is_prepared_as_prepare_chunk_prepares_it(field: str, value: Any) -> None:
    usual_chunk = Chunk(collection_id="c1", chunk_index=0, content="x", metadata={"a": 1}, id=1)
    batch = [usual_chunk, attrs.evolve(usual_chunk, **{"id": 2, field: value})]  # second: messages say #1
    assert outcome(lambda: prepare_batch(batch, PARTITIONS, NOW)) == outcome(lambda: careful(batch))


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(chunks(), st.fixed_dictionaries(usual).map(lambda f: Chunk(**f))), min_size=1, max_size=4))
def test_prepare_batch_equals_prepare_chunk_on_every_chunk(batch: list[Chunk]) -> None:
    assert outcome(lambda: prepare_batch(batch, PARTITIONS, NOW)) == outcome(lambda: careful(batch))


def test_prepared_metadata_is_a_copy_of_the_given_one() -> None:
    given_metadata = {"source": "a.md", "page": 3}
    [prepared] = prepare_batch([Chunk(collection_id="c1", chunk_index=0, content="x", metadata=given_metadata)], 7, NOW)
    assert prepared.metadata == given_metadata
    assert prepared.metadata is not given_metadata


def test_a_slice_of_a_batch_names_its_chunks_by_their_place_in_the_batch() -> None:
    usual_chunk = Chunk(collection_id="c1", chunk_index=0, content="x")
    not_text: Any = 7
    part = [usual_chunk, attrs.evolve(usual_chunk, chunk_index=1, content=not_text)]
    with pytest.raises(InvalidChunkError, match=r"^chunk #501 .*content must be a str"):
        prepare_chunks(part, PARTITIONS, NOW, first_position=500)
    assert prepare_chunks(part[:1], PARTITIONS, NOW, first_position=500) == prepare_batch(part[:1], PARTITIONS, NOW)


EVERY_FIELD: dict[str, Any] = {
    "collection_id": "c1",
    "chunk_index": 2,
    "content": "x",
    "document_id": "d",
    "chunking_config_id": 3,
    "start_offset": 4,
    "end_offset": 5,
    "token_count": 6,
    "embedding_vector_id": "v",
    "metadata": {"a": 1},
    "created_at": NOW,
    "updated_at": NOW + timedelta(seconds=1),
    "partition_key": 7,
    "id": 8,
}


def test_the_fast_chunk_constructor_is_in_use_and_builds_what_chunk_builds() -> None:
    assert chunks_module._plain_chunk_class(), "Chunk changed: update _CHUNK_FIELDS and _chunk_builder"
    assert tuple(EVERY_FIELD) == chunks_module._CHUNK_FIELDS
    built = chunks_module._build_chunk(*EVERY_FIELD.values())
    assert type(built) is Chunk
    assert built == Chunk(**EVERY_FIELD)
    assert attrs.asdict(built, recurse=False) == EVERY_FIELD
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.content = "y"  # type: ignore[misc]


def test_a_chunk_class_with_a_hook_is_built_through_its_init(monkeypatch: pytest.MonkeyPatch) -> None:
    @attrs.frozen(kw_only=True)
    class Checked:
        collection_id: str = attrs.field(validator=attrs.validators.instance_of(str))

    assert not chunks_module._plain_chunk_class(Checked)
    monkeypatch.setattr(chunks_module, "_plain_chunk_class", lambda: False)
    construct = chunks_module._chunk_builder()
    assert construct(*EVERY_FIELD.values()) == Chunk(**EVERY_FIELD)
    with pytest.raises(ValueError, match="shorter"):
        construct(*list(EVERY_FIELD.values())[:-1])
