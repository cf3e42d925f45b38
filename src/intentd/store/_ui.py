"""The dashboard's rows (queries in ``sql/ui.sql``): its sessions, kept as the hash of their id, and
the intents search of its list page, which filters on more than the API's list does."""

from __future__ import annotations

from dataclasses import dataclass

from intentd.model import Intent, Micros

from ._codec import intent_from_row
from ._txbase import TxBase


@dataclass(frozen=True, slots=True)
class UiSession:
    session_hash: str
    key_id: str
    created_at: Micros
    expires_at: Micros


@dataclass(frozen=True, slots=True)
class IntentQuery:
    """What the dashboard's intents list asks for; None: any. ``created_from`` is inclusive,
    ``created_until`` exclusive."""

    status: str | None = None
    to_agent: str | None = None
    intent_type: str | None = None
    correlation_id: str | None = None
    created_from: Micros | None = None
    created_until: Micros | None = None
    limit: int = 100


class UiRows(TxBase):
    async def insert_ui_session(self, session: UiSession) -> None:
        await self._write(
            "insert_ui_session",
            session_hash=session.session_hash,
            key_id=session.key_id,
            created_at=session.created_at,
            expires_at=session.expires_at,
        )

    async def ui_session(self, session_hash: str) -> UiSession | None:
        row = await self._one("get_ui_session", session_hash=session_hash)
        if row is None:
            return None
        return UiSession(row["session_hash"], row["key_id"], row["created_at"], row["expires_at"])

    async def delete_ui_session(self, session_hash: str) -> bool:
        return await self._write("delete_ui_session", session_hash=session_hash) == 1

    async def delete_expired_ui_sessions(self, now: Micros) -> int:
        return await self._write("delete_expired_ui_sessions", now=now)

    async def search_intents(self, namespace: str, query: IntentQuery) -> list[Intent]:
        rows = await self._rows(
            "search_intents",
            namespace=namespace,
            status=query.status,
            to_agent=query.to_agent,
            intent_type=query.intent_type,
            correlation_id=query.correlation_id,
            created_from=query.created_from,
            created_until=query.created_until,
            limit=query.limit,
        )
        return [intent_from_row(r) for r in rows]
