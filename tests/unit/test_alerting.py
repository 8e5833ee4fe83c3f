"""The logging and webhook alert sinks, the webhook against a real local HTTP server."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from semantik_chunks.adapters.alerting import ALERT_LOGGER, LoggingAlertSink, WebhookAlertSink
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.model import Alert, AlertLevel
from tests.host_data import SECRET_PATH, dead_url, webhook_receiver

ALERTS = (
    Alert(level=AlertLevel.CRITICAL, message="1 partitions are unbalanced", action="Rebalance", partitions=(3,)),
    Alert(level=AlertLevel.WARNING, message="2 partitions showing early signs", action="Monitor", partitions=(1, 2)),
    Alert(level=AlertLevel.INFO, message="statistics are stale", action="Refresh them"),
)
SECRET = SECRET_PATH.rsplit("/", 1)[1]


def assert_secret_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert SECRET not in record.getMessage(), record.getMessage()


def fast_sink(url: str, *, attempts: int = 3, timeout_seconds: float = 2.0) -> WebhookAlertSink:
    return WebhookAlertSink(url, attempts=attempts, timeout_seconds=timeout_seconds, backoff_seconds=0.01)


async def test_logging_sink_logs_each_alert_at_its_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=ALERT_LOGGER)
    await LoggingAlertSink().send(ALERTS)
    records = [r for r in caplog.records if r.name == ALERT_LOGGER]
    assert [r.levelno for r in records] == [logging.CRITICAL, logging.WARNING, logging.INFO]
    assert "1 partitions are unbalanced (partitions 3). Action: Rebalance" in records[0].getMessage()
    assert records[1].partitions == [1, 2]  # type: ignore[attr-defined]


async def test_webhook_posts_one_slack_compatible_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send(ALERTS)
    [request] = receiver.requests
    assert request["path"] == SECRET_PATH
    assert request["content_type"] == "application/json"
    text = json.loads(request["body"])["text"]
    assert text.splitlines()[0] == "*semantik-chunks partition alerts*"
    assert "• [CRITICAL] 1 partitions are unbalanced (partitions 3). Action: Rebalance" in text
    assert "[INFO] statistics are stale" in text
    assert_secret_not_logged(caplog)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_webhook_retries_a_failing_server(caplog: pytest.LogCaptureFixture, status: int) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=2, failure_status=status) as receiver:
        await fast_sink(receiver.url, attempts=3).send(ALERTS)
    assert len(receiver.requests) == 3
    assert len(receiver.received) == 1
    assert any(f"attempt 1/3 failed (HTTP {status})" in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


async def test_webhook_retries_after_a_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=1, stall_seconds=1.0) as receiver:
        await fast_sink(receiver.url, timeout_seconds=0.2).send(ALERTS)
    assert len(receiver.requests) == 2
    assert any("attempt 1/3 failed (ReadTimeout)" in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


async def test_webhook_gives_up_after_its_attempts_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=10) as receiver:
        await fast_sink(receiver.url, attempts=2).send(ALERTS)
    assert len(receiver.requests) == 2
    assert any(r.levelno == logging.ERROR and "could not deliver 3 alerts" in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


async def test_webhook_does_not_retry_a_client_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=10, failure_status=404) as receiver:
        await fast_sink(receiver.url, attempts=3).send(ALERTS)
    assert len(receiver.requests) == 1
    assert any("HTTP 404" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


async def test_webhook_to_a_dead_url_logs_only_scheme_and_host(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = dead_url()
    await fast_sink(url, attempts=2).send(ALERTS)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["could not deliver 3 alerts to webhook http://127.0.0.1: ConnectError"]
    assert_secret_not_logged(caplog)


async def test_httpx_request_log_line_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx")
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send(ALERTS)
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any(line.startswith("HTTP Request: POST http://127.0.0.1/<redacted>") for line in httpx_lines)
    assert_secret_not_logged(caplog)


async def test_webhook_with_nothing_to_say_stays_silent() -> None:
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send(())
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "https:///no-host"])
def test_webhook_rejects_a_bad_url_without_repeating_it(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        WebhookAlertSink(url)
    assert url not in str(raised.value)


def test_webhook_repr_hides_the_secret() -> None:
    sink = WebhookAlertSink(f"https://hooks.example.com{SECRET_PATH}")
    assert repr(sink) == "WebhookAlertSink(target='https://hooks.example.com')"


def test_importing_the_sinks_changes_no_logging() -> None:
    """The httpx redaction filter is put on by the first webhook sink, never by the import."""
    check = (
        "import logging, semantik_chunks.adapters.alerting as alerting\n"
        "assert logging.getLogger('httpx').filters == [], logging.getLogger('httpx').filters\n"
        "alerting.WebhookAlertSink('https://hooks.example.com/secret')\n"
        "assert len(logging.getLogger('httpx').filters) == 1\n"
        "alerting.WebhookAlertSink('https://hooks.example.com/other')\n"
        "assert len(logging.getLogger('httpx').filters) == 1\n"
    )
    completed = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
