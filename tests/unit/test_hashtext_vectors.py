"""Our hashtext against known answers produced once by real PostgreSQL 18 and 16 servers.

The vectors and how they were made: ``tests/unit/data/hashtext_vectors.json`` (its ``about``
header) and ``tests/vectors/make_hashtext_vectors.py``. No database is needed here.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from semantik_chunks import hashtext, partition_for
from tests.hash_paths import HASH_PATHS, hash_bytes_of, hashing_path

VECTORS_FILE = Path(__file__).parent / "data" / "hashtext_vectors.json"
DOCUMENT: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = DOCUMENT["vectors"]


def _signed(unsigned: int) -> int:
    return unsigned - 2**32 if unsigned >= 2**31 else unsigned


def _id(vector: dict[str, Any]) -> str:
    return f"{vector['kind']}-{vector['utf8_bytes']}B-{vector['text'][:12]!r}"


def test_the_vectors_come_from_two_agreeing_postgres_servers() -> None:
    about = DOCUMENT["about"]
    versions = [server["version"] for server in about["servers"]]
    assert any(v.startswith("PostgreSQL 18.") for v in versions)
    assert any(v.startswith("PostgreSQL 16.") for v in versions)
    assert about["servers_agree"] is True
    assert all(server["server_encoding"] == "UTF8" for server in about["servers"])


def test_the_vectors_cover_what_the_issue_asks_for() -> None:
    lengths = {v["utf8_bytes"] for v in VECTORS}
    kinds = [v["kind"] for v in VECTORS]
    assert set(range(41)) <= lengths
    assert {11, 12, 13, 23, 24, 25} <= lengths
    assert max(lengths) >= 300
    assert kinds.count("uuid") >= 50
    texts = [v["text"] for v in VECTORS]
    assert "" in texts
    assert any("é" in t for t in texts)
    assert any("漢" in t for t in texts)
    assert any(any(ord(ch) > 0xFFFF for ch in t) for t in texts)
    assert any(v["hashtext"] == -(2**31) for v in VECTORS)
    assert any(v["hashtext"] < 0 for v in VECTORS)
    assert any(v["hashtext"] > 0 for v in VECTORS)


@pytest.mark.parametrize("path", HASH_PATHS)
def test_hash_bytes_matches_postgres(path: str) -> None:
    hash_bytes = hash_bytes_of(path)
    wrong = [v["text"] for v in VECTORS if _signed(hash_bytes(v["text"].encode("utf-8"))) != v["hashtext"]]
    assert wrong == []


@pytest.mark.parametrize("path", HASH_PATHS)
@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_hashtext_and_partition_for_match_postgres(vector: dict[str, Any], path: str) -> None:
    text = vector["text"]
    assert len(text.encode("utf-8")) == vector["utf8_bytes"]
    with hashing_path(path):
        assert hashtext(text) == vector["hashtext"]
        assert partition_for(text) == vector["mod100"]
        assert partition_for(text, 100) == vector["mod100"]
        assert partition_for(text, 7) == vector["mod7"]
        assert partition_for(text, 1024) == vector["mod1024"]


@pytest.mark.parametrize("path", HASH_PATHS)
@pytest.mark.parametrize("vector", [v for v in VECTORS if v["kind"] == "uuid"], ids=_id)
def test_a_uuid_hashes_like_its_lowercase_text(vector: dict[str, Any], path: str) -> None:
    value = uuid.UUID(vector["text"].upper())
    with hashing_path(path):
        assert hashtext(value) == vector["hashtext"]
        assert partition_for(value) == vector["mod100"]


def test_int_min_preimage_where_the_hosts_spelling_overflows() -> None:
    # The server raises "integer out of range" for abs(hashtext('cfa914a40')) % 100;
    # abs(hashtext(x) % 100) is 48, and that is what partition_for returns.
    assert hashtext("cfa914a40") == -(2**31)
    assert partition_for("cfa914a40") == 48
    assert "integer out of range" in DOCUMENT["about"]["int_min_note"]
