"""What the metrics read from the store at scrape time (queries in ``sql/metrics.sql``)."""

from __future__ import annotations

from dataclasses import dataclass

from intentd.model import Micros

from ._txbase import TxBase


@dataclass(frozen=True, slots=True)
class IntentCount:
    """How many intents of one agent are in one status; for SUBMITTED, when the oldest was queued."""

    namespace: str
    agent: str
    status: str
    count: int
    oldest_queued_at: Micros | None


class MetricsRows(TxBase):
    async def intent_counts(self) -> list[IntentCount]:
        """Every namespace's intents counted by agent and status (test traffic left out)."""
        return [
            IntentCount(r["namespace"], r["to_agent"], r["status"], r["count"], r["oldest_queued_at"])
            for r in await self._rows("intent_counts")
        ]
