"""Use cases of the table's shape: plan a new partition count or an isolation, and carry them out.

Every check of the operator's input happens here, before the port is asked to change anything:
a refused command changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import IsolatedCollection
from semantik_chunks.domain.reshape import (
    DEFAULT_ROWS_PER_SECOND,
    IsolationPlan,
    PendingChange,
    ReshapeError,
    ReshapeOutcome,
    ReshapePlan,
    ReshapeProgress,
    check_isolatable,
    check_split_parts,
    check_target_count,
    plan_isolation,
    plan_reshape,
)
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds
from semantik_chunks.ports import TableReshaper

Progress = Callable[[ReshapeProgress], None]


class ReshapeService:
    def __init__(self, reshaper: TableReshaper, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self._port = reshaper
        self._thresholds = thresholds

    async def _rate(self) -> float:
        return await self._port.move_rate() or DEFAULT_ROWS_PER_SECOND

    # -- plans (change nothing) --------------------------------------------------------------------

    async def plan_partitions(self, target: int) -> ReshapePlan:
        current = await self._port.current_partition_count()
        check_target_count(current, target)
        footprints = await self._port.collection_footprints()
        return plan_reshape(footprints, current, target, self._thresholds, await self._rate())

    async def plan_isolation(self, collection_id: str, split_parts: int | None = None) -> IsolationPlan:
        parts = check_split_parts(split_parts)
        await self._check_isolatable(collection_id)
        current = await self._port.current_partition_count()
        footprints = await self._port.collection_footprints()
        number = partition_for(collection_id, current)
        return plan_isolation(footprints, collection_id, number, current, parts, self._thresholds, await self._rate())

    async def isolated(self) -> list[IsolatedCollection]:
        return await self._port.isolated_collections()

    async def pending(self) -> PendingChange | None:
        return await self._port.pending()

    # -- changes -----------------------------------------------------------------------------------

    async def _refuse_other_pending(self, command: str) -> bool:
        """True when ``command`` is the unfinished change (the port resumes it); raises for another one."""
        pending = await self._port.pending()
        if pending is None:
            return False
        if pending.describe() == command:
            return True
        raise ReshapeError(
            f"an unfinished `{pending.describe()}` is in progress; run that command again to finish it"
            + (", or `semantik-chunks reshape --undo` to abandon it" if pending.kind == "partitions" else "")
        )

    async def reshape(self, target: int, progress: Progress | None = None) -> ReshapeOutcome:
        """Change the partition count to ``target`` online. A rerun of a killed run finishes it; a run
        after a finished one is a no-op."""
        if await self._refuse_other_pending(f"reshape --partitions {target}"):
            return await self._port.reshape(target, progress)
        current = await self._port.current_partition_count()
        if target == current and await self._port.previous_count() is not None:
            return ReshapeOutcome("partitions", current, target, noop=True)
        check_target_count(current, target)
        isolated = await self._port.isolated_collections()
        if isolated:
            names = ", ".join(i.collection_id for i in isolated)
            raise ReshapeError(
                f"collections {names} are isolated; undo that first (`semantik-chunks isolate ID --undo`), "
                "then reshape, then isolate them again"
            )
        return await self._port.reshape(target, progress)

    async def undo_reshape(self, progress: Progress | None = None) -> ReshapeOutcome:
        """Abandon an unfinished reshape (the table was not touched yet), or reshape back to the count
        before the last finished one."""
        pending = await self._port.pending()
        if pending is not None:
            if pending.kind != "partitions":
                raise ReshapeError(f"an unfinished `{pending.describe()}` is in progress; run it again to finish it")
            await self._port.abandon()
            return ReshapeOutcome("abandon", pending.from_count, pending.from_count, noop=True)
        previous = await self._port.previous_count()
        if previous is None:
            raise ReshapeError("no reshape to undo: this database was never reshaped")
        current = await self._port.current_partition_count()
        if previous == current:
            return ReshapeOutcome("partitions", current, current, noop=True)
        return await self.reshape(previous, progress)

    async def _check_isolatable(self, collection_id: str) -> None:
        check_isolatable(
            collection_id,
            await self._port.collection_exists(collection_id),
            await self._port.isolated_collections(),
        )

    async def isolate(
        self, collection_id: str, split_parts: int | None = None, progress: Progress | None = None
    ) -> ReshapeOutcome:
        parts = check_split_parts(split_parts)
        split = f" --split-documents {parts}" if parts > 1 else ""
        if await self._refuse_other_pending(f"isolate {collection_id}{split}"):
            return await self._port.isolate(collection_id, parts, progress)
        await self._check_isolatable(collection_id)
        return await self._port.isolate(collection_id, parts, progress)

    async def release(self, collection_id: str, progress: Progress | None = None) -> ReshapeOutcome:
        if await self._refuse_other_pending(f"isolate {collection_id} --undo"):
            return await self._port.release(collection_id, progress)
        if not any(i.collection_id == collection_id for i in await self._port.isolated_collections()):
            if not await self._port.collection_exists(collection_id):
                raise ReshapeError(f"collection {collection_id!r} does not exist in collections")
            raise ReshapeError(f"collection {collection_id!r} is not isolated; there is nothing to undo")
        return await self._port.release(collection_id, progress)
