"""The assertion every adapter's call direction shares: a served intent that handed work on is one
intent tree, its one child made by the adapter, in one correlation."""

from __future__ import annotations

from intentd.client import AsyncClient, Intent


async def one_child(client: AsyncClient, intent: Intent, to_agent: str, step_key: str) -> Intent:
    """The one child of ``intent``: for ``to_agent``, an ``intent.draft.v1`` journaled under
    ``step_key``, in ``intent``'s correlation; returned for the test's own checks."""
    tree = await client.tree(intent.intent_id)
    [child] = tree.children(intent.intent_id)
    assert [i.intent_id for i in tree.intents] == [intent.intent_id, child.intent_id]
    assert child.parent_intent_id == intent.intent_id and child.to_agent == to_agent
    assert child.intent_type == "intent.draft.v1" and child.step_key == step_key
    assert {i.correlation_id for i in tree.intents} == {intent.correlation_id}
    return child
