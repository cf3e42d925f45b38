"""The metrics of one engine, in Prometheus's text format (docs/operations.md, "Metrics").

Each :class:`~intentd.engine.Engine` has a registry of its own, not prometheus_client's global one, so
several engines in one process (tests, an embedding application) do not clash. A scrape shows one
namespace's series (a key sees its own tenant only, as everywhere in the API) together with what this
process reports about itself, which names no tenant; a public scrape shows every namespace."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric

from intentd.model import Micros
from intentd.store import Store

from .database import DatabaseGauges
from .observed import Observed
from .replica import ReplicaGauges, Sweeps

Clock = Callable[[], Micros]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.registry = CollectorRegistry()
        self.observed = Observed()  # what the runtime reports as it goes (effects.py)
        self._database = DatabaseGauges(store, clock)
        self._replica = ReplicaGauges(store.dialect)
        for collector in (self.observed, self._database, self._replica):
            self.registry.register(collector)
        ProcessCollector(registry=self.registry)  # CPU, memory, file descriptors, start time

    def follow(self, scheduler: Sweeps) -> None:
        """Report how ``scheduler`` keeps up (built after the recorder this registry's effects join)."""
        self._replica.scheduler = scheduler

    async def exposition(self, namespace: str | None) -> bytes:
        """A scrape: ``namespace``'s series and the process's own, or with None every namespace's."""
        await self._database.refresh()
        return generate_latest(_Scoped(self.registry, namespace))


class _Scoped:
    """The registry's families with only one namespace's samples (a sample without a namespace label
    belongs to the process and is kept)."""

    def __init__(self, registry: CollectorRegistry, namespace: str | None) -> None:
        self._registry = registry
        self._namespace = namespace

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            scoped = copy.copy(family)
            scoped.samples = [s for s in family.samples if self._shows(s.labels)]
            yield scoped

    def _shows(self, labels: dict[str, str]) -> bool:
        return self._namespace is None or labels.get("namespace", self._namespace) == self._namespace
