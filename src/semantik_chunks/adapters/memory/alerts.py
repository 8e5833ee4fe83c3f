"""An alert sink that keeps what it is sent, for tests and for embedding hosts that poll."""

from __future__ import annotations

from collections.abc import Sequence

from semantik_chunks.domain.model import Alert, PartitionHealthStatus


class CollectingAlertSink:
    def __init__(self) -> None:
        self.sent: list[Alert] = []
        self.verdicts: list[PartitionHealthStatus | None] = []

    async def send(self, alerts: Sequence[Alert], *, overall: PartitionHealthStatus | None) -> None:
        self.sent.extend(alerts)
        self.verdicts.append(overall)
