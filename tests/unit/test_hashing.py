"""hashtext, partition_for, partition_name_for and partition_table_name: the routing rules every adapter relies on."""

from __future__ import annotations

import math
import uuid

import pytest

import semantik_chunks
from semantik_chunks import hashtext, partition_for, partition_name_for, partition_table_name
from semantik_chunks.domain import hashing
from semantik_chunks.services.partition_manager import PartitionManager

README_ID = "550e8400-e29b-41d4-a716-446655440000"


def test_readme_example() -> None:
    assert PartitionManager().get_partition_name(README_ID) == "chunks_part_05"
    assert semantik_chunks.partition_for(README_ID) == 5


def test_the_package_exports_the_routing_functions() -> None:
    assert set(semantik_chunks.__all__) >= {"hashtext", "partition_for", "partition_name_for", "partition_table_name"}


def test_one_name_one_meaning_a_collections_table_and_a_partition_numbers_table() -> None:
    assert semantik_chunks.partition_name_for(README_ID) == "chunks_part_05"
    assert PartitionManager().get_partition_name(README_ID) == partition_name_for(README_ID)
    assert partition_name_for(README_ID, 1000) == partition_table_name(partition_for(README_ID, 1000), 1000)
    assert semantik_chunks.partition_table_name(5) == "chunks_part_05"
    with pytest.raises(TypeError, match="partition number must be an int"):
        partition_table_name(README_ID)  # type: ignore[arg-type]
    # The old name meant either: it is gone, and says which to use.
    with pytest.raises(AttributeError, match=r"partition_name_for\(collection_id\).*partition_table_name"):
        semantik_chunks.partition_name  # noqa: B018


def test_hashtext_is_a_signed_int32() -> None:
    values = [hashtext(f"collection-{i}") for i in range(2000)]
    assert all(-(2**31) <= v < 2**31 for v in values)
    assert any(v < 0 for v in values)


def test_accelerator_flag_tells_which_path_runs() -> None:
    try:
        from semantik_chunks._hashtext import hash_bytes
    except ImportError:
        assert hashing.ACCELERATED is False
    else:
        assert hashing.ACCELERATED is True
        with pytest.raises(TypeError):
            hash_bytes("text is not bytes")  # type: ignore[arg-type]


def test_a_uuid_hashes_as_its_lowercase_hyphenated_text() -> None:
    value = uuid.UUID(README_ID.upper())
    assert hashtext(value) == hashtext(README_ID)
    assert partition_for(value) == partition_for(README_ID)
    # text is case-sensitive on the server too: an uppercase string is another value
    assert hashtext(README_ID.upper()) != hashtext(README_ID)


def test_a_str_subclass_hashes_like_its_value() -> None:
    class CollectionId(str):
        pass

    assert hashtext(CollectionId("abc")) == hashtext("abc")


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "abc\x00", README_ID + "\x00"])
def test_nul_character_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="NUL"):
        hashtext(value)
    with pytest.raises(ValueError, match="NUL"):
        partition_for(value)


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", "abc\udc80", "😀\ud83d"])
def test_lone_surrogate_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        hashtext(value)
    with pytest.raises(ValueError, match="surrogate"):
        partition_for(value)


@pytest.mark.parametrize("value", [None, 42, 4.2, b"bytes", bytearray(b"x"), ["a"], object()])
def test_non_string_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=r"expected str or uuid\.UUID"):
        hashtext(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        partition_for(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [1, 2, 7, 100, 1000, 1024])
def test_valid_partition_counts_give_a_partition_in_range(count: int) -> None:
    assert all(0 <= partition_for(f"c{i}", count) < count for i in range(500))


def test_one_partition_holds_everything() -> None:
    assert {partition_for(f"c{i}", 1) for i in range(100)} == {0}


@pytest.mark.parametrize("count", [0, -1, 1025, 10_000])
def test_partition_count_out_of_range_is_rejected(count: int) -> None:
    with pytest.raises(ValueError, match=r"between 1 and 1024"):
        partition_for("x", count)
    with pytest.raises(ValueError, match=r"between 1 and 1024"):
        partition_table_name(0, count)


@pytest.mark.parametrize("count", [True, 100.0, "100", None])
def test_partition_count_must_be_an_int(count: object) -> None:
    with pytest.raises(TypeError, match="partition count must be an int"):
        partition_for("x", count)  # type: ignore[arg-type]


def test_partition_for_is_the_truncating_modulo_of_postgres() -> None:
    # PostgreSQL's % truncates toward zero like C's, which math.fmod reproduces; Python's % floors.
    values = ["a", "b", "cfa914a40", README_ID, "😀", *(f"c{i}" for i in range(200))]
    assert any(hashtext(v) < 0 and hashtext(v) % 7 != abs(int(math.fmod(hashtext(v), 7))) for v in values)
    for value in values:
        for count in (7, 100, 1024):
            assert partition_for(value, count) == abs(int(math.fmod(hashtext(value), count)))


@pytest.mark.parametrize(
    ("count", "first", "last"),
    [
        (1, "chunks_part_00", "chunks_part_00"),
        (2, "chunks_part_00", "chunks_part_01"),
        (10, "chunks_part_00", "chunks_part_09"),
        (11, "chunks_part_00", "chunks_part_10"),
        (100, "chunks_part_00", "chunks_part_99"),
        (101, "chunks_part_000", "chunks_part_100"),
        (1000, "chunks_part_000", "chunks_part_999"),
        (1001, "chunks_part_0000", "chunks_part_1000"),
        (1024, "chunks_part_0000", "chunks_part_1023"),
    ],
)
def test_partition_name_is_padded_to_the_width_of_n_minus_1(count: int, first: str, last: str) -> None:
    assert partition_table_name(0, count) == first
    assert partition_table_name(count - 1, count) == last
    names = [partition_table_name(i, count) for i in range(count)]
    assert len(set(names)) == count
    assert len({len(n) for n in names}) == 1
    assert names == sorted(names)  # zero padding makes text order equal number order


def test_partition_name_default_count_is_100() -> None:
    assert partition_table_name(7) == "chunks_part_07"
    assert partition_table_name(42) == "chunks_part_42"


@pytest.mark.parametrize(("num", "count"), [(-1, 100), (100, 100), (1, 1), (1024, 1024)])
def test_partition_number_out_of_range_is_rejected(num: int, count: int) -> None:
    with pytest.raises(ValueError, match="partition number must be between 0 and"):
        partition_table_name(num, count)


@pytest.mark.parametrize("num", [True, 1.0, "1", None])
def test_partition_number_must_be_an_int(num: object) -> None:
    with pytest.raises(TypeError, match="partition number must be an int"):
        partition_table_name(num)  # type: ignore[arg-type]


def test_partition_manager_names_and_ids() -> None:
    manager = PartitionManager(partition_count=1000)
    names = manager.get_all_partition_names()
    assert names[0] == "chunks_part_000"
    assert names[-1] == "chunks_part_999"
    assert manager.get_partition_name(README_ID) == partition_table_name(partition_for(README_ID, 1000), 1000)
    assert manager.get_partition_num(uuid.UUID(README_ID)) == partition_for(README_ID, 1000)
    assert PartitionManager(partition_count=1).get_all_partition_names() == ["chunks_part_00"]


@pytest.mark.parametrize("count", [0, 1025])
def test_partition_manager_rejects_bad_counts(count: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 1024"):
        PartitionManager(partition_count=count)
