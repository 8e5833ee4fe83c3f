"""Advice and alert wording: what to tell an operator about the skews and the chance model's verdict.

Every sentence an operator reads (per-partition recommendation, rebalancing advice, alerts and
the overall verdict) is written here; the measures are in ``skew``, the judgement of what is
noise in ``chance``.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence

from semantik_chunks.domain.chance import beyond_chance, collision_by_chance, explained_by_large_collections
from semantik_chunks.domain.hashing import MAX_PARTITIONS, partition_table_name
from semantik_chunks.domain.history import PartitionForecast, capacity_budget, describe
from semantik_chunks.domain.model import (
    MAX_SPLIT_PARTS,
    MIN_SPLIT_PARTS,
    Alert,
    AlertCause,
    AlertLevel,
    CollectionCount,
    CollectionShare,
    HotPartition,
    IsolatedCollection,
    PartitionHealth,
    PartitionHealthStatus,
    Priority,
    Recommendation,
    ServerTotals,
)
from semantik_chunks.domain.thresholds import Thresholds

CLI = "semantik-chunks"
HOT_COMMAND = f"{CLI} hot"
REFRESH_COMMAND = f"{CLI} refresh"
DOMINANT_SHARE = 0.5  # a collection holding this share of its partition's rows dominates it


def suggested_partition_count(partition_count: int) -> int:
    """The partition count a reshape proposes: twice as many (collections spread thinner), within
    ``MAX_PARTITIONS``; at the maximum, one fewer (a different modulus places every collection anew)."""
    doubled = min(2 * partition_count, MAX_PARTITIONS)
    return doubled if doubled != partition_count else partition_count - 1


def reshape_command(partition_count: int) -> str:
    return f"{CLI} reshape --partitions {suggested_partition_count(partition_count)}"


def plan_command(partition_count: int) -> str:
    return f"{CLI} plan --partitions {suggested_partition_count(partition_count)}"


def isolate_command(collection_id: str, parts: int = 1) -> str:
    """``semantik-chunks isolate <id> [--split-documents K]`` (K = ``parts`` when more than one), the id
    quoted for a POSIX shell when it needs it."""
    split = f" --split-documents {parts}" if parts > 1 else ""
    return f"{CLI} isolate {shlex.quote(collection_id)}{split}"


def resplit_command(collection_id: str, parts: int) -> str:
    """An isolated collection into ``parts`` hash parts: an isolation is undone, then done again (both
    online; ``isolate`` refuses a collection isolated already)."""
    quoted = shlex.quote(collection_id)
    return f"{CLI} isolate {quoted} --undo && {isolate_command(collection_id, parts)}"


# A collection is split so that each part holds at most this fraction of its budget: room to double
# before its parts are over budget again.
SPLIT_HEADROOM = 0.5


def budget_rows(total_rows: int, partition_count: int, thresholds: Thresholds) -> float:
    """The share budget in rows: a table (a partition, or a leaf of an isolated one) holding this many
    rows or more is over it (``over_budget``)."""
    return thresholds.capacity_share_factor * total_rows / partition_count if partition_count else 0.0


def split_parts(rows: int, size_bytes: int, total_rows: int, partition_count: int, thresholds: Thresholds) -> int:
    """How many hash parts (``--split-documents K``) an isolated collection of ``rows`` rows and
    ``size_bytes`` bytes needs so that each part holds at most ``SPLIT_HEADROOM`` of the budget (rows,
    and bytes when a byte budget is set): 1 when it fits in one table so, else 2..``MAX_SPLIT_PARTS``."""
    limit = budget_rows(total_rows, partition_count, thresholds) * SPLIT_HEADROOM
    needed = math.ceil(rows / limit) if limit > 0 else 1
    if thresholds.max_partition_bytes is not None:
        needed = max(needed, math.ceil(size_bytes / (thresholds.max_partition_bytes * SPLIT_HEADROOM)))
    return 1 if needed <= 1 else min(MAX_SPLIT_PARTS, max(MIN_SPLIT_PARTS, needed))


WARNING_RECOMMENDATION = "Monitor partition growth"
UNBALANCED_RECOMMENDATION = "Unbalanced: see the rebalancing recommendations for the collections behind it"


STALE_COLLECTION_STATS_ALERT = Alert(
    level=AlertLevel.INFO,
    message="collection_chunking_stats is missing or stale, so chance is judged from partition totals only",
    action="Refresh it for collection-level advice",
    cause=AlertCause.PLACEMENT,
    command=REFRESH_COMMAND,
)


def recommendation_text(status: PartitionHealthStatus) -> str | None:
    """The one-line recommendation of a partition's health row (``partition_health_summary``)."""
    if status is PartitionHealthStatus.UNBALANCED:
        return UNBALANCED_RECOMMENDATION
    if status is PartitionHealthStatus.WARNING:
        return WARNING_RECOMMENDATION
    return None


def recommendations(
    healths: Sequence[PartitionHealth],
    thresholds: Thresholds,
    collections_by_partition: Mapping[int, Sequence[CollectionShare]],
    sigma: float | None,
    partition_count: int,
    large_collections: int | None = None,
    isolated: Sequence[IsolatedCollection] = (),
) -> list[Recommendation]:
    """Advice for every over-full partition at or above the rebalance threshold, worst first.

    Under-full partitions need no action: they only mean the others carry more.
    Rows go where their collection hashes, so the advice names the collections behind
    a partition; no change of hash spreads a single collection over partitions. A dominant
    collection isolated already (``isolated``) is said to be so, not to be isolated again.
    """
    isolated_by_id = {i.collection_id: i for i in isolated}
    result = []
    fair = 100.0 / partition_count
    for h in sorted(healths, key=lambda h: (-h.chunk_skew, h.partition_num)):
        if h.chunk_skew < thresholds.rebalance or h.chunk_percentage <= fair:
            continue
        shares = tuple(collections_by_partition.get(h.partition_num, ()))
        real = beyond_chance(h.chunk_skew, sigma, thresholds)
        fair_rows = h.total_chunks / partition_count
        large = [c for c in shares if c.chunk_count > fair_rows]
        by_chance = large_collections is None or collision_by_chance(
            len(large), large_collections, partition_count, thresholds
        )
        dominant = (
            large
            if by_chance
            and explained_by_large_collections(h, sum(c.chunk_count for c in large), partition_count, thresholds)
            else None
        )
        if dominant:
            held = sum(c.share_of_partition for c in dominant)
            first = dominant[0]
            parts = split_parts(
                first.chunk_count,
                round(h.size_bytes * first.share_of_partition),
                h.total_chunks,
                partition_count,
                thresholds,
            )
            who = (
                f"Collection {dominant[0].collection_id} alone holds"
                if len(dominant) == 1
                else f"Collections {', '.join(c.collection_id for c in dominant)} together hold"
            )
            done = isolated_by_id.get(first.collection_id)
            remedy = (
                f"It is isolated already ({done.sub_partition}, {done.parts} part{'s' if done.parts > 1 else ''}): "
                "the health check judges each part and the neighbours' DEFAULT sub-partition against the "
                "capacity budget, and says when it needs more parts."
                if done is not None
                else "If it keeps growing, give it a sub-partition of its own: "
                f"`{isolate_command(first.collection_id, parts)}` (online; see docs/reshape.md)."
            )
            action = (
                f"{who} {held:.0%} of this partition; a collection always lives in one partition, so no hash "
                f"or partition-count change spreads it. {remedy}"
            )
        elif real:
            action = (
                "Several collections hash here and together exceed what chance explains. Check that every "
                "writer uses partition_for; if they do, more partitions spread collections thinner: see "
                "`semantik-chunks plan --partitions M`, then `semantik-chunks reshape --partitions M` (online)."
            )
        else:
            action = (
                "Within what random placement of this many collections produces; no action needed. "
                "It evens out as collections are added."
            )
        if h.chunk_skew >= thresholds.critical and real:
            priority = Priority.HIGH
        elif h.chunk_skew >= thresholds.critical:
            priority = Priority.MEDIUM
        else:
            priority = Priority.LOW
        result.append(
            Recommendation(
                partition_num=h.partition_num,
                reason=(f"High chunk skew: {h.chunk_percentage:.2f}% of chunks against a fair share of {fair:.2f}%"),
                current_skew=h.chunk_skew,
                action=action,
                priority=priority,
                top_collections=shares,
            )
        )
    return result


def _count_alert(
    partitions: Sequence[PartitionHealth],
    sigma: float | None,
    thresholds: Thresholds,
    *,
    level: AlertLevel,
    what: str,
    action: str,
    command: str,
) -> list[Alert]:
    if not partitions:
        return []
    real = [p for p in partitions if beyond_chance(p.chunk_skew, sigma, thresholds)]
    chance = [p for p in partitions if p not in real]
    alerts = []
    if real:
        alerts.append(
            Alert(
                level=level,
                message=f"{len(real)} partitions {what}",
                action=action,
                partitions=tuple(p.partition_num for p in real),
                cause=AlertCause.PLACEMENT,
                command=command,
            )
        )
    if chance:
        alerts.append(
            Alert(
                level=AlertLevel.INFO,
                message=(
                    f"{len(chance)} partitions {what}, within what chance produces for this spread of "
                    f"collections (skew standard deviation {sigma:.2f})"
                ),
                action="None needed; the spread narrows as collections are added",
                partitions=tuple(p.partition_num for p in chance),
                cause=AlertCause.PLACEMENT,
            )
        )
    return alerts


def _large_collections_alert(
    partitions: Sequence[PartitionHealth], large: Mapping[int, Sequence[CollectionCount]]
) -> Alert:
    names = ", ".join(
        f"{'+'.join(c.collection_id for c in large[p.partition_num])} in {p.partition_num}" for p in partitions[:3]
    )
    more = f" and {len(partitions) - 3} more" if len(partitions) > 3 else ""
    return Alert(
        level=AlertLevel.INFO,
        message=f"{len(partitions)} partitions are large because of collections larger than a fair share "
        f"({names}{more})",
        action=(
            "None for the hash: a collection always lives in one partition. A partition beyond its "
            "capacity budget gets a capacity alert of its own"
        ),
        partitions=tuple(p.partition_num for p in partitions),
        cause=AlertCause.PLACEMENT,
    )


def _hot_alerts(hot: Sequence[HotPartition], activity_last_hour: int, thresholds: Thresholds) -> list[Alert]:
    """Hot partitions. One collection being ingested makes its partition hot by design: INFO."""
    if not hot:
        return []
    ingest = [h for h in hot if h.top_collections and h.top_collections[0].share_of_partition >= 0.5]
    other = [h for h in hot if h not in ingest]
    enough = activity_last_hour >= thresholds.hot_min_writes
    share = f">= {thresholds.hot_hour_share:.1%} of {activity_last_hour} writes in the last hour"
    result = []
    if ingest:
        names = ", ".join(f"{h.top_collections[0].collection_id} in {h.partition_num}" for h in ingest[:3])
        result.append(
            Alert(
                level=AlertLevel.INFO,
                message=f"{len(ingest)} hot partitions took {share}, each mostly one collection's ingest ({names})",
                action="None: an ingest writes to its collection's partition only",
                partitions=tuple(h.partition_num for h in ingest),
                cause=AlertCause.HOT_WRITES,
                command=HOT_COMMAND,
            )
        )
    if other:
        result.append(
            Alert(
                level=AlertLevel.WARNING if enough else AlertLevel.INFO,
                message=f"{len(other)} hot partitions took {share}",
                action=(
                    "Check which collections write there (see hot partitions)"
                    if enough
                    else f"Too few writes to matter (fewer than {thresholds.hot_min_writes} in the last hour)"
                ),
                partitions=tuple(h.partition_num for h in other),
                cause=AlertCause.HOT_WRITES,
                command=HOT_COMMAND,
            )
        )
    return result


def alerts(
    healths: Sequence[PartitionHealth],
    hot: Sequence[HotPartition],
    activity_last_hour: int,
    sigma: float | None,
    thresholds: Thresholds,
    large: Mapping[int, Sequence[CollectionCount]] | None = None,
) -> list[Alert]:
    """Alerts from partition health and recent writes.

    Over-full partitions beyond chance raise CRITICAL (unbalanced) or WARNING. Those that chance
    explains, or that their large collections explain (``large``: per partition, its collections
    larger than a fair share), raise INFO only: both are the shape of the workload, not a fault."""
    large = large or {}
    partition_count = len(healths)
    fair = 100.0 / partition_count if healths else 0.0
    over = [h for h in healths if h.chunk_percentage > fair and h.health_status is not PartitionHealthStatus.HEALTHY]
    large_count = sum(len(found) for found in large.values())
    by_large = [
        h
        for h in over
        if explained_by_large_collections(
            h, sum(c.chunk_count for c in large.get(h.partition_num, ())), partition_count, thresholds
        )
        and collision_by_chance(len(large.get(h.partition_num, ())), large_count, partition_count, thresholds)
    ]
    rest = [h for h in over if h not in by_large]
    result = [_large_collections_alert(by_large, large)] if by_large else []
    result += _count_alert(
        [h for h in rest if h.health_status is PartitionHealthStatus.UNBALANCED],
        sigma,
        thresholds,
        level=AlertLevel.CRITICAL,
        what="are unbalanced",
        action="Review the rebalancing recommendations for the collections behind them",
        command=reshape_command(partition_count),
    )
    result += _count_alert(
        [h for h in rest if h.health_status is PartitionHealthStatus.WARNING],
        sigma,
        thresholds,
        level=AlertLevel.WARNING,
        what="showing early signs of imbalance",
        action="Monitor closely and plan preventive maintenance",
        command=plan_command(partition_count),
    )
    return result + _hot_alerts(hot, activity_last_hour, thresholds)


def _size(size_bytes: int) -> str:
    value = float(size_bytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def over_budget(h: PartitionHealth, partition_count: int, thresholds: Thresholds) -> tuple[bool, bool]:
    """``(over its share budget, over its byte budget)``: the capacity question for one partition.
    The share budget is ``1 + capacity`` times the fair share, whatever put the rows there."""
    return _over(h.chunk_count, h.size_bytes, h.total_chunks, partition_count, thresholds)


def _over(
    rows: float, size_bytes: float, total: int, partition_count: int, thresholds: Thresholds
) -> tuple[bool, bool]:
    """``over_budget`` for one table of ``rows`` rows and ``size_bytes`` bytes: a partition, or one leaf of
    an isolated partition (one of an isolated collection's parts, or the DEFAULT sub-partition)."""
    over_full = rows * partition_count > total
    over_share = over_full and rows * partition_count / total - 1 >= thresholds.capacity
    limit = thresholds.max_partition_bytes
    return over_share, limit is not None and size_bytes > limit


def _remedy(
    rows: int,
    size_bytes: int,
    counts: Sequence[CollectionCount],
    partition_count: int,
    total: int,
    thresholds: Thresholds,
) -> tuple[str, str, str]:
    """``(who fills it, action, command)`` for a partition over (or about to cross) its budget: isolate a
    collection holding ``DOMINANT_SHARE`` of its rows, in as many hash parts as keep each within half its
    budget (``split_parts``); else spread its collections over more partitions; without collection
    statistics, refresh them to find out."""
    ordered = sorted(counts, key=lambda c: (-c.chunk_count, c.collection_id))
    top = ordered[0] if ordered else None
    if top is not None and rows and top.chunk_count >= DOMINANT_SHARE * rows:
        held = min(1.0, top.chunk_count / rows)
        parts = split_parts(top.chunk_count, round(size_bytes * held), total, partition_count, thresholds)
        into = f"{parts} hash parts" if parts > 1 else "a sub-partition"
        return (
            f"; collection {top.collection_id} holds {held:.0%} of it",
            f"Isolate collection {top.collection_id} into {into} of its own "
            "(a collection always lives in one partition, so no hash change spreads it)",
            isolate_command(top.collection_id, parts),
        )
    if top is not None:
        return (
            "; no collection holds half of it",
            "Spread its collections over more partitions",
            reshape_command(partition_count),
        )
    return (
        "; collection statistics do not say who fills it",
        "Refresh collection statistics, then check again to name the collection to isolate",
        REFRESH_COMMAND,
    )


def forecast_alerts(
    crossing: Sequence[PartitionForecast],
    counts_by_partition: Mapping[int, Sequence[CollectionCount]],
    partition_count: int,
    thresholds: Thresholds,
    isolated: Sequence[IsolatedCollection] = (),
) -> list[Alert]:
    """One WARNING per partition whose forecast crosses its capacity budget within the horizon (those
    over it already have a capacity alert), soonest first, with the command to act before it does.

    A partition with isolated collections is left out: its budget is judged per leaf table (see
    ``capacity_alerts``), and the history, one sample per top-level partition, does not say which leaf
    grows; the capacity check of every run judges its leaves as they are."""
    budget = capacity_budget(thresholds)
    remedied = {i.partition_num for i in isolated}
    result = []
    for found in sorted(crossing, key=lambda f: (f.crosses_at is None, f.crosses_at, f.partition_num)):
        if found.partition_num in remedied:
            continue
        # share_of_fair = rows / (total / N): the table's total rows at the sample.
        total = round(found.row_count * partition_count / found.share_of_fair) if found.share_of_fair else 0
        who, action, command = _remedy(
            found.row_count,
            found.size_bytes,
            counts_by_partition.get(found.partition_num, ()),
            partition_count,
            total,
            thresholds,
        )
        summary = describe(found, partition_table_name(found.partition_num, partition_count), budget)
        result.append(
            Alert(
                level=AlertLevel.WARNING,
                message=f"{summary} (within the {thresholds.forecast_horizon_days:g}-day horizon){who}",
                action=f"Before it does: {action[0].lower()}{action[1:]}",
                partitions=(found.partition_num,),
                cause=AlertCause.FORECAST,
                command=command,
            )
        )
    return result


def capacity_alerts(
    healths: Sequence[PartitionHealth],
    counts_by_partition: Mapping[int, Sequence[CollectionCount]],
    thresholds: Thresholds,
    isolated: Sequence[IsolatedCollection] = (),
) -> list[Alert]:
    """One CRITICAL capacity alert per table beyond its budget, largest partition first.

    Chance does not excuse a partition from its budget: a partition one collection dominates is
    too big for one table however it got there. The command: isolate the dominant collection
    (``DOMINANT_SHARE`` of the partition's rows, in ``split_parts`` hash parts); without one, spread
    the partition's collections over more partitions; without collection statistics, refresh them.

    **Remedied.** A partition with isolated collections (``isolated``) is no longer one table: the budget
    is judged per leaf table instead, each isolated collection's parts (its rows and bytes shared evenly
    by its K parts: they are hash parts on ``id``) and the DEFAULT sub-partition of its neighbours (the
    partition's rows and bytes less its isolated collections'). A partition whose leaves are all within
    the budget raises nothing, however large it is; a leaf still over it raises its own alert (``_leaf_alerts``)."""
    partition_count = len(healths)
    by_partition: dict[int, list[IsolatedCollection]] = {}
    for found in isolated:
        by_partition.setdefault(found.partition_num, []).append(found)
    result = []
    for h in sorted(healths, key=lambda h: (-h.chunk_count, h.partition_num)):
        over_share, over_bytes = over_budget(h, partition_count, thresholds)
        if not (over_share or over_bytes):
            continue
        counts = counts_by_partition.get(h.partition_num, ())
        if h.partition_num in by_partition:
            result += _leaf_alerts(h, by_partition[h.partition_num], counts, partition_count, thresholds)
            continue
        name = partition_table_name(h.partition_num, partition_count)
        reasons = _reasons(h.chunk_count, h.size_bytes, h.total_chunks, partition_count, thresholds, "it")
        who, action, command = _remedy(h.chunk_count, h.size_bytes, counts, partition_count, h.total_chunks, thresholds)
        result.append(
            Alert(
                level=AlertLevel.CRITICAL,
                message=f"{name} is beyond its capacity budget: {reasons}{who}",
                action=action,
                partitions=(h.partition_num,),
                cause=AlertCause.CAPACITY,
                command=command,
            )
        )
    return result


def _reasons(rows: float, size_bytes: float, total: int, partition_count: int, thresholds: Thresholds, who: str) -> str:
    """Why a table is over its budget: ``it holds 94.5% of all chunks, 94.5x its fair share (budget 4x)``."""
    over_share, over_bytes = _over(rows, size_bytes, total, partition_count, thresholds)
    reasons = []
    if over_share:
        factor = rows * partition_count / total
        reasons.append(
            f"holds {100.0 * rows / total:.1f}% of all chunks, {factor:.1f}x the fair share of a partition "
            f"(budget {thresholds.capacity_share_factor:g}x)"
            if who != "it"
            else f"holds {100.0 * rows / total:.1f}% of all chunks, {factor:.1f}x its fair share "
            f"(budget {thresholds.capacity_share_factor:g}x)"
        )
    if over_bytes:
        reasons.append(
            f"takes {_size(round(size_bytes))} on disk (budget {_size(thresholds.max_partition_bytes or 0)})"
        )
    return f"{who} {' and '.join(reasons)}"


def _leaf_alerts(
    h: PartitionHealth,
    isolated: Sequence[IsolatedCollection],
    counts: Sequence[CollectionCount],
    partition_count: int,
    thresholds: Thresholds,
) -> list[Alert]:
    """The capacity alerts of a partition with isolated collections: one per leaf table still over the
    budget. An isolated collection's parts over it: split it into more parts (twice as many, or as many as
    ``split_parts`` says if more, at most ``MAX_SPLIT_PARTS``). The DEFAULT sub-partition over it: the
    remedy of a whole partition (``_remedy``) for the collections in it."""
    total = h.total_chunks
    name = partition_table_name(h.partition_num, partition_count)
    result = []
    for found in sorted(isolated, key=lambda i: (-i.rows, i.collection_id)):
        per_part_rows, per_part_bytes = found.rows / found.parts, found.bytes / found.parts
        if not any(_over(per_part_rows, per_part_bytes, total, partition_count, thresholds)):
            continue
        each = "each of its" if found.parts > 1 else "its"
        tables = f"{found.sub_partition}_p0..p{found.parts - 1}" if found.parts > 1 else found.sub_partition
        reasons = _reasons(per_part_rows, per_part_bytes, total, partition_count, thresholds, "each")
        wanted = max(2 * found.parts, split_parts(found.rows, found.bytes, total, partition_count, thresholds))
        if found.parts >= MAX_SPLIT_PARTS:
            action = (
                f"Collection {found.collection_id} has the most parts an isolation makes ({MAX_SPLIT_PARTS}); "
                "raise the capacity budget for it (capacity, max_partition_bytes) or move part of it elsewhere"
            )
            command = None
        else:
            parts = min(MAX_SPLIT_PARTS, wanted)
            action = (
                f"Split collection {found.collection_id} into {parts} hash parts instead of {found.parts}: "
                "undo its isolation, then isolate it again (both online; see docs/reshape.md)"
            )
            command = resplit_command(found.collection_id, parts)
        result.append(
            Alert(
                level=AlertLevel.CRITICAL,
                message=(
                    f"{name}: collection {found.collection_id} is isolated ({tables}) but {each} "
                    f"{found.parts} part{'s' if found.parts > 1 else ''} is beyond the capacity budget: {reasons}"
                ),
                action=action,
                partitions=(h.partition_num,),
                cause=AlertCause.CAPACITY,
                command=command,
            )
        )
    mine = {i.collection_id for i in isolated}
    rows = max(0, h.chunk_count - sum(i.rows for i in isolated))
    size_bytes = max(0, h.size_bytes - sum(i.bytes for i in isolated))
    if any(_over(rows, size_bytes, total, partition_count, thresholds)):
        neighbours = [c for c in counts if c.collection_id not in mine]
        who, action, command = _remedy(rows, size_bytes, neighbours, partition_count, total, thresholds)
        if command.startswith(f"{CLI} reshape"):
            ids = ", ".join(sorted(mine))
            action += f" (a reshape needs the isolation of {ids} undone first: `{CLI} isolate ID --undo`)"
        reasons = _reasons(rows, size_bytes, total, partition_count, thresholds, "it")
        result.append(
            Alert(
                level=AlertLevel.CRITICAL,
                message=(
                    f"{name}_default (the neighbours of the isolated collections in {name}) is beyond the "
                    f"capacity budget: {reasons}{who}"
                ),
                action=action,
                partitions=(h.partition_num,),
                cause=AlertCause.CAPACITY,
                command=command,
            )
        )
    return result


def unreachable_alert(servers: Sequence[ServerTotals]) -> Alert:
    """CRITICAL: partitions whose server did not answer were counted as empty (a degraded check)."""
    parts = "; ".join(f"server {s.server} ({s.error}): partitions {', '.join(map(str, s.partitions))}" for s in servers)
    partitions = tuple(sorted(p for s in servers for p in s.partitions))
    return Alert(
        level=AlertLevel.CRITICAL,
        message=f"{len(partitions)} partitions could not be read, their servers did not answer; "
        f"they count as empty in this check: {parts}",
        action=f"Check that {', '.join(s.server for s in servers)} is running and reachable from the coordinator "
        "(semantik-chunks servers list)",
        partitions=partitions,
        cause=AlertCause.MONITORING,
        command="semantik-chunks servers list",
    )
