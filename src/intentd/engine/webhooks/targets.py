"""What a change may have to POST to: the agents registered with the ``http`` binding and the active
webhook subscriptions, read by each server process and trusted for ``targets_ttl_seconds``.

The effects that queue POSTs run in every transaction that changes an intent; reading both tables in
each would slow every create and completion for the few deployments that use them. So each process
keeps them in memory and reads them again, in the transaction at hand, once they are older than the
TTL; a change made through this process clears them at once. A change made through another replica
applies within the TTL (docs/webhooks.md)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from intentd.store import Tx, WebhookSubscription


@dataclass(slots=True)
class _Snapshot:
    http_agents: frozenset[tuple[str, str]] = frozenset()
    subscriptions: dict[str, list[WebhookSubscription]] = field(default_factory=dict)
    read_at: float = float("-inf")


class Targets:
    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._snapshot = _Snapshot()

    def invalidate(self) -> None:
        self._snapshot = _Snapshot()

    async def _current(self, tx: Tx) -> _Snapshot:
        snapshot = self._snapshot
        if time.monotonic() - snapshot.read_at <= self._ttl:
            return snapshot
        by_namespace: dict[str, list[WebhookSubscription]] = defaultdict(list)
        for sub in await tx.active_webhook_subscriptions():
            by_namespace[sub.namespace].append(sub)
        snapshot = _Snapshot(frozenset(await tx.http_bound_agents()), dict(by_namespace), time.monotonic())
        self._snapshot = snapshot
        return snapshot

    async def pushes_to(self, tx: Tx, namespace: str, address: str) -> bool:
        return (namespace, address) in (await self._current(tx)).http_agents

    async def subscribed(self, tx: Tx, namespace: str, event_type: str) -> list[WebhookSubscription]:
        """The active subscriptions of ``namespace`` that take ``event_type`` (an intent lifecycle
        event: every subscription of the namespace that lists it, or ``intent.*``)."""
        subs = (await self._current(tx)).subscriptions.get(namespace, ())
        return [s for s in subs if matches(s, event_type)]


def matches(sub: WebhookSubscription, event_type: str) -> bool:
    family = event_type.split(".", 1)[0]
    return event_type in sub.event_types or f"{family}.*" in sub.event_types or "*" in sub.event_types
