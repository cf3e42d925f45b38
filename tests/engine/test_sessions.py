"""Dashboard sessions (engine/sessions.py) on both backends: a key opens a session that acts as the key;
it ends when it expires, when it is closed, and when its key is revoked or expires; only the session
id's hash is stored; ended sessions are swept on the next sign-in."""

from __future__ import annotations

import pytest

from intentd.engine import Engine
from intentd.engine.sessions import SESSION_SECONDS, session_hash
from intentd.model import ApiKeyRevoked, InvalidApiKey, Unauthorized
from tests._support.engine import FakeClock


async def test_a_session_acts_as_its_key(engine: Engine) -> None:
    _, secret = await engine.keys.create("alice", "approver", task_roles=("finance",))

    opened = await engine.sessions.open(secret)

    principal = await engine.sessions.principal(opened.session_id)
    assert (principal.name, principal.role, principal.task_roles) == ("alice", "approver", ("finance",))
    assert principal == opened.principal
    stored = await engine.store.read(lambda tx: tx.ui_session(session_hash(opened.session_id)))
    assert stored is not None and stored.key_id == principal.key_id
    assert await engine.store.read(lambda tx: tx.ui_session(opened.session_id)) is None  # the hash only


async def test_a_wrong_key_opens_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidApiKey):
        await engine.sessions.open("itd_not_a_key")
    with pytest.raises(Unauthorized):
        await engine.sessions.principal("no-such-session")


async def test_a_session_ends_when_it_expires(engine: Engine, clock: FakeClock) -> None:
    _, secret = await engine.keys.create("bob", "auditor")
    opened = await engine.sessions.open(secret)

    clock.advance(SESSION_SECONDS - 1)
    await engine.sessions.principal(opened.session_id)
    clock.advance(1)
    with pytest.raises(Unauthorized):
        await engine.sessions.principal(opened.session_id)

    await engine.sessions.open(secret)  # the next sign-in sweeps the ended session
    assert await engine.store.read(lambda tx: tx.ui_session(session_hash(opened.session_id))) is None


async def test_revoking_the_key_ends_its_sessions_at_once(engine: Engine) -> None:
    record, secret = await engine.keys.create("carol", "admin")
    first, second = await engine.sessions.open(secret), await engine.sessions.open(secret)

    await engine.keys.revoke(record.key_id)

    for opened in (first, second):
        with pytest.raises(ApiKeyRevoked):
            await engine.sessions.principal(opened.session_id)


async def test_an_expiring_key_ends_its_sessions(engine: Engine, clock: FakeClock) -> None:
    _, secret = await engine.keys.create("dave", "auditor", expires_at=clock.now + 60_000_000)
    opened = await engine.sessions.open(secret)

    clock.advance(61)

    with pytest.raises(Unauthorized):
        await engine.sessions.principal(opened.session_id)


async def test_signing_out_ends_the_session_and_is_audited(engine: Engine) -> None:
    _, secret = await engine.keys.create("erin", "submitter")
    opened = await engine.sessions.open(secret)

    await engine.sessions.close(opened.session_id, opened.principal)

    with pytest.raises(Unauthorized):
        await engine.sessions.principal(opened.session_id)
    trail = await engine.store.read(lambda tx: tx.list_audit("default", after=0, limit=100))
    assert [r.action for r in trail if r.action.startswith("ui.")] == ["ui.signed_in", "ui.signed_out"]
