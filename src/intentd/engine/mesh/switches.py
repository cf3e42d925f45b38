"""The kill switches as each server process sees them (ARCHITECTURE.md §13 lesson 13: enforced before
delivery). Every delivery path asks :meth:`KillSwitches.killed` before it leases (a claim, a held
stream, the direct handoff inside the submitting transaction, an HTTP push) and the create route
before it accepts work, so the check is a dictionary lookup, not a query: the rows of
``agent_kills`` are held in memory (:class:`~intentd.engine.mesh.mirror.Mirror`). Held delivery
streams wake on ``SWITCHES_KEY`` once the mirror has changed, and tell their workers (docs/mesh.md,
"Kill switch")."""

from __future__ import annotations

from intentd.model import base_address
from intentd.store import KillRecord, Store, Tx

from .mirror import Mirror

SWITCHES_KEY = "mesh:switches"  # published in this process after the switches changed
NAMESPACE = "*"  # the target that kills a whole namespace


def covers(target: str, address: str) -> bool:
    """Whether a kill of ``target`` stops ``address``: the namespace, the address (every version of
    it when the target names none) or this version."""
    return target in (NAMESPACE, address, base_address(address))


async def _all_kills(tx: Tx) -> list[KillRecord]:
    return await tx.all_kills()


class KillSwitches(Mirror[KillRecord]):
    def __init__(self, store: Store) -> None:
        super().__init__(store, _all_kills, lambda k: (k.namespace, k.target), SWITCHES_KEY)

    def killed(self, namespace: str, address: str) -> KillRecord | None:
        """The kill that stops ``address``, if any: its own version's first, then its base's, then the
        namespace's."""
        kills = self.rows(namespace)
        if not kills:  # the usual case, on every handoff: nothing killed in the namespace
            return None
        return kills.get(address) or kills.get(base_address(address)) or kills.get(NAMESPACE)
