"""PostgreSQL's ``hashtext`` in Python, and the partition routing built on it.

``hashtext`` is Bob Jenkins' lookup3 ``hash_bytes`` as PostgreSQL ships it
(``src/common/hashfn.c``): the UTF-8 bytes are read little-endian in blocks of
12, mixed while at least 12 bytes remain, the last 0-11 bytes are added (those
for ``c`` shifted left by 8, its low byte being reserved), and ``final`` runs
always. The result is reinterpreted as a signed int32, as ``SELECT hashtext(x)``
returns it on a little-endian server.

The optional C accelerator ``semantik_chunks._hashtext`` computes the same
function; the pure-Python path below is the reference and the fallback.
"""

from __future__ import annotations

import struct
import uuid
from typing import Final

from semantik_chunks.domain.errors import ConfigurationError

_MASK: Final = 0xFFFFFFFF
_INITIAL: Final = 0x9E3779B9 + 3923095
MAX_PARTITIONS: Final = 1024
DEFAULT_PARTITION_COUNT: Final = 100


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def hash_bytes_py(data: bytes) -> int:
    """Unsigned 32-bit lookup3 hash of ``data``, exactly as PostgreSQL's ``hash_bytes``."""
    length = len(data)
    a = b = c = (_INITIAL + length) & _MASK
    full_blocks = length // 12
    words = struct.unpack_from(f"<{full_blocks * 3}I", data)
    for i in range(0, full_blocks * 3, 3):
        a = (a + words[i]) & _MASK
        b = (b + words[i + 1]) & _MASK
        c = (c + words[i + 2]) & _MASK
        a = (a - c) & _MASK
        a ^= _rot(c, 4)
        c = (c + b) & _MASK
        b = (b - a) & _MASK
        b ^= _rot(a, 6)
        a = (a + c) & _MASK
        c = (c - b) & _MASK
        c ^= _rot(b, 8)
        b = (b + a) & _MASK
        a = (a - c) & _MASK
        a ^= _rot(c, 16)
        c = (c + b) & _MASK
        b = (b - a) & _MASK
        b ^= _rot(a, 19)
        a = (a + c) & _MASK
        c = (c - b) & _MASK
        c ^= _rot(b, 4)
        b = (b + a) & _MASK
    # Zero padding adds nothing, so the 0-11 byte tail becomes three plain words.
    tail = data[full_blocks * 12 :] + bytes(11 - (length - full_blocks * 12))
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + (int.from_bytes(tail[8:11], "little") << 8)) & _MASK
    c ^= b
    c = (c - _rot(b, 14)) & _MASK
    a ^= c
    a = (a - _rot(c, 11)) & _MASK
    b ^= a
    b = (b - _rot(a, 25)) & _MASK
    c ^= b
    c = (c - _rot(b, 16)) & _MASK
    a ^= c
    a = (a - _rot(c, 4)) & _MASK
    b ^= a
    b = (b - _rot(a, 14)) & _MASK
    c ^= b
    c = (c - _rot(b, 24)) & _MASK
    return c


try:
    from semantik_chunks._hashtext import hash_bytes as _hash_bytes
except ImportError:  # no compiler at install time: the reference path is exact, only slower
    _hash_bytes = hash_bytes_py

ACCELERATED: Final = _hash_bytes is not hash_bytes_py


def postgres_text(value: str | uuid.UUID) -> bytes:
    """UTF-8 bytes of ``value`` as PostgreSQL's ``::text`` would store them.

    Raises ``TypeError`` for anything but ``str``/``UUID`` and ``ValueError`` for
    text PostgreSQL cannot store (a NUL character, a lone surrogate).
    """
    if isinstance(value, uuid.UUID):
        return str(value).encode("ascii")
    if not isinstance(value, str):
        raise TypeError(f"expected str or uuid.UUID, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"PostgreSQL text cannot contain a NUL character: {value!r}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"PostgreSQL text cannot contain a lone surrogate ({value[exc.start : exc.end]!r} at position {exc.start})"
        ) from None


def hashtext(value: str | uuid.UUID) -> int:
    """What ``SELECT hashtext(value)`` returns on a UTF8 PostgreSQL (>= 12, little-endian)."""
    h = _hash_bytes(postgres_text(value))
    return h - 0x100000000 if h & 0x80000000 else h


def validate_partition_count(partition_count: int) -> int:
    if isinstance(partition_count, bool) or not isinstance(partition_count, int):
        raise TypeError(f"partition count must be an int, got {type(partition_count).__name__}")
    if not 1 <= partition_count <= MAX_PARTITIONS:
        raise ValueError(f"partition count must be between 1 and {MAX_PARTITIONS}, got {partition_count}")
    return partition_count


def partition_for(collection_id: str | uuid.UUID, partition_count: int = 100) -> int:
    """The partition of ``collection_id``: PostgreSQL's ``abs(hashtext(collection_id) % N)``.

    PostgreSQL's ``%`` truncates toward zero, so ``abs(h % N) == abs(h) % N`` for
    every ``h``; Python's unbounded ints make ``abs(-2**31)`` safe here, unlike
    the server's ``abs(hashtext(x)) % N``.
    """
    validate_partition_count(partition_count)
    return abs(hashtext(collection_id)) % partition_count


def partition_table_name(partition_num: int, partition_count: int = 100) -> str:
    """The table of partition number ``partition_num``: ``chunks_part_07``, zero-padded to the width of
    ``N - 1``, at least two digits. (A collection's table: ``partition_name_for``.)"""
    validate_partition_count(partition_count)
    if isinstance(partition_num, bool) or not isinstance(partition_num, int):
        raise TypeError(f"partition number must be an int, got {type(partition_num).__name__}")
    if not 0 <= partition_num < partition_count:
        raise ValueError(f"partition number must be between 0 and {partition_count - 1}, got {partition_num}")
    width = max(2, len(str(partition_count - 1)))
    return f"chunks_part_{partition_num:0{width}d}"


def partition_name_for(collection_id: str | uuid.UUID, partition_count: int = 100) -> str:
    """The table that holds ``collection_id``'s chunks: ``partition_table_name(partition_for(collection_id))``."""
    return partition_table_name(partition_for(collection_id, partition_count), partition_count)


def parse_partition_count(raw: str | int | None) -> int:
    """A partition count as configured (``CHUNK_PARTITION_COUNT``, ``-x partition_count=N``): None or
    empty means the default, anything else must be a whole number from 1 to ``MAX_PARTITIONS``."""
    if raw is None or raw == "":
        return DEFAULT_PARTITION_COUNT
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int):  # int() would truncate 1.5 to 1
            raise TypeError(raw)
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"CHUNK_PARTITION_COUNT must be a whole number between 1 and {MAX_PARTITIONS}, got {raw!r}"
        ) from None
    if not 1 <= value <= MAX_PARTITIONS:
        raise ConfigurationError(f"CHUNK_PARTITION_COUNT must be between 1 and {MAX_PARTITIONS}, got {value}")
    return value
