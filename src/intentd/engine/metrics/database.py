"""What the metrics read from the database at scrape time: intents by agent and status, and each
agent's queue (depth, age of its oldest). These are global: every replica reads the same database and
reports the same figures (``max by`` them in PromQL, or scrape one replica for them).

Prometheus collectors are synchronous and the store is not, so a scrape first awaits :meth:`refresh`
(one grouped query) and the registry's ``collect`` then reports what it read. Concurrent scrapes share
one read; a read that fails or takes longer than :data:`READ_TIMEOUT` leaves these figures out of the
scrape (``intentd_database_up`` 0) rather than failing it, and a slow read goes on in the background
for the next scrape to find instead of being cancelled in the middle of a query."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from intentd.model import Micros, Status
from intentd.store import IntentCount, Store

Clock = Callable[[], Micros]
log = logging.getLogger("intentd.engine.metrics")
READ_TIMEOUT = 5.0  # seconds: within Prometheus's default scrape timeout (10 s)
_GLOBAL = "Global (read from the database, the same on every replica): "
_QUEUED = Status.SUBMITTED.value


class DatabaseGauges:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._reading: asyncio.Task[list[IntentCount]] | None = None
        self._counts: list[IntentCount] | None = None
        self._read_at: Micros = 0

    async def refresh(self) -> None:
        """Read the figures now (or join the read in flight)."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._store.read(lambda tx: tx.intent_counts()))
            self._reading.add_done_callback(_note_failure)
        try:
            self._counts = await asyncio.wait_for(asyncio.shield(self._reading), READ_TIMEOUT)
            self._read_at = self._clock()
        except Exception:  # noqa: BLE001 - logged by _note_failure, or a timeout
            self._counts = None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "intentd_database_up",
            "1 if this scrape read the global figures from the database, 0 if the read failed or took "
            f"over {READ_TIMEOUT:g} s (they are left out)",
            value=0 if self._counts is None else 1,
        )
        yield up
        if self._counts is None:
            return
        intents = GaugeMetricFamily(
            "intentd_intents",
            _GLOBAL + "intents by agent and status (test traffic left out)",
            labels=("namespace", "agent", "status"),
        )
        depth = GaugeMetricFamily(
            "intentd_queue_depth",
            _GLOBAL + "intents queued for their agent (SUBMITTED): not leased yet",
            labels=("namespace", "agent"),
        )
        age = GaugeMetricFamily(
            "intentd_queue_oldest_age_seconds",
            _GLOBAL + "how long the agent's oldest queued intent has waited in its queue (0: none queued)",
            labels=("namespace", "agent"),
        )
        queues: dict[
            tuple[str, str], tuple[int, Micros]
        ] = {}  # every agent with intents: an empty queue is 0
        for row in self._counts:
            intents.add_metric((row.namespace, row.agent, row.status), row.count)
            queued = queues.setdefault((row.namespace, row.agent), (0, self._read_at))
            if row.status == _QUEUED:
                oldest = row.oldest_queued_at if row.oldest_queued_at is not None else self._read_at
                queues[row.namespace, row.agent] = (queued[0] + row.count, min(queued[1], oldest))
        for labels, (count, oldest) in queues.items():
            depth.add_metric(labels, count)
            age.add_metric(labels, max(self._read_at - oldest, 0) / 1_000_000)
        yield from (intents, depth, age)


def _note_failure(reading: asyncio.Task[list[IntentCount]]) -> None:
    if not reading.cancelled() and (error := reading.exception()) is not None:
        log.warning("metrics: reading the database failed: %r", error)
