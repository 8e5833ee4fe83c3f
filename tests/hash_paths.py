"""The two implementations of ``hash_bytes``, for tests that run on both.

The C accelerator is optional for an install (``setup.py``: without a compiler the pure-Python
path is used), but the test suite checks both paths: the ``c`` parameter fails, never skips, when
the extension is not built (``pip install -e '.[dev]'`` builds it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from semantik_chunks.domain import hashing

HASH_PATHS = [pytest.param("python", id="python"), pytest.param("c", id="c")]


def hash_bytes_of(path: str) -> Callable[[bytes], int]:
    """``hash_bytes`` of ``path`` ("python" or "c")."""
    if path == "python":
        return hashing.hash_bytes_py
    try:
        from semantik_chunks._hashtext import hash_bytes
    except ImportError as exc:
        pytest.fail(f"the C extension semantik_chunks._hashtext is not built ({exc}); pip install -e '.[dev]'")
    return hash_bytes


@contextmanager
def hashing_path(path: str) -> Iterator[None]:
    """Route ``hashtext`` and ``partition_for`` through ``path``'s ``hash_bytes`` inside the block."""
    saved = hashing._hash_bytes
    hashing._hash_bytes = hash_bytes_of(path)
    try:
        yield
    finally:
        hashing._hash_bytes = saved
