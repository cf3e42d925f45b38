"""The audit trail (engine/audit.py): every state change and key operation is a record saying who did
it, the records are hash-chained per namespace, and verify finds exactly the first record that was
edited, deleted or moved in the database itself, also after retention pruned old details."""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg
import pytest

from intentd.engine import AuditQuery, Engine, Principal
from intentd.engine.audit import acting_as
from intentd.engine.inputs import Claim, Complete
from intentd.store import WRITE_ORIGIN
from intentd.store.sqlite import path_from_url
from tests._support.engine import AGENT, FakeClock, task


@pytest.fixture(autouse=True)
def _no_caller_left_over() -> Any:
    token = WRITE_ORIGIN.set(None)
    yield
    WRITE_ORIGIN.reset(token)


async def _one_intent_done(engine: Engine, principal: Principal) -> str:
    acting_as(principal)
    intent, _ = await engine.intents.submit(principal, task())
    (leased,) = await engine.delivery.claim(principal, Claim(AGENT, "w1"))
    assert leased.lease is not None
    await engine.delivery.complete(principal, intent.intent_id, Complete(leased.lease.token, {"ok": 1}))
    return intent.intent_id


async def _sql(database_url: str, *statements: str) -> None:
    """Change the database behind intentd's back, as an intruder with its credentials would."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(path_from_url(database_url))
        try:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(database_url)
    try:
        for statement in statements:
            await pg.execute(statement)
    finally:
        await pg.close()


async def test_every_state_change_is_recorded_with_who_did_it(engine: Engine, principal: Principal) -> None:
    intent_id = await _one_intent_done(engine, principal)

    records = await engine.audit.list(principal, query=AuditQuery(intent_id=intent_id))

    assert [r.action for r in records] == [
        "intent.created",
        "intent.submitted",
        "intent.delivered",
        "intent.completed",
    ]
    assert {(r.key_id, r.principal, r.role) for r in records} == {(principal.key_id, "tester", "admin")}
    assert all(r.agent == AGENT and r.intent_id == intent_id for r in records)
    assert records[-1].details == {"seq": 4, "status": "COMPLETED", "actor": AGENT, "from": "DELIVERED"}
    assert [r.seq for r in records] == sorted(r.seq for r in records)


async def test_key_operations_are_recorded_without_their_secrets(
    engine: Engine, principal: Principal
) -> None:
    acting_as(principal)
    record, secret = await engine.keys.create("writer", "agent", agents=(AGENT,))
    _, new_secret = await engine.keys.rotate(principal, record.key_id, 0)
    await engine.keys.revoke(record.key_id, principal)

    records = await engine.audit.list(principal)
    keyed = [r for r in records if r.action.startswith("key.")]

    assert [r.action for r in keyed][-3:] == ["key.created", "key.rotated", "key.revoked"]
    assert keyed[0].principal == "intentd"  # the fixture's own key: made with no caller
    assert all(r.key_id == principal.key_id for r in keyed[-3:])
    assert keyed[-3].details == {
        "key_id": record.key_id,
        "name": "writer",
        "role": "agent",
        "agents": [AGENT],
    }
    assert secret not in str(records) and new_secret not in str(records)


async def test_an_untouched_chain_verifies(engine: Engine, principal: Principal) -> None:
    for _ in range(3):
        await _one_intent_done(engine, principal)

    verdict = await engine.audit.verify(principal.namespace)

    assert verdict.ok, verdict.problem
    assert verdict.records == verdict.head_seq == 13  # the key, then 4 records per intent


async def test_chains_are_per_namespace(engine: Engine, principal: Principal) -> None:
    _, secret = await engine.keys.create("other", namespace="team-b")
    other = await engine.keys.authenticate(secret)
    await _one_intent_done(engine, other)

    theirs = await engine.audit.list(other)
    ours = await engine.audit.list(principal)

    assert [r.seq for r in theirs] == [1, 2, 3, 4, 5]
    assert theirs[0].action == "key.created" and theirs[0].details is not None
    assert theirs[0].details["name"] == "other"
    assert not {r.intent_id for r in theirs if r.intent_id} & {r.intent_id for r in ours}
    assert (await engine.audit.verify("team-b")).ok and (await engine.audit.verify("default")).ok


TAMPERING = {
    "details edited": (
        ["UPDATE audit_records SET details = '{\"seq\": 99}' WHERE namespace = 'default' AND seq = 5"],
        5,
        "details were changed",
    ),
    "action edited": (
        ["UPDATE audit_records SET action = 'intent.canceled' WHERE namespace = 'default' AND seq = 5"],
        5,
        "hash does not match",
    ),
    "record deleted": (["DELETE FROM audit_records WHERE namespace = 'default' AND seq = 5"], 5, "missing"),
    "records reordered": (
        [
            "UPDATE audit_records SET seq = -1 WHERE namespace = 'default' AND seq = 5",
            "UPDATE audit_records SET seq = 5 WHERE namespace = 'default' AND seq = 6",
            "UPDATE audit_records SET seq = 6 WHERE namespace = 'default' AND seq = -1",
        ],
        5,
        "does not follow",
    ),
    "last record deleted": (
        ["DELETE FROM audit_records WHERE namespace = 'default' AND seq = 9"],
        9,
        "missing",
    ),
    "first record deleted": (
        ["DELETE FROM audit_records WHERE namespace = 'default' AND seq = 1"],
        1,
        "missing",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
async def test_verify_finds_the_first_tampered_record(
    engine: Engine, principal: Principal, database_url: str, case: str
) -> None:
    for _ in range(2):
        await _one_intent_done(engine, principal)  # records 1 (the key) to 9
    statements, broken_at, why = TAMPERING[case]

    await _sql(database_url, *statements)
    verdict = await engine.audit.verify("default")

    assert not verdict.ok
    assert verdict.broken_at == broken_at
    assert verdict.problem is not None and why in verdict.problem


async def test_pruned_details_keep_the_chain_verifiable_and_tamper_evident(
    engine: Engine, principal: Principal, clock: FakeClock, database_url: str
) -> None:
    await _one_intent_done(engine, principal)
    clock.advance(3600)
    await _one_intent_done(engine, principal)

    pruned = await engine.audit.prune("default", clock.now - 60 * 1_000_000)
    records = await engine.audit.list(principal)
    after_pruning = await engine.audit.verify("default")
    await _sql(
        database_url, "UPDATE audit_records SET principal = 'someone' WHERE namespace = 'default' AND seq = 2"
    )
    after_tampering = await engine.audit.verify("default")

    assert pruned == 5  # the key and the first intent's four
    assert [r.details is None for r in records] == [True] * 5 + [False] * 4
    assert after_pruning.ok, after_pruning.problem
    assert after_tampering.broken_at == 2


async def test_prune_refuses_a_time_in_the_future(engine: Engine, clock: FakeClock) -> None:
    with pytest.raises(Exception, match="future"):
        await engine.audit.prune("default", clock.now + 1_000_000)
