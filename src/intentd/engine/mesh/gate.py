"""What every delivery path asks before it leases an intent (ARCHITECTURE.md §13 lesson 13: the
control plane is enforced before delivery): is its agent killed (``switches``), or does a policy hold
it back (``policies``: a concurrency limit, a spend cap that blocks)? The claim, the held stream, the
direct handoff inside the submitting transaction and the HTTP push all ask it, in the lease's
transaction; a namespace without kills or policies costs two dictionary lookups."""

from __future__ import annotations

from intentd.model import Intent, Micros
from intentd.store import Tx

from .policies import PolicyGate
from .switches import KillSwitches


class DeliveryGate:
    def __init__(self, switches: KillSwitches, policies: PolicyGate) -> None:
        self.switches = switches
        self.policies = policies

    def killed(self, namespace: str, agent: str) -> bool:
        return self.switches.killed(namespace, agent) is not None

    async def holds(self, tx: Tx, intent: Intent, now: Micros) -> bool:
        """Whether ``intent`` must not be leased now (it stays queued)."""
        return self.killed(intent.namespace, intent.to_agent) or await self.policies.holds(tx, intent, now)
