"""What this replica reports about itself at scrape time: its version and how its scheduler keeps up.

The scheduler's lag is the honest measure of a durable scheduler: not how long a tick took, but how
late it fired what was due. Each sweep notes the earliest due time among the timers and expired
leases it took (``Scheduler.last_sweep_lateness``); a replica whose loop is stuck or whose sweeps keep
failing stops sweeping, which the time of its last sweep shows (alert on
``time() - intentd_scheduler_last_sweep_timestamp_seconds``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from intentd import __version__
from intentd.model import Micros

_US = 1_000_000


class Sweeps(Protocol):
    """What the scheduler tells of its sweeps (``engine/scheduler.py``)."""

    @property
    def last_sweep_at(self) -> Micros | None: ...

    @property
    def last_sweep_lateness(self) -> Micros: ...


class ReplicaGauges:
    def __init__(self, database: str, scheduler: Sweeps | None = None) -> None:
        self._database = database
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "intentd_build_info",
            "This replica's intentd version and database (always 1)",
            labels=("version", "database"),
        )
        info.add_metric((__version__, self._database), 1)
        yield info
        swept = self.scheduler.last_sweep_at if self.scheduler is not None else None
        if self.scheduler is None or swept is None:
            return  # no scheduler in this process, or it has not swept yet
        yield GaugeMetricFamily(
            "intentd_scheduler_lag_seconds",
            "Per replica: how late after its due time this replica's scheduler fired the earliest timer "
            "or lease expiry of its last sweep that found any due",
            value=self.scheduler.last_sweep_lateness / _US,
        )
        yield GaugeMetricFamily(
            "intentd_scheduler_last_sweep_timestamp_seconds",
            "Per replica: when this replica's scheduler last finished a sweep (Unix time); it sweeps at "
            "least every second while it runs",
            value=swept / _US,
        )
