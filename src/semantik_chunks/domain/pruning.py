"""Statements on ``chunks`` that miss partition pruning: what they cost, and how to fix them.

Storage reports every statement it has statistics for that names ``chunks`` or one of its
partitions (``StatementPlan``: calls, time, rows, and how many partitions its plan reads when it
is called, or why it could not be planned). This module judges them: a statement that reads more
than one partition is listed with the fix in words; one that reads every partition and takes more
than ``alert_share`` of the time spent on ``chunks`` raises an alert whose cause is pruning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.domain.model import Alert, AlertCause, AlertLevel

PRUNING_CAUSE = AlertCause.PRUNING.value
DEFAULT_ALERT_SHARE = 0.1
INSUFFICIENT_PRIVILEGE_TEXT = "<insufficient privilege>"

ENABLE_HINT = (
    "add shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, restart PostgreSQL, "
    "then run CREATE EXTENSION pg_stat_statements in this database"
)

# The statements PREPARE accepts; anything else is a utility statement (DDL, COPY, VACUUM, ...).
_PLANNABLE = frozenset({"select", "with", "insert", "update", "delete", "merge", "values", "table"})
_LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/|\()*", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
# pg_stat_statements writes a typed literal (``interval '1 hour'``) as ``interval $3``, which is not
# SQL; ``CAST($3 AS interval)`` is what it meant.
_TYPED_PARAMETER = re.compile(
    r"\b(timestamp\s+with\s+time\s+zone|timestamp\s+without\s+time\s+zone|time\s+with\s+time\s+zone|"
    r"time\s+without\s+time\s+zone|double\s+precision|character\s+varying|"
    r"interval|timestamptz|timestamp|timetz|time|date|numeric|decimal|bigint|integer|int8|int4|int2|"
    r"smallint|int|real|float8|float4|boolean|bool|text|varchar|char|uuid|jsonb|json|bytea|inet|cidr)"
    r"\s+\$(\d+)\b",
    re.IGNORECASE,
)
# A condition on the column (not merely its name in a select list or a GROUP BY).
_COLLECTION_CONDITION = re.compile(r"\bcollection_id\s*(?:=|\bin\b|\bis\b)", re.IGNORECASE)
_KEY_CONDITION = re.compile(r"\bpartition_key\s*(?:=|<|>|\bin\b|\bbetween\b)", re.IGNORECASE)
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)


# The plan's shape: which partitions a statement's plan reads depends on its relations, conditions and
# parameters, not on a list of plain columns that it selects or returns from its one table, nor on an
# UPDATE's ``SET a = b`` between its own columns. One table only: with a join, the columns used decide
# whether the planner may remove a LEFT JOIN (and so not read a table at all).
_NAME = r"[A-Za-z_][A-Za-z0-9_$]*"
_COLUMN = rf"(?:\*|{_NAME}(?:\s*\.\s*(?:{_NAME}|\*))?)"
_COLUMNS = rf"{_COLUMN}(?:\s*,\s*{_COLUMN})*"
_ONE_TABLE = rf"{_NAME}(?:\s+(?:as\s+)?(?!where\b){_NAME})?"
_SELECT_LIST = re.compile(rf"\A\s*select\s+{_COLUMNS}\s+from\s+(?={_ONE_TABLE}(?:\s+where\s|\s*\Z))", re.IGNORECASE)
_SET_LIST = re.compile(
    rf"\A(\s*update\s+{_ONE_TABLE}\s+set\s+){_NAME}\s*=\s*{_NAME}(?:\s*,\s*{_NAME}\s*=\s*{_NAME})*(\s+where\s)",
    re.IGNORECASE,
)
_DELETE = re.compile(rf"\A\s*delete\s+from\s+{_ONE_TABLE}\s+where\s", re.IGNORECASE)
_RETURNING_LIST = re.compile(rf"\sreturning\s+{_COLUMNS}\s*\Z", re.IGNORECASE)
# Words that bring in another relation beside the one table (a sub-query brings its own SELECT).
_OTHER_RELATIONS = re.compile(r"\b(?:join|using|from|select)\b", re.IGNORECASE)
_SHAPE_MARK = "\x00"  # never in a statement's text (PostgreSQL refuses NUL in text)


def plan_shape(query: str) -> str:
    """What the partitions ``query``'s plan reads depend on: for a statement on one table without
    sub-queries, its text with the SELECT list, the RETURNING list and an UPDATE's ``SET a = b, ...``
    replaced by a mark when they are plain column names; any other statement is its own shape.

    Statements of one shape read the same partitions (same relation, same conditions, same
    parameters); each must still be prepared on its own to know that it is valid."""
    select = _SELECT_LIST.match(query)
    if select:
        head, rest = f"select {_SHAPE_MARK} from ", query[select.end() :]
    else:
        update = _SET_LIST.match(query)
        if update:
            head, rest = f"{update.group(1)}{_SHAPE_MARK}{update.group(2)}", query[update.end() :]
        else:
            delete = _DELETE.match(query)
            if not delete:
                return query
            head, rest = query[: delete.end()], query[delete.end() :]
    returning = _RETURNING_LIST.search(rest)
    if returning:
        rest = f"{rest[: returning.start()]} returning {_SHAPE_MARK}"
    if _OTHER_RELATIONS.search(rest.replace("returning " + _SHAPE_MARK, "")):
        return query
    return head + rest


class StatementStatisticsUnavailableError(ChunksError):
    """Statement statistics cannot be read (``pg_stat_statements`` not installed or not loaded).

    The message is one line that says how to enable them."""


@attrs.frozen
class StatementStats:
    """One row of the statement statistics (``pg_stat_statements``): constants appear as ``$n``."""

    query_id: int | None
    query: str | None
    calls: int
    total_time_ms: float
    rows: int

    @property
    def mean_time_ms(self) -> float:
        return self.total_time_ms / self.calls if self.calls else 0.0


@attrs.frozen
class StatementPlan:
    """A statement and how many of the table's partitions its plan reads when it is called.

    ``partitions_read`` is None when the statement could not be planned; ``problem`` says why."""

    stats: StatementStats
    partitions_read: int | None
    problem: str | None = None


@attrs.frozen
class UnprunedStatement:
    """A statement whose plan reads more than one partition."""

    query_id: int | None
    query: str
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int
    partitions_read: int
    reads_every_partition: bool
    share_of_chunks_time: float
    fix: str


@attrs.frozen
class UnanalysedStatement:
    """A statement that names ``chunks`` but could not be planned, and why."""

    query_id: int | None
    query: str | None
    calls: int
    total_time_ms: float
    reason: str


@attrs.frozen
class PruningReport:
    """Which statements on ``chunks`` prune, which do not, and what the latter cost."""

    partition_count: int
    statements: int  # statements naming chunks or a partition
    analysed: int
    pruned: int  # analysed and reading at most one partition
    chunks_time_ms: float  # total time of all those statements
    every_partition_time_ms: float  # of which statements reading every partition
    alert_share: float
    unpruned: tuple[UnprunedStatement, ...]  # most total time first
    not_analysed: tuple[UnanalysedStatement, ...]  # most total time first
    alerts: tuple[Alert, ...] = ()

    @property
    def every_partition_time_share(self) -> float:
        return self.every_partition_time_ms / self.chunks_time_ms if self.chunks_time_ms else 0.0


def _validate_share(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"the pruning alert share is a fraction between 0 and 1, got {value}")
    return value


def first_keyword(query: str) -> str:
    """The statement's first word, lower case, after comments and opening parentheses."""
    rest = query[_LEADING_NOISE.match(query).end() :]  # type: ignore[union-attr]  # the pattern matches ""
    word = _FIRST_WORD.match(rest)
    return word.group(0).lower() if word else ""


def unplannable_reason(query: str | None) -> str | None:
    """Why ``query`` cannot be prepared and planned, or None if it may be."""
    if query is None:
        return "pg_stat_statements kept no text for it (its query text file was reset or too large)"
    if query.strip() == INSUFFICIENT_PRIVILEGE_TEXT:
        return (
            "another role's statement, and this role may not read its text "
            "(GRANT pg_read_all_stats to it, or run the command as that role)"
        )
    keyword = first_keyword(query)
    if keyword not in _PLANNABLE:
        what = keyword.upper() if keyword else "empty"
        return f"a utility statement ({what}): it has no plan to read"
    body = query.strip().rstrip(";").rstrip()
    if ";" in _strip_literals(body):
        return "more than one statement in one text"
    return None


def _strip_literals(query: str) -> str:
    # Semicolons inside quotes or comments do not separate statements.
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", "", query, flags=re.DOTALL)


def repair_normalised(query: str) -> str:
    """``query`` as PREPARE accepts it: ``interval $3`` (a normalised literal) becomes ``CAST($3 AS interval)``."""
    return _TYPED_PARAMETER.sub(lambda m: f"CAST(${m.group(2)} AS {' '.join(m.group(1).split())})", query)


def fix_for(query: str) -> str:
    """What to change so that ``query`` reads one partition, in words."""
    if _KEY_CONDITION.search(query):
        return (
            "compare partition_key with a parameter or with get_partition_key(<collection id>): a partition_key "
            "taken from a join, a sub-query or a volatile function is not known when the plan is made"
        )
    if _COLLECTION_CONDITION.search(query):
        return (
            "add `AND partition_key = get_partition_key($1)` (with the parameter that holds the collection id), "
            "or use the library's repository"
        )
    if not _WHERE.search(query):
        return (
            "it reads the whole table: if it must (a report over all collections), run it rarely or read the "
            "statistics views instead; otherwise filter by collection_id AND partition_key = "
            "get_partition_key(collection_id)"
        )
    return (
        "it filters on neither collection_id nor partition_key: if it is about one collection, add "
        "`collection_id = $n AND partition_key = get_partition_key($n)` (or use the library's repository with the "
        "collection); a search across all collections reads every partition by design"
    )


def _by_time(stats: StatementStats) -> tuple[float, int]:
    return (-stats.total_time_ms, -stats.calls)


def pruning_alerts(
    unpruned: Sequence[UnprunedStatement], every_partition_share: float, alert_share: float
) -> list[Alert]:
    """One WARNING when statements reading every partition take more than ``alert_share`` of the time on chunks."""
    every = [s for s in unpruned if s.reads_every_partition]
    if not every or every_partition_share <= alert_share:
        return []
    worst = every[0]
    return [
        Alert(
            level=AlertLevel.WARNING,
            message=(
                f"pruning: {len(every)} statements on chunks read every partition and take "
                f"{every_partition_share:.0%} of the time spent on chunks (more than {alert_share:.0%}); "
                f"the costliest ({worst.calls:,} calls, {worst.total_time_ms / 1000:,.1f} s): {_one_line(worst.query)}"
            ),
            action=f"{worst.fix[0].upper()}{worst.fix[1:]} (see `semantik-chunks queries`)",
            cause=AlertCause.PRUNING,
            command="semantik-chunks queries",
        )
    ]


def _one_line(query: str, limit: int = 120) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def pruning_report(
    plans: Iterable[StatementPlan], partition_count: int, alert_share: float = DEFAULT_ALERT_SHARE
) -> PruningReport:
    """Judge ``plans``: statements reading more than one partition, those not analysed, and the alert."""
    alert_share = _validate_share(alert_share)
    plans = sorted(plans, key=lambda p: _by_time(p.stats))
    total = sum(p.stats.total_time_ms for p in plans)
    every_time = sum(
        p.stats.total_time_ms for p in plans if p.partitions_read is not None and p.partitions_read >= partition_count
    )
    unpruned = tuple(
        UnprunedStatement(
            query_id=p.stats.query_id,
            query=p.stats.query or "",
            calls=p.stats.calls,
            total_time_ms=p.stats.total_time_ms,
            mean_time_ms=p.stats.mean_time_ms,
            rows=p.stats.rows,
            partitions_read=p.partitions_read,
            reads_every_partition=p.partitions_read >= partition_count,
            share_of_chunks_time=p.stats.total_time_ms / total if total else 0.0,
            fix=fix_for(p.stats.query or ""),
        )
        for p in plans
        if p.partitions_read is not None and p.partitions_read > 1
    )
    not_analysed = tuple(
        UnanalysedStatement(
            query_id=p.stats.query_id,
            query=p.stats.query,
            calls=p.stats.calls,
            total_time_ms=p.stats.total_time_ms,
            reason=p.problem or "not planned",
        )
        for p in plans
        if p.partitions_read is None
    )
    analysed = sum(1 for p in plans if p.partitions_read is not None)
    share = every_time / total if total else 0.0
    return PruningReport(
        partition_count=partition_count,
        statements=len(plans),
        analysed=analysed,
        pruned=analysed - len(unpruned),
        chunks_time_ms=total,
        every_partition_time_ms=every_time,
        alert_share=alert_share,
        unpruned=unpruned,
        not_analysed=not_analysed,
        alerts=tuple(pruning_alerts(unpruned, share, alert_share)),
    )
