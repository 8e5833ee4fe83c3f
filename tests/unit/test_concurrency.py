"""``concurrently``: gather's results and errors, without orphans. No test waits on time: the reads
that must still be running when another fails wait on an event that is never set."""

from __future__ import annotations

import asyncio

import pytest

from semantik_chunks.domain.concurrency import concurrently, first_error
from semantik_chunks.domain.errors import DatabaseTimeoutError, DatabaseUnavailableError


async def value(v: int) -> int:
    await asyncio.sleep(0)
    return v


async def fail(exc: Exception, after: asyncio.Event | None = None) -> int:
    if after is not None:
        await after.wait()
    raise exc


async def test_results_come_back_in_the_order_given() -> None:
    async def text() -> str:
        return "x"

    assert await concurrently(value(1), text(), value(3)) == (1, "x", 3)
    assert await concurrently(*(value(i) for i in range(6))) == (0, 1, 2, 3, 4, 5)
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.set_result(7)
    assert await concurrently(future, value(8)) == (7, 8)  # any awaitable, not only coroutines


async def test_a_failure_cancels_and_awaits_the_others_before_it_reaches_the_caller() -> None:
    never = asyncio.Event()
    ended: list[str] = []

    async def waits_for_ever() -> int:
        try:
            await never.wait()
        finally:
            ended.append("cleaned up")  # as a read's connection is given back
        return 0

    cause = OSError("connection reset")
    error = DatabaseTimeoutError("the database did not answer in time")
    error.__cause__ = cause
    with pytest.raises(DatabaseTimeoutError) as raised:
        await concurrently(waits_for_ever(), fail(error))
    assert raised.value is error  # the read's own error, not an ExceptionGroup
    assert raised.value.__cause__ is cause  # its own cause kept
    assert ended == ["cleaned up"]  # the sibling ended before the caller heard of the failure
    assert not getattr(raised.value, "__notes__", None)  # nothing else failed


async def test_the_first_domain_error_is_raised_and_the_others_are_noted() -> None:
    second = asyncio.Event()
    programming = TypeError("a bug")
    timeout = DatabaseTimeoutError("timed out")
    unavailable = DatabaseUnavailableError("gone")

    async def first_then_release() -> int:
        try:
            raise programming
        finally:
            second.set()

    # The TypeError fails first, then the two domain errors (once it has): the first domain error wins.
    with pytest.raises(DatabaseTimeoutError) as raised:
        await concurrently(first_then_release(), fail(timeout, second), fail(unavailable, second))
    assert raised.value is timeout
    notes = raised.value.__notes__
    assert "also failed concurrently: TypeError: a bug" in notes
    assert "also failed concurrently: DatabaseUnavailableError: gone" in notes


async def test_without_a_domain_error_the_first_error_is_raised() -> None:
    with pytest.raises(KeyError):
        await concurrently(fail(KeyError("k")), value(1))


def test_first_error_looks_inside_nested_groups() -> None:
    inner = DatabaseTimeoutError("inner")
    group = ExceptionGroup("outer", [ValueError("v"), ExceptionGroup("nested", [inner])])
    chosen = first_error(group)
    assert chosen is inner
    assert chosen.__notes__ == ["also failed concurrently: ValueError: v"]


async def test_the_caller_being_cancelled_cancels_every_read() -> None:
    never = asyncio.Event()
    started = asyncio.Event()
    ended: list[int] = []

    async def read(n: int) -> int:
        started.set()
        try:
            await never.wait()
        finally:
            ended.append(n)
        return n

    task = asyncio.create_task(concurrently(read(1), read(2)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(ended) == [1, 2]
