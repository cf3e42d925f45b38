"""Dashboard sessions (``/ui``, docs/dashboard.md): a person signs in with an API key once and the
browser then holds a random session id in an HttpOnly cookie instead of the key.

Only the SHA-256 of the session id is stored (like a key's, a fast hash is right: the id has full
entropy), with the id of the key it acts as and its end, so any replica serves the session. The key is
read again on every request, not cached, so revoking it, or its expiry, ends its sessions at once on
every replica; and the session acts with the key's role and namespace as they are now.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from intentd.model import ApiKeyExpired, ApiKeyRevoked, Micros, Unauthorized
from intentd.store import ApiKeyRecord, Store, Tx, UiSession

from . import audit
from .inputs import Principal
from .keys import KeyService

Clock = Callable[[], Micros]
SESSION_SECONDS = 12 * 3600  # a working day: then the person signs in again
_US = 1_000_000


# The answer to a session that is over (signed out, expired, or its key revoked or expired): 401.
SESSION_ENDED = "the dashboard session has ended: sign in again"


@dataclass(frozen=True, slots=True)
class OpenedSession:
    session_id: str  # the cookie's value: shown to the browser once, never stored
    principal: Principal
    expires_at: Micros


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionService:
    def __init__(self, store: Store, clock: Clock, keys: KeyService, seconds: int = SESSION_SECONDS) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._seconds = seconds

    async def open(self, api_key: str) -> OpenedSession:
        """Sign in with ``api_key`` (``InvalidApiKey`` and its kin when it does not pass) and start a
        session; sessions that have ended are swept on the way (a bounded delete on an index)."""
        principal = await self._keys.authenticate(api_key)
        audit.acting_as(principal)  # the audit record names who signed in
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        session = UiSession(session_hash(session_id), principal.key_id, now, now + self._seconds * _US)

        async def unit(tx: Tx) -> None:
            await tx.delete_expired_ui_sessions(now)
            await tx.insert_ui_session(session)
            audit.record(tx, principal.namespace, now, "ui.signed_in", details=_who(principal))

        await self._store.write(unit)
        return OpenedSession(session_id, principal, session.expires_at)

    async def principal(self, session_id: str) -> Principal:
        """Who the session acts as; ``Unauthorized`` when the session is over."""
        now = self._clock()

        async def read(tx: Tx) -> tuple[UiSession | None, ApiKeyRecord | None]:
            session = await tx.ui_session(session_hash(session_id))
            return session, (await tx.get_api_key(session.key_id) if session else None)

        session, key = await self._store.read(read)
        if session is None or key is None or session.expires_at <= now:
            raise Unauthorized(SESSION_ENDED)
        if key.revoked_at is not None:
            raise ApiKeyRevoked(SESSION_ENDED, details={"key_id": key.key_id})
        if key.expires_at is not None and key.expires_at <= now:
            raise ApiKeyExpired(SESSION_ENDED, details={"key_id": key.key_id})
        return Principal(key.key_id, key.namespace, key.name, key.role, key.task_roles, key.agents)

    async def close(self, session_id: str, principal: Principal) -> None:
        """Sign out: the session ends on every replica."""
        now = self._clock()

        async def unit(tx: Tx) -> None:
            if await tx.delete_ui_session(session_hash(session_id)):
                audit.record(tx, principal.namespace, now, "ui.signed_out", details=_who(principal))

        await self._store.write(unit)


def _who(principal: Principal) -> dict[str, str]:
    return {"key_id": principal.key_id, "name": principal.name, "role": principal.role}
