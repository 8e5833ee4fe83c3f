"""Taking over a host's chunks table, in the domain's words: how a run of the row mover goes and ends.

The Postgres adapter does the work (``adapters/postgres/takeover.py`` and ``mover.py``); these
values are what the services and the entry points see of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import attrs

from semantik_chunks.domain.errors import ChunksError


class AdoptionError(ChunksError):
    """The chunks table cannot be taken over or its rows moved as things are; the message says why."""


@attrs.frozen
class MoveProgress:
    """Where a run is, reported after every batch and when a source partition is done."""

    source_partition: int
    partitions_done: int
    partition_count: int
    moved: int
    batches: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.moved / self.seconds if self.seconds > 0 else 0.0


def _frozen_counts(counts: Mapping[int, int]) -> Mapping[int, int]:
    return MappingProxyType(dict(counts))


@attrs.frozen
class MoveReport:
    """What a run did (or, with ``dry_run``, would do)."""

    partition_count: int
    moved: int
    batches: int
    seconds: float
    validated: bool
    dry_run: bool = False
    would_gain: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen_counts)
    would_lose: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen_counts)

    @property
    def rows_per_second(self) -> float:
        return self.moved / self.seconds if self.seconds > 0 else 0.0

    @property
    def would_move(self) -> int:
        return sum(self.would_lose.values())


Progress = Callable[[MoveProgress], None]
