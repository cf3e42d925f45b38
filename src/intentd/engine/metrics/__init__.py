"""Prometheus metrics of the runtime (docs/operations.md, "Metrics"), served at ``/metrics``.

- ``observed.py``: what this process observes as it goes (latencies, expiries, redeliveries, human
  tasks' waits, spend), per replica, kept as plain numbers (``series.py``) without prometheus_client's
  locks;
- ``effects.py``: how the runtime reports it, through the recorder's effect and the human tasks' hook,
  after the change commits;
- ``database.py``: what is read from the database at scrape time, global across replicas;
- ``replica.py``: the process's version and its scheduler's lag;
- ``exposition.py``: one registry per engine, scraped for one namespace or all.
"""

from .effects import ObserveLifecycle, ObserveTaskClosings
from .exposition import CONTENT_TYPE, Metrics

__all__ = ["CONTENT_TYPE", "Metrics", "ObserveLifecycle", "ObserveTaskClosings"]
