"""Sandbox namespaces and synthetic intents (docs/mesh.md): a sandbox namespace is a tenant of its own
(its data and keys isolated as every namespace's) marked for tests; a synthetic intent is test traffic
in one. It is flagged for its whole run (its follow-ups, spawned children and workflow steps inherit
the flag), left out of usage rollups and of the fleet's figures, and refused outside a sandbox
namespace, so it can never reach a production agent."""

from __future__ import annotations

from intentd.model import ValidationFailed
from intentd.store import Tx


async def sandbox_only(tx: Tx, namespace: str) -> None:
    """Refuse a synthetic intent outside a sandbox namespace (422, field ``synthetic``)."""
    record = await tx.get_namespace(namespace)
    if record is None or not record.sandbox:
        raise ValidationFailed(
            "synthetic intents are test traffic: submit them in a sandbox namespace "
            "(intentd namespaces create NAME --sandbox)",
            details={"field": "synthetic", "namespace": namespace},
        )
