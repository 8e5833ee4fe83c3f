"""Throughput of ``partition_for`` on distinct UUID strings, in one process on one core.

    .venv/bin/python benchmarks/bench_partition_for.py [--count 1000000] [--repeat 3]

Times ``partition_for(collection_id)`` (100 partitions) over ``--count`` distinct lowercase UUID
strings with ``time.perf_counter``, ``--repeat`` times, for the C accelerator and for the
pure-Python reference path, and prints calls per second (best and median run). The goal of
issue 2 is at least 300,000 calls/s.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator

from semantik_chunks import partition_for
from semantik_chunks.domain import hashing

GOAL = 300_000


def distinct_uuid_strings(count: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    values = {str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)}
    while len(values) < count:  # a collision among 122 random bits will not happen, but be exact
        values.add(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    return list(values)


@contextlib.contextmanager
def pure_python_path() -> Iterator[None]:
    """Route ``partition_for`` through the reference ``hash_bytes_py``, as without a compiler."""
    accelerated = hashing._hash_bytes
    hashing._hash_bytes = hashing.hash_bytes_py
    try:
        yield
    finally:
        hashing._hash_bytes = accelerated


def calls_per_second(ids: list[str], repeat: int) -> list[float]:
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for collection_id in ids:
            partition_for(collection_id)
        rates.append(len(ids) / (time.perf_counter() - start))
    return rates


def report(label: str, rates: list[float]) -> None:
    best, median = max(rates), statistics.median(rates)
    verdict = "meets" if best >= GOAL else "below"
    print(
        f"{label:<22} best {best:>12,.0f} calls/s   median {median:>12,.0f} calls/s   ({verdict} the {GOAL:,}/s goal)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="distinct UUID strings (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per path (default 3)")
    args = parser.parse_args()

    ids = distinct_uuid_strings(args.count)
    print(f"partition_for(uuid_text, 100) over {len(ids):,} distinct UUID strings, {args.repeat} runs per path")
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.processor() or platform.system()}")
    expected = [partition_for(x) for x in ids[:1000]]
    if hashing.ACCELERATED:
        report("C accelerator", calls_per_second(ids, args.repeat))
    else:
        print("C accelerator          not built (no compiler at install time)")
    with pure_python_path():
        assert [partition_for(x) for x in ids[:1000]] == expected  # both paths give the same partitions
        report("pure Python reference", calls_per_second(ids, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
