"""Judging statements on chunks: what cannot be planned, the fix in words, the report and its alert."""

from __future__ import annotations

import pytest

from semantik_chunks.domain.model import AlertLevel
from semantik_chunks.domain.pruning import (
    StatementPlan,
    StatementStats,
    first_keyword,
    fix_for,
    plan_shape,
    pruning_report,
    repair_normalised,
    unplannable_reason,
)

N = 100


def plan(
    query: str | None, reads: int | None, *, ms: float = 1.0, calls: int = 1, problem: str | None = None
) -> StatementPlan:
    return StatementPlan(StatementStats(1, query, calls, ms, calls), reads, problem)


@pytest.mark.parametrize(
    ("query", "keyword"),
    [
        ("SELECT 1", "select"),
        ("  /* app */ -- note\n (select 1)", "select"),
        ("with x as (select 1) select * from x", "with"),
        ("COPY chunks FROM STDIN", "copy"),
        ("", ""),
        ("/* unterminated", ""),
    ],
)
def test_first_keyword_skips_comments_and_parentheses(query: str, keyword: str) -> None:
    assert first_keyword(query) == keyword


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (None, "kept no text"),
        ("<insufficient privilege>", "pg_read_all_stats"),
        ("COPY chunks FROM STDIN", "utility statement (COPY)"),
        ("CREATE TABLE chunks_part_05 PARTITION OF chunks FOR VALUES IN (5)", "utility statement (CREATE)"),
        ("VACUUM chunks", "utility statement (VACUUM)"),
        ("", "utility statement (empty)"),
        ("SELECT 1 FROM chunks; DELETE FROM chunks", "more than one statement"),
    ],
)
def test_what_cannot_be_planned_is_said_in_words(query: str | None, reason: str) -> None:
    found = unplannable_reason(query)
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM chunks WHERE collection_id = $1",
        "SELECT * FROM chunks WHERE content = ';';",
        "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1) -- ;",
        "UPDATE chunks SET content = $1 WHERE id = $2",
        "MERGE INTO chunks USING x ON true WHEN MATCHED THEN DO NOTHING",
    ],
)
def test_statements_that_may_be_planned(query: str) -> None:
    assert unplannable_reason(query) is None


def test_normalised_typed_literals_become_casts() -> None:
    assert repair_normalised("WHERE created_at > now() - interval $3 AND d = date $4") == (
        "WHERE created_at > now() - CAST($3 AS interval) AND d = CAST($4 AS date)"
    )
    assert (
        repair_normalised("WHERE t < timestamp with time zone $1") == "WHERE t < CAST($1 AS timestamp with time zone)"
    )
    assert repair_normalised("WHERE a = $1::interval") == "WHERE a = $1::interval"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("SELECT * FROM chunks WHERE collection_id = $1", "AND partition_key = get_partition_key($1)"),
        ("DELETE FROM chunks WHERE collection_id IN ($1, $2)", "AND partition_key = get_partition_key($1)"),
        ("SELECT * FROM chunks c JOIN k ON c.partition_key = k.p", "not known when the plan is made"),
        ("SELECT count(*) FROM chunks", "reads the whole table"),
        ("SELECT partition_key, count(*) FROM chunks GROUP BY partition_key", "reads the whole table"),
        ("SELECT collection_id, partition_key FROM chunks WHERE id = $1", "neither collection_id nor partition_key"),
    ],
)
def test_the_fix_fits_the_statement(query: str, words: str) -> None:
    assert words in fix_for(query)


def test_the_report_lists_statements_reading_more_than_one_partition_costliest_first() -> None:
    report = pruning_report(
        [
            plan("SELECT * FROM chunks WHERE partition_key = $1", 1, ms=500),
            plan("SELECT * FROM chunks WHERE partition_key IN ($1, $2)", 2, ms=100),
            plan("SELECT * FROM chunks WHERE collection_id = $1", N, ms=300, calls=3),
            plan("COPY chunks FROM STDIN", None, ms=100, problem="a utility statement (COPY): it has no plan to read"),
        ],
        N,
        alert_share=0.5,
    )
    assert (report.statements, report.analysed, report.pruned) == (4, 3, 1)
    assert [s.partitions_read for s in report.unpruned] == [N, 2]
    every = report.unpruned[0]
    assert every.reads_every_partition
    assert (every.calls, every.total_time_ms, every.mean_time_ms) == (3, 300, 100)
    assert every.share_of_chunks_time == pytest.approx(0.3)
    assert not report.unpruned[1].reads_every_partition
    assert report.chunks_time_ms == 1000
    assert report.every_partition_time_share == pytest.approx(0.3)
    assert [s.reason for s in report.not_analysed] == ["a utility statement (COPY): it has no plan to read"]
    assert report.alerts == ()


def test_the_alert_fires_above_the_share_only_and_names_pruning_and_the_fix() -> None:
    statements = [
        plan("SELECT * FROM chunks WHERE collection_id = $1", N, ms=300),
        plan("SELECT * FROM chunks WHERE partition_key = $1", 1, ms=700),
    ]
    assert pruning_report(statements, N, alert_share=0.3).alerts == ()
    [alert] = pruning_report(statements, N, alert_share=0.29).alerts
    assert alert.level is AlertLevel.WARNING
    assert alert.message.startswith("pruning: 1 statements on chunks read every partition and take 30%")
    assert "get_partition_key" in alert.action


def test_statements_reading_several_but_not_all_partitions_do_not_alert() -> None:
    report = pruning_report([plan("SELECT * FROM chunks WHERE partition_key IN ($1, $2)", 2, ms=100)], N, 0.01)
    assert report.alerts == ()
    assert len(report.unpruned) == 1


def test_no_statements_no_time_no_alert() -> None:
    report = pruning_report([], N)
    assert (report.statements, report.chunks_time_ms, report.every_partition_time_share) == (0, 0, 0.0)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_the_alert_share_is_a_fraction(share: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        pruning_report([], N, alert_share=share)


def test_a_row_without_text_is_not_analysed_rather_than_a_crash() -> None:
    report = pruning_report([plan(None, None, problem=unplannable_reason(None))], N)
    [entry] = report.not_analysed
    assert entry.query is None
    assert "kept no text" in entry.reason


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("SELECT id FROM chunks WHERE collection_id = $1", "select content, c.id FROM chunks WHERE collection_id = $1"),
        (
            "SELECT * FROM chunks AS c WHERE c.collection_id = $1",
            "SELECT c.* FROM chunks AS c WHERE c.collection_id = $1",
        ),
        ("SELECT id FROM chunks", "SELECT id, content FROM chunks"),
        (
            "UPDATE chunks SET token_count = token_count WHERE collection_id = $1 RETURNING id",
            "UPDATE chunks SET start_offset = start_offset, end_offset = end_offset WHERE collection_id = $1 "
            "RETURNING content, metadata",
        ),
        (
            "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1) RETURNING id",
            "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1) RETURNING *",
        ),
    ],
)
def test_statements_differing_only_in_plain_column_lists_share_a_plan_shape(one: str, other: str) -> None:
    assert plan_shape(one) == plan_shape(other)
    assert plan_shape(one) != one


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # The conditions, the table and the parameters decide what a plan reads.
        ("SELECT id FROM chunks WHERE collection_id = $1", "SELECT id FROM chunks WHERE partition_key = $1"),
        ("SELECT id FROM chunks WHERE collection_id = $1", "SELECT id FROM chunks_part_07 WHERE collection_id = $1"),
        ("DELETE FROM chunks WHERE collection_id = $1", "DELETE FROM chunks WHERE collection_id = $1 RETURNING id"),
        # Anything but plain columns is its own shape: an expression may read another table.
        (
            "SELECT id FROM chunks WHERE collection_id = $1",
            "SELECT (SELECT 1 FROM chunks) FROM chunks WHERE collection_id = $1",
        ),
        ("SELECT id FROM chunks WHERE collection_id = $1", "SELECT DISTINCT id FROM chunks WHERE collection_id = $1"),
        ("SELECT id FROM chunks WHERE collection_id = $1", "SELECT lower(id) FROM chunks WHERE collection_id = $1"),
        ("UPDATE chunks SET a = b WHERE collection_id = $1", "UPDATE chunks SET a = $2 WHERE collection_id = $1"),
        # With another relation the columns used decide whether the planner may drop a LEFT JOIN.
        (
            "SELECT k.id FROM chunks k LEFT JOIN collections c ON c.id = k.collection_id WHERE k.collection_id = $1",
            "SELECT c.id FROM chunks k LEFT JOIN collections c ON c.id = k.collection_id WHERE k.collection_id = $1",
        ),
        (
            "SELECT id FROM chunks WHERE collection_id IN (SELECT id FROM collections)",
            "SELECT content FROM chunks WHERE collection_id IN (SELECT id FROM collections)",
        ),
        (
            "UPDATE chunks SET a = c.x FROM collections c WHERE c.id = collection_id",
            "UPDATE chunks SET b = c.x FROM collections c WHERE c.id = collection_id",
        ),
        (
            "DELETE FROM chunks USING collections c WHERE c.id = collection_id RETURNING id",
            "DELETE FROM chunks USING collections c WHERE c.id = collection_id RETURNING content",
        ),
    ],
)
def test_statements_that_may_read_differently_have_different_shapes(one: str, other: str) -> None:
    assert plan_shape(one) != plan_shape(other)
