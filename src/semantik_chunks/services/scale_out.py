"""Scale-out use cases: servers, placing one partition, spreading partitions to balance bytes."""

from __future__ import annotations

from collections.abc import Sequence

from semantik_chunks.domain.placement import (
    COORDINATOR,
    MoveOutcome,
    MoveProgressCallback,
    PlacementError,
    ServerStatus,
    SpreadPlan,
    check_server_name,
    plan_spread,
)
from semantik_chunks.ports import PartitionPlacement


class ScaleOutService:
    def __init__(self, placement: PartitionPlacement) -> None:
        self._placement = placement

    async def add_server(self, name: str, url: str, password: str | None = None) -> ServerStatus:
        return await self._placement.add_server(check_server_name(name), url, password)

    async def remove_server(self, name: str) -> None:
        await self._placement.remove_server(check_server_name(name))

    async def servers(self) -> list[ServerStatus]:
        return await self._placement.servers()

    async def place(
        self, partition_num: int, target: str, progress: MoveProgressCallback | None = None
    ) -> list[MoveOutcome]:
        """Move one partition to ``target``; from one server to another it goes home first (two moves)."""
        places = {p.partition_num: p.server for p in await self._placement.placements()}
        if partition_num not in places:
            raise PlacementError(f"partition {partition_num} does not exist")
        current = places[partition_num]
        outcomes = []
        if current not in (COORDINATOR, target) and target != COORDINATOR:
            outcomes.append(await self._placement.move(partition_num, COORDINATOR, progress))
        outcomes.append(await self._placement.move(partition_num, target, progress))
        return outcomes

    async def plan_spread(self, servers: Sequence[str]) -> SpreadPlan:
        known = {s.name for s in await self._placement.servers()} | {COORDINATOR}
        unknown = [s for s in servers if s not in known]
        if unknown:
            raise PlacementError(f"unknown servers: {', '.join(unknown)} (see `semantik-chunks servers list`)")
        return plan_spread(await self._placement.placements(), servers)

    async def spread(self, plan: SpreadPlan, progress: MoveProgressCallback | None = None) -> list[MoveOutcome]:
        outcomes: list[MoveOutcome] = []
        for move in plan.moves:
            outcomes += await self.place(move.partition_num, move.target, progress)
        return outcomes
