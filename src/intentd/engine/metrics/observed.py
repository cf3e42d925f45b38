"""What the runtime observes as it goes, in this process: latencies, lease expiries, redeliveries, human
tasks' waits and reported spend. Each method is called after the commit of the change it observes
(``tx.after_commit``), so a change that rolls back counts for nothing; these figures are per replica
(sum them across replicas in PromQL). They are kept as plain numbers (``series.py``).

The writer runs ``after_commit`` callbacks right after its commit and before it answers the units'
callers, so a callback that raised would break the writer: every method here catches what it raises.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import ParamSpec

from prometheus_client.metrics_core import Metric

from intentd.model import JSON

from ..mesh.policies import usage_of
from .series import CounterSeries, HistogramSeries

log = logging.getLogger("intentd.engine.metrics")
P = ParamSpec("P")

# Seconds. A handoff takes milliseconds when an agent waits, minutes when none does; a run takes up
# to hours; a person answers within minutes or days.
HANDOFF_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
END_TO_END_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)
HUMAN_BUCKETS = (1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400)
AGENT = ("namespace", "agent")


def _never_raises(method: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except Exception:  # a metric must never fail the writer (see the module's docstring)
            log.exception("could not record a metric (%s)", method.__name__)

    return guarded


class Observed:
    """The families this process observes: a collector for the engine's registry."""

    def __init__(self) -> None:
        self._handoff = HistogramSeries(
            "intentd_handoff_seconds",
            "Per replica: from an intent entering its agent's queue (for a submit: its creation) to its "
            "first lease",
            AGENT,
            HANDOFF_BUCKETS,
        )
        self._end_to_end = HistogramSeries(
            "intentd_end_to_end_seconds",
            "Per replica: from an intent's creation to its terminal status",
            (*AGENT, "status"),
            END_TO_END_BUCKETS,
        )
        self._expiries = CounterSeries(
            "intentd_lease_expiries",
            "Per replica: leases the scheduler found expired (outcome requeued, or failed once delivery "
            "attempts were used up)",
            (*AGENT, "outcome"),
        )
        self._redeliveries = CounterSeries(
            "intentd_redeliveries",
            "Per replica: leases after the first of an intent (after an expiry, a release, a retry)",
            AGENT,
        )
        self._human_wait = HistogramSeries(
            "intentd_human_task_wait_seconds",
            "Per replica: from a human task's creation to its close, by outcome (the decision's, or "
            "timed_out, canceled)",
            ("namespace", "task_type", "outcome"),
            HUMAN_BUCKETS,
        )
        self._cost = CounterSeries(
            "intentd_usage_cost_usd", "Per replica: cost in US dollars that agents reported", AGENT
        )
        self._tokens = CounterSeries(
            "intentd_usage_tokens", "Per replica: tokens that agents reported", (*AGENT, "direction")
        )
        self._series = (
            self._handoff,
            self._end_to_end,
            self._expiries,
            self._redeliveries,
            self._human_wait,
            self._cost,
            self._tokens,
        )

    def collect(self) -> Iterator[Metric]:
        for series in self._series:
            yield series.family()

    @_never_raises
    def handed_off(self, namespace: str, agent: str, seconds: float) -> None:
        self._handoff.observe((namespace, agent), seconds)

    @_never_raises
    def ended(self, namespace: str, agent: str, status: str, seconds: float) -> None:
        self._end_to_end.observe((namespace, agent, status), seconds)

    @_never_raises
    def lease_expired(self, namespace: str, agent: str, outcome: str) -> None:
        self._expiries.inc((namespace, agent, outcome))

    @_never_raises
    def redelivered(self, namespace: str, agent: str) -> None:
        self._redeliveries.inc((namespace, agent))

    @_never_raises
    def task_closed(self, namespace: str, task_type: str, outcome: str, seconds: float) -> None:
        self._human_wait.observe((namespace, task_type, outcome), seconds)

    @_never_raises
    def used(self, namespace: str, agent: str, usage: JSON) -> None:
        """A usage report (``cost_usd``, ``tokens_in``, ``tokens_out``; other figures are not spend)."""
        figures = usage_of(usage)  # anything but a positive figure counts as none: a counter only goes up
        if figures.cost_usd > 0:
            self._cost.inc((namespace, agent), figures.cost_usd)
        if figures.tokens_in > 0:
            self._tokens.inc((namespace, agent, "in"), figures.tokens_in)
        if figures.tokens_out > 0:
            self._tokens.inc((namespace, agent, "out"), figures.tokens_out)
