"""Concurrent reads that leave no orphans: ``concurrently(*reads)``, ``asyncio.gather`` done with a ``TaskGroup``.

Why not ``asyncio.gather``: when one of its awaitables fails, gather raises at once and the others
go on running, owned by nobody. A read of the database that outlives its caller keeps its connection
checked out; once the event loop closes (a request's test client, ``asyncio.run`` ending) it stays
that way, ``active`` or ``idle in transaction`` on the server, holding its locks. A ``TaskGroup``
cancels the others and waits until they have ended (and given their connections back) before the
failure reaches the caller.

A ``TaskGroup`` reports failures as an ``ExceptionGroup``; callers of the reads expect the domain
error a read raised (``DatabaseTimeoutError`` behind a held lock), as gather gave them. So the group
is unwrapped here, once: the first domain error (``ChunksError``) in the order the reads failed, else
the first error, is raised as it is (its own cause kept); every other failure is added to it as a
note, so nothing is swallowed. The standard library only: no I/O of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Iterator
from typing import Any, TypeVar, overload

from semantik_chunks.domain.errors import ChunksError

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")
F = TypeVar("F")
T = TypeVar("T")

__all__ = ["concurrently", "first_error"]


@overload
async def concurrently(a: Awaitable[A], b: Awaitable[B], /) -> tuple[A, B]: ...
@overload
async def concurrently(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], /) -> tuple[A, B, C]: ...
@overload
async def concurrently(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], d: Awaitable[D], /) -> tuple[A, B, C, D]: ...
@overload
async def concurrently(
    a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], d: Awaitable[D], e: Awaitable[E], /
) -> tuple[A, B, C, D, E]: ...
@overload
async def concurrently(
    a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], d: Awaitable[D], e: Awaitable[E], f: Awaitable[F], /
) -> tuple[A, B, C, D, E, F]: ...
@overload
async def concurrently(*reads: Awaitable[T]) -> tuple[T, ...]: ...
async def concurrently(*reads: Awaitable[Any]) -> tuple[Any, ...]:
    """The results of ``reads``, run concurrently, in the order given. If any fails, the others are
    cancelled and awaited, then ``first_error`` of the failures is raised."""
    failure: Exception | None = None
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_coroutine(read)) for read in reads]
    except ExceptionGroup as failed:
        failure = first_error(failed)
    if failure is not None:
        # Raised outside the ``except``: the error keeps its own cause and context, not the group's.
        raise failure
    return tuple(task.result() for task in tasks)


async def _as_coroutine(read: Awaitable[T]) -> T:
    return await read


def _coroutine(read: Awaitable[T]) -> Coroutine[Any, Any, T]:
    """``create_task`` takes coroutines only; a future or other awaitable is awaited by one."""
    return read if isinstance(read, Coroutine) else _as_coroutine(read)


def _leaves(group: BaseExceptionGroup[Exception]) -> Iterator[Exception]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def first_error(group: ExceptionGroup[Exception]) -> Exception:
    """The error to raise for ``group``: its first ``ChunksError`` (in the order the tasks failed),
    else its first error; the other failures are added to it as notes (``add_note``)."""
    leaves = list(_leaves(group))
    chosen = next((exc for exc in leaves if isinstance(exc, ChunksError)), leaves[0])
    for other in leaves:
        if other is not chosen:
            chosen.add_note(f"also failed concurrently: {type(other).__name__}: {other}")
    return chosen
