"""Where partitions live: the coordinator (home) or another PostgreSQL server, and plans to move them.

Pure values and the balancing plan of ``place --spread``; the moves themselves are the
``PartitionPlacement`` port's (adapters/postgres/fdw.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import attrs

from semantik_chunks.domain.errors import ChunksError

COORDINATOR = "coordinator"
_SERVER_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")


class PlacementError(ChunksError):
    """A placement request that cannot be carried out as asked (unknown server, server in use, ...)."""


def check_server_name(name: str) -> str:
    """Server names become SQL identifiers: lower-case letters, digits and ``_``, not ``coordinator``."""
    if not _SERVER_NAME.fullmatch(name) or name == COORDINATOR:
        raise PlacementError(
            f"server name {name!r}: use 1-48 lower-case letters, digits and _ (not starting with a digit), "
            f"and not {COORDINATOR!r}"
        )
    return name


@attrs.frozen
class ServerStatus:
    """One server: where it is (never its credentials), what it holds, whether it answered."""

    name: str
    host: str
    port: int | None
    database: str
    partitions: tuple[int, ...]
    rows: int | None
    size_bytes: int | None
    reachable: bool
    error: str | None = None


@attrs.frozen
class PartitionPlace:
    partition_num: int
    server: str  # COORDINATOR or a server's name
    size_bytes: int


@attrs.frozen
class PlannedMove:
    partition_num: int
    source: str
    target: str
    size_bytes: int


@attrs.frozen
class SpreadPlan:
    servers: tuple[str, ...]
    moves: tuple[PlannedMove, ...]
    bytes_before: tuple[tuple[str, int], ...]
    bytes_after: tuple[tuple[str, int], ...]


@attrs.frozen
class MoveOutcome:
    partition_num: int
    source: str
    target: str
    rows: int
    rows_copied: int
    rows_replayed: int
    seconds: float
    checksum: str
    already_done: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows_copied / self.seconds if self.seconds > 0 else 0.0


@attrs.frozen
class MoveStep:
    """Progress of one move, for a progress line."""

    partition_num: int
    phase: str  # "copy", "catch-up", "swap", "analyze", "drop source", "done"
    rows_copied: int


MoveProgressCallback = Callable[[MoveStep], None]


def plan_spread(places: Sequence[PartitionPlace], servers: Sequence[str]) -> SpreadPlan:
    """Moves that balance bytes over ``servers`` (``COORDINATOR`` may be one of them), like Citus'
    ``get_rebalance_table_shards_plan`` by disk size: partitions on a server not named move first (to
    the emptiest named one, largest first), then the largest partition that narrows the gap moves from
    the fullest server to the emptiest, until no move narrows it. Deterministic; no partition moves twice."""
    names = tuple(dict.fromkeys(servers))
    if not names:
        raise PlacementError("--spread needs at least one server")
    # Every partition weighs at least one byte, so that empty partitions spread by count.
    weight = {p.partition_num: max(p.size_bytes, 1) for p in places}
    where = {p.partition_num: p.server for p in places}
    load = dict.fromkeys(names, 0)
    for p in places:
        if p.server in load:
            load[p.server] += weight[p.partition_num]
    before = tuple(sorted({**dict.fromkeys(names, 0), **_loads(places, weight)}.items()))
    assigned = dict(where)
    for p in sorted(places, key=lambda p: (-weight[p.partition_num], p.partition_num)):
        if p.server not in load:
            target = min(names, key=lambda n: (load[n], names.index(n)))
            assigned[p.partition_num] = target
            load[target] += weight[p.partition_num]
    moved: set[int] = {n for n in assigned if assigned[n] != where[n]}
    while True:
        fullest = max(names, key=lambda n: (load[n], -names.index(n)))
        emptiest = min(names, key=lambda n: (load[n], names.index(n)))
        gap = load[fullest] - load[emptiest]
        candidates = [n for n in assigned if assigned[n] == fullest and n not in moved and weight[n] < gap]
        if not candidates:
            break
        best = max(candidates, key=lambda n: (weight[n], -n))
        assigned[best] = emptiest
        moved.add(best)
        load[fullest] -= weight[best]
        load[emptiest] += weight[best]
    moves = tuple(
        PlannedMove(n, where[n], assigned[n], weight[n] if weight[n] > 1 else 0)
        for n in sorted(assigned)
        if assigned[n] != where[n]
    )
    after = _loads([PartitionPlace(n, assigned[n], weight[n]) for n in assigned], weight)
    return SpreadPlan(names, moves, before, tuple(sorted({**dict.fromkeys(names, 0), **after}.items())))


def _loads(places: Sequence[PartitionPlace], weight: dict[int, int]) -> dict[str, int]:
    loads: dict[str, int] = {}
    for p in places:
        loads[p.server] = loads.get(p.server, 0) + (weight[p.partition_num] if weight[p.partition_num] > 1 else 0)
    return loads
