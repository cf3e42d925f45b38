"""Counters and histograms kept as plain numbers, read by the registry at scrape time.

prometheus_client's own ``Histogram.observe`` takes a lock per bucket and for its sum, and its
``labels`` another, to be safe across threads: about 6 µs an observation here, on every handoff. Every
observation of the runtime is made on the event loop (the writer runs ``after_commit`` callbacks in its
tasks) and so is every scrape (``/metrics`` renders in its route), so nothing here can run at the same
time as anything else: an observation is a dict lookup, a ``bisect`` and two additions (well under a
microsecond), and prometheus_client renders the figures from the families built at scrape time.
Call these from the event loop's thread only.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily

Labels = tuple[str, ...]

# Label sets one family keeps apart at most; past it, new ones add to one series per namespace whose
# other labels are all OTHER (the namespace stays: a key sees its own namespace's series only). Agent
# addresses are made by whoever submits (work may be sent to an address no agent serves yet), and each
# label set is a series held forever, here and in Prometheus; namespaces are made by the operator.
MAX_SERIES = 5_000
OTHER = "other"


class _Series:
    """Label sets and their figures; the first label is the namespace."""

    def __init__(self, name: str, documentation: str, labels: Labels) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels

    @staticmethod
    def capped(known: int, labels: Labels) -> Labels:
        """``labels``, or past :data:`MAX_SERIES` label sets its namespace's OTHER set."""
        return labels if known < MAX_SERIES else (labels[0], *(OTHER for _ in labels[1:]))


class CounterSeries(_Series):
    def __init__(self, name: str, documentation: str, labels: Labels) -> None:
        super().__init__(name, documentation, labels)
        self._values: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        values = self._values
        if labels not in values:
            labels = self.capped(len(values), labels)
        values[labels] = values.get(labels, 0.0) + amount

    def family(self) -> CounterMetricFamily:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in self._values.items():
            family.add_metric(labels, value)
        return family


class HistogramSeries(_Series):
    def __init__(self, name: str, documentation: str, labels: Labels, buckets: Sequence[float]) -> None:
        super().__init__(name, documentation, labels)
        self._bounds = [*buckets, math.inf]
        self._names = [_bound(b) for b in self._bounds]
        self._counts: dict[Labels, list[int]] = {}  # per bucket (not cumulative)
        self._sums: dict[Labels, float] = {}

    def observe(self, labels: Labels, value: float) -> None:
        counts = self._counts.get(labels)
        if counts is None:
            labels = self.capped(len(self._counts), labels)
            counts = self._counts.setdefault(labels, [0] * len(self._bounds))
        counts[bisect_left(self._bounds, value)] += 1  # the first bucket whose bound is >= value
        self._sums[labels] = self._sums.get(labels, 0.0) + value

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, counts in self._counts.items():
            buckets = list(zip(self._names, accumulate(counts), strict=True))
            family.add_metric(labels, buckets, sum_value=self._sums[labels])
        return family


def _bound(upper: float) -> str:
    """A bucket's ``le`` as prometheus_client writes it (``0.005``, ``1.0``, ``+Inf``)."""
    return "+Inf" if upper == math.inf else repr(float(upper))
