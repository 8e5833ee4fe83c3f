"""The one serialisation layer: one timestamp form, the same health body everywhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from semantik_chunks.domain.model import CheckOutcome, MonitoringResult
from semantik_chunks.entrypoints import report_models
from semantik_chunks.entrypoints.tasks import monitoring_payload

SCHEMA = report_models.cli_json_schema()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2026-01-02T03:04:05.120000Z"),
        (datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"),  # naive: UTC, as the database hands it
    ],
)
def test_one_timestamp_form(value: datetime, shown: str) -> None:
    assert report_models.timestamp(value) == shown
    failed = MonitoringResult(status=CheckOutcome.FAILED, timestamp=value, error="database unreachable")
    assert monitoring_payload(failed)["timestamp"] == shown
    assert report_models.health_report(failed).model_dump(mode="json")["timestamp"] == shown


def test_the_task_result_is_the_api_body_of_a_failed_check() -> None:
    failed = MonitoringResult(status=CheckOutcome.FAILED, timestamp=datetime(2026, 1, 2, tzinfo=UTC), error="down")
    assert monitoring_payload(failed) == {
        "status": "failed",
        "timestamp": "2026-01-02T00:00:00Z",
        "alerts": [],
        "metrics": {},
        "error": "down",
        "overall": None,
        "verdict": None,
    }


def test_every_timestamp_in_the_schema_requires_the_z() -> None:
    text = json.dumps(SCHEMA)
    assert text.count('"format": "date-time"') == 0
    assert text.count(report_models.TIMESTAMP_PATTERN.replace("\\", "\\\\")) >= 10


def test_the_schema_names_every_document() -> None:
    commands = {
        SCHEMA["$defs"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["command"]["const"] for ref in SCHEMA["oneOf"]
    }
    assert commands == {
        "health",
        "servers add",
        "servers list",
        "servers remove",
        "place",
        "distribution",
        "sizes",
        "hot",
        "skew",
        "collections",
        "full",
        "refresh",
        "migrate",
        "migrate current",
        "migrate history",
        "demo",
        "snapshot",
        "history",
        "forecast",
        "queries",
    }
