"""The dashboard's search of a namespace's intents (``/ui/intents``): the API's list filters by status,
agent and correlation id; a person looking for an intent also filters by its type and by when it was
made, newest first."""

from __future__ import annotations

from dataclasses import replace

from intentd.model import Intent
from intentd.store import IntentQuery, Store

from .inputs import Principal

MAX_RESULTS = 500


class IntentSearch:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def search(self, principal: Principal, query: IntentQuery) -> list[Intent]:
        """The caller's namespace's intents that match ``query`` (at most :data:`MAX_RESULTS`)."""
        bounded = replace(query, limit=max(1, min(query.limit, MAX_RESULTS)))
        return await self._store.read(lambda tx: tx.search_intents(principal.namespace, bounded))


__all__ = ["IntentQuery", "IntentSearch"]
