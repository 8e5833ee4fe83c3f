"""The logging and webhook alert sinks, the webhook against a real local HTTP server."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from semantik_chunks.adapters.alerting import ALERT_LOGGER, LoggingAlertSink, WebhookAlertSink
from semantik_chunks.domain.errors import AlertDeliveryError, ConfigurationError
from semantik_chunks.domain.model import Alert, AlertCause, AlertLevel, PartitionHealthStatus
from tests.host_data import SECRET_PATH, WebhookReceiver, dead_url, webhook_receiver

ALERTS = (
    Alert(
        level=AlertLevel.CRITICAL,
        message="1 partitions are unbalanced",
        action="Rebalance",
        partitions=(3,),
        cause=AlertCause.PLACEMENT,
    ),
    Alert(
        level=AlertLevel.WARNING,
        message="2 partitions showing early signs",
        action="Monitor",
        partitions=(1, 2),
        cause=AlertCause.PLACEMENT,
    ),
    Alert(level=AlertLevel.INFO, message="statistics are stale", action="Refresh them", cause=AlertCause.PLACEMENT),
)
SECRET = SECRET_PATH.rsplit("/", 1)[1]
UNBALANCED = PartitionHealthStatus.UNBALANCED
HOSTILE_ID = "evil\x1b[2J\x1b]0;title\x07<!channel> <https://evil.example|click-me> @here & co\n• [CRITICAL] forged"


def assert_secret_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert SECRET not in record.getMessage(), record.getMessage()


def fast_sink(
    url: str, *, attempts: int = 3, timeout_seconds: float = 2.0, min_level: AlertLevel = AlertLevel.INFO
) -> WebhookAlertSink:
    return WebhookAlertSink(
        url, attempts=attempts, timeout_seconds=timeout_seconds, backoff_seconds=0.01, min_level=min_level
    )


def posted_text(receiver: WebhookReceiver) -> str:
    [request] = receiver.received
    text = json.loads(request["body"])["text"]
    assert isinstance(text, str)
    return text


async def test_logging_sink_logs_each_alert_at_its_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=ALERT_LOGGER)
    await LoggingAlertSink().send(ALERTS, overall=UNBALANCED)
    records = [r for r in caplog.records if r.name == ALERT_LOGGER]
    assert [r.levelno for r in records] == [logging.CRITICAL, logging.WARNING, logging.INFO]
    assert "1 partitions are unbalanced (partitions 3). Action: Rebalance" in records[0].getMessage()
    assert records[1].partitions == [1, 2]  # type: ignore[attr-defined]


async def test_webhook_posts_one_slack_compatible_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send(ALERTS, overall=UNBALANCED)
    [request] = receiver.requests
    assert request["path"] == SECRET_PATH
    assert request["content_type"] == "application/json"
    text = json.loads(request["body"])["text"]
    assert text.splitlines()[0] == "*Verdict: UNBALANCED* · semantik-chunks partition health"
    assert "• [CRITICAL] 1 partitions are unbalanced (partitions 3). Action: Rebalance" in text
    assert "[INFO] statistics are stale" in text
    assert_secret_not_logged(caplog)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_webhook_retries_a_failing_server(caplog: pytest.LogCaptureFixture, status: int) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=2, failure_status=status) as receiver:
        await fast_sink(receiver.url, attempts=3).send(ALERTS, overall=UNBALANCED)
    assert len(receiver.requests) == 3
    assert len(receiver.received) == 1
    assert any(f"attempt 1/3 failed (HTTP {status})" in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


async def test_webhook_retries_after_a_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=1, stall_seconds=1.0) as receiver:
        await fast_sink(receiver.url, timeout_seconds=0.2).send(ALERTS, overall=UNBALANCED)
    assert len(receiver.requests) == 2
    assert any("attempt 1/3 failed (ReadTimeout)" in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


async def test_webhook_gives_up_after_its_attempts_and_raises(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=10) as receiver, pytest.raises(AlertDeliveryError) as failed:
        await fast_sink(receiver.url, attempts=2).send(ALERTS, overall=UNBALANCED)
    assert str(failed.value) == "could not deliver 3 alerts to webhook http://127.0.0.1: HTTP 500"
    assert failed.value.sinks == ("WebhookAlertSink",)
    assert len(receiver.requests) == 2
    assert any(r.levelno == logging.ERROR and "could not deliver 3 alerts" in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


async def test_webhook_gives_up_after_a_hanging_server_within_its_timeouts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        webhook_receiver(failures=10, stall_seconds=2.0) as receiver,
        pytest.raises(AlertDeliveryError, match="Timeout"),
    ):
        await fast_sink(receiver.url, attempts=2, timeout_seconds=0.2).send(ALERTS, overall=UNBALANCED)
    assert len(receiver.requests) == 2
    assert receiver.received == []


async def test_webhook_does_not_retry_a_client_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=10, failure_status=404) as receiver, pytest.raises(AlertDeliveryError, match="404"):
        await fast_sink(receiver.url, attempts=3).send(ALERTS, overall=UNBALANCED)
    assert len(receiver.requests) == 1
    assert any("HTTP 404" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


async def test_webhook_to_a_dead_url_logs_only_scheme_and_host(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = dead_url()
    with pytest.raises(AlertDeliveryError) as failed:
        await fast_sink(url, attempts=2).send(ALERTS, overall=UNBALANCED)
    assert SECRET not in str(failed.value)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["could not deliver 3 alerts to webhook http://127.0.0.1: ConnectError"]
    assert_secret_not_logged(caplog)


async def test_httpx_request_log_line_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx")
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send(ALERTS, overall=UNBALANCED)
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any(line.startswith("HTTP Request: POST http://127.0.0.1/<redacted>") for line in httpx_lines)
    assert_secret_not_logged(caplog)


async def test_webhook_with_nothing_to_say_stays_silent() -> None:
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send((), overall=PartitionHealthStatus.HEALTHY)
    assert receiver.requests == []


async def test_info_only_alerts_post_nothing_at_the_default_minimum_level() -> None:
    info_only = [a for a in ALERTS if a.level is AlertLevel.INFO]
    with webhook_receiver() as receiver:
        sink = WebhookAlertSink(receiver.url, backoff_seconds=0.01)
        assert sink.min_level is AlertLevel.WARNING
        await sink.send(info_only, overall=PartitionHealthStatus.HEALTHY)
        assert receiver.requests == []
        await sink.send(ALERTS, overall=UNBALANCED)
    lines = posted_text(receiver).splitlines()
    assert lines[0] == "*Verdict: UNBALANCED* · semantik-chunks partition health"
    assert [line.split("]")[0] for line in lines[1:3]] == ["• [CRITICAL", "• [WARNING"]
    assert lines[3] == "(1 alerts below WARNING are in the worker's log.)"
    assert "statistics are stale" not in "\n".join(lines)


async def test_critical_minimum_level_posts_only_critical_alerts() -> None:
    with webhook_receiver() as receiver:
        sink = fast_sink(receiver.url, min_level=AlertLevel.CRITICAL)
        await sink.send(ALERTS[1:], overall=PartitionHealthStatus.WARNING)  # WARNING and INFO: nothing
        assert receiver.requests == []
        await sink.send(ALERTS, overall=UNBALANCED)
    text = posted_text(receiver)
    assert "[CRITICAL]" in text
    assert "[WARNING]" not in text


async def test_a_failed_check_is_posted_with_its_own_verdict() -> None:
    failed = Alert(
        level=AlertLevel.CRITICAL,
        message="partition health check failed: database unreachable",
        action="x",
        cause=AlertCause.MONITORING,
    )
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send([failed], overall=None)
    assert posted_text(receiver).splitlines()[0] == "*Verdict: COULD NOT CHECK* · semantik-chunks partition health"


async def test_hostile_ids_cannot_ping_a_channel_forge_a_link_or_a_line(caplog: pytest.LogCaptureFixture) -> None:
    """Slack and Mattermost read <!channel>, <url|label> and @here in a webhook's text; an id may not."""
    caplog.set_level(logging.DEBUG, logger=ALERT_LOGGER)
    hostile = Alert(
        level=AlertLevel.CRITICAL,
        message=f"Collection {HOSTILE_ID} alone holds 90% of partition 3",
        action=f"Move {HOSTILE_ID}",
        partitions=(3,),
        cause=AlertCause.CAPACITY,
        command=f"semantik-chunks isolate {HOSTILE_ID}",
    )
    with webhook_receiver() as receiver:
        await fast_sink(receiver.url).send([hostile], overall=UNBALANCED)
        await LoggingAlertSink().send([hostile], overall=UNBALANCED)
    text = posted_text(receiver)
    lines = text.splitlines()
    assert len(lines) == 2  # the verdict and the one alert: the id's newline forged no line
    assert lines[0] == "*Verdict: UNBALANCED* · semantik-chunks partition health"
    for raw in ("<!channel>", "<https://", "|click-me>", "@here", "\x1b", "\x07", "& co"):
        assert raw not in text
    assert "&lt;!channel&gt; &lt;https://evil.example|click-me&gt; @\u2060here &amp; co" in text
    assert "evil\\x1b[2J\\x1b]0;title\\x07" in text  # control characters written out, visibly
    assert "\\n• [CRITICAL] forged" in text
    [logged] = [r.getMessage() for r in caplog.records if r.name == ALERT_LOGGER]
    assert "\x1b" not in logged
    assert "\n" not in logged
    assert "evil\\x1b[2J" in logged


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
