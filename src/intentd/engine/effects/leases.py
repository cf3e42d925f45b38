"""A lease that ends frees its place on the worker's held stream (``engine/streams.py``), whatever
ended it: a completion, a failure, a release, a wait, an expiry, a cancel, or a newer lease."""

from __future__ import annotations

from typing import Protocol

from intentd.store import Tx

from .._change import Change


class HeldStreams(Protocol):
    def holds(self, namespace: str, worker: str) -> bool: ...

    def lease_ended(self, namespace: str, worker: str, intent_id: str, token: str) -> None: ...


class FreeStreamPlace:
    def __init__(self, streams: HeldStreams) -> None:
        self._streams = streams

    async def apply(self, tx: Tx, change: Change) -> None:
        lease, now = change.before.lease, change.intent.lease
        if lease is None or (now is not None and now.token == lease.token):
            return
        ns, intent_id = change.intent.namespace, change.intent.intent_id
        if self._streams.holds(ns, lease.owner):  # only streams held in this process keep count here
            tx.after_commit.append(lambda: self._streams.lease_ended(ns, lease.owner, intent_id, lease.token))
