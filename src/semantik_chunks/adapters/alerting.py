"""Alert sinks for a running host: one logs each alert at its level, one posts to a chat webhook.

Both implement the ``AlertSink`` port. A webhook URL is a credential (Slack's embeds its
secret in the path), so it is never logged: only its scheme and host appear in messages, and
httpx's own request log line is redacted once a webhook sink exists.

Alert texts carry collection ids, which are the host's data: control characters are written out
as escapes in the log and the webhook (``domain.text.printable``), and the webhook text escapes
Slack/Mattermost markup (``&``, ``<``, ``>``) and breaks ``@`` mentions, so that no id can ping
a channel or forge a link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx

from semantik_chunks.domain.errors import AlertDeliveryError, ConfigurationError
from semantik_chunks.domain.model import Alert, AlertLevel, PartitionHealthStatus
from semantik_chunks.domain.text import printable

logger = logging.getLogger(__name__)

ALERT_LOGGER = "semantik_chunks.alerts"

LOG_LEVELS = {
    AlertLevel.INFO: logging.INFO,
    AlertLevel.WARNING: logging.WARNING,
    AlertLevel.CRITICAL: logging.CRITICAL,
}
SEVERITY = {AlertLevel.INFO: 0, AlertLevel.WARNING: 1, AlertLevel.CRITICAL: 2}
COULD_NOT_CHECK = "COULD NOT CHECK"
# U+2060 WORD JOINER: invisible, and it keeps "@channel", "@here", "@all", "@everyone" from being mentions.
_MENTION_BREAK = "@\u2060"


def describe(alert: Alert) -> str:
    """One line for a human: level, message, the partitions concerned, and what to do (escaped)."""
    where = f" (partitions {', '.join(map(str, alert.partitions))})" if alert.partitions else ""
    return printable(f"[{alert.level.value}] {alert.message}{where}. Action: {alert.action}")


def verdict(overall: PartitionHealthStatus | None) -> str:
    """The check's overall status as the first words of a message; ``None``: the check could not run."""
    return overall.value if overall is not None else COULD_NOT_CHECK


def chat_text(value: str) -> str:
    """``value`` safe in a Slack/Mattermost/Discord message: escaped controls, escaped markup
    (``&amp;``, ``&lt;``, ``&gt;``, Slack's own escapes), and no ``@`` mention."""
    escaped = printable(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("@", _MENTION_BREAK)


class LoggingAlertSink:
    """Logs every alert on ``semantik_chunks.alerts`` at the level matching the alert's."""

    def __init__(self, alert_logger: logging.Logger | None = None) -> None:
        self._logger = alert_logger or logging.getLogger(ALERT_LOGGER)

    async def send(self, alerts: Sequence[Alert], *, overall: PartitionHealthStatus | None) -> None:
        for alert in alerts:
            self._logger.log(
                LOG_LEVELS[alert.level],
                "partition alert %s",
                describe(alert),
                extra={
                    "alert_level": alert.level.value,
                    "partitions": list(alert.partitions),
                    "verdict": verdict(overall),
                },
            )


class _RedactUrls(logging.Filter):
    """Replaces registered secret URLs in log records' arguments by their scheme and host."""

    def __init__(self) -> None:
        super().__init__()
        self.redactions: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and self.redactions:
            record.args = tuple(self.redactions.get(str(arg), arg) for arg in record.args)
        return True


# httpx logs every request's full URL at INFO ("HTTP Request: POST https://…"); the first webhook sink
# puts this filter on its logger (not the import: importing a module changes no logging).
_httpx_redaction = _RedactUrls()


def _is_retryable(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


class WebhookAlertSink:
    """Posts alerts as one Slack-compatible message (``{"text": ...}``, also understood by
    Mattermost, Rocket.Chat and Discord's ``/slack`` endpoints) whose first line is the verdict.

    Only alerts at ``min_level`` or above are posted; with none left, nothing is. Transport
    errors, timeouts, 429 and 5xx answers are retried with exponential backoff (``backoff_seconds``,
    then twice that, ...) up to ``attempts`` tries; other answers are final. A delivery that still
    failed raises ``AlertDeliveryError`` (naming the webhook's host only)."""

    def __init__(
        self,
        url: str,
        *,
        min_level: AlertLevel = AlertLevel.WARNING,
        timeout_seconds: float = 5.0,
        attempts: int = 3,
        backoff_seconds: float = 1.0,
        title: str = "semantik-chunks partition health",
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError("the alert webhook URL must be an http:// or https:// URL with a host")
        if attempts < 1:
            raise ConfigurationError(f"webhook attempts must be at least 1, got {attempts}")
        self._url = parsed
        self.target = f"{parsed.scheme}://{parsed.host}"
        self.min_level = min_level
        self._timeout = httpx.Timeout(timeout_seconds)
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._title = title
        _httpx_redaction.redactions[str(parsed)] = f"{self.target}/<redacted>"
        logging.getLogger("httpx").addFilter(_httpx_redaction)  # once: a logger keeps no filter twice

    def __repr__(self) -> str:
        return f"WebhookAlertSink(target={self.target!r})"

    def posted(self, alerts: Sequence[Alert]) -> list[Alert]:
        """The alerts this sink posts: those at ``min_level`` or above."""
        return [a for a in alerts if SEVERITY[a.level] >= SEVERITY[self.min_level]]

    def payload(self, alerts: Sequence[Alert], overall: PartitionHealthStatus | None) -> dict[str, str]:
        """The message: the verdict line, then one line per alert at ``min_level`` or above."""
        shown = self.posted(alerts)
        lines = [f"*Verdict: {verdict(overall)}* · {chat_text(self._title)}"]
        lines += [f"• {chat_text(describe(alert))}" for alert in shown]
        if len(shown) < len(alerts):
            lines.append(f"({len(alerts) - len(shown)} alerts below {self.min_level.value} are in the worker's log.)")
        return {"text": "\n".join(lines)}

    async def send(self, alerts: Sequence[Alert], *, overall: PartitionHealthStatus | None) -> None:
        shown = self.posted(alerts)
        if not shown:
            return
        payload = self.payload(alerts, overall)
        problem = ""
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
            for attempt in range(1, self._attempts + 1):
                try:
                    response = await client.post(self._url, json=payload)
                except httpx.TransportError as exc:
                    # The exception's text may quote the URL; its type says enough.
                    problem = type(exc).__name__
                else:
                    if response.is_success:
                        logger.info("sent %d alerts to webhook %s", len(shown), self.target)
                        return
                    problem = f"HTTP {response.status_code}"
                    if not _is_retryable(response.status_code):
                        break
                if attempt < self._attempts:
                    logger.warning(
                        "webhook %s attempt %d/%d failed (%s); retrying", self.target, attempt, self._attempts, problem
                    )
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        message = f"could not deliver {len(shown)} alerts to webhook {self.target}: {problem}"
        logger.error("%s", message)
        raise AlertDeliveryError(message, (type(self).__name__,))
