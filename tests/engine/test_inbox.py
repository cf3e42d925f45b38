"""Inbox threads in the engine, on both backends: a thread is made with its intent's first change and
owned by its reply_to; replies, delegation, deleting replies for the owner or for everyone; approving
and rejecting a thread; and each owner's feed of changes, numbered in commit order, which a reader
pages through while threads change without losing or repeating a change."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from intentd.engine import Claim, Engine, Principal, Resolve, Wait
from intentd.engine import inbox as inbox_module
from intentd.engine.inbox import Delegate, DeleteMessages, Reply, Thread, derived_id
from intentd.model import (
    ApprovalDecided,
    EventType,
    IdempotencyConflict,
    IntentNotWaiting,
    IntentTerminal,
    MessageNotDeletable,
    MessageNotFound,
    Status,
    ThreadFull,
    ThreadNotFound,
    WaitingReason,
)
from tests._support.engine import AGENT, FakeClock, task

BOSS = "agent://acme/test/boss"
DEPUTY = "agent://acme/test/deputy"


async def asked(engine: Engine, principal: Principal, reply_to: str = BOSS) -> str:
    """An intent submitted with ``reply_to``: its thread's id."""
    intent, _ = await engine.intents.submit(principal, task(reply_to=reply_to))
    return intent.intent_id


async def say(engine: Engine, principal: Principal, thread_id: str, text: str, **kw: str | None) -> Thread:
    return await engine.inbox.reply(principal, Reply(thread_id, text, kw.pop("key", None)), **kw)


def texts(thread: Thread) -> list[str]:
    return [i.details["text"] for i in thread.items if i.item_type == "message.sent"]


async def changes_of(engine: Engine, principal: Principal, owner: str | None) -> list[tuple[str, str]]:
    page = await engine.inbox.changes(principal, owner=owner, limit=200)
    return [(c.thread.intent.intent_id, c.change_type) for c in page.changes]


# -- threads -----------------------------------------------------------------------------------------


async def test_a_thread_is_its_intents_completion_thread_owned_by_its_reply_to(
    engine: Engine, principal: Principal
) -> None:
    thread_id = await asked(engine, principal)
    plain, _ = await engine.intents.submit(principal, task())  # no reply_to: no thread, no change

    [thread] = await engine.inbox.threads(principal, owner=BOSS)
    assert (thread.intent.intent_id, thread.owner_agent, thread.status) == (thread_id, BOSS, "pending")
    assert await engine.inbox.threads(principal, owner=DEPUTY) == []
    with pytest.raises(ThreadNotFound):
        await engine.inbox.thread(principal, plain.intent_id)
    assert await engine.store.read(lambda tx: tx.inbox_thread_owner(plain.intent_id)) is None
    assert await changes_of(engine, principal, None) == [(thread_id, "intent.submitted")]


async def test_a_reply_is_the_owners_message_and_leaves_the_intent_as_it_was(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    thread_id = await asked(engine, principal)
    clock.advance(5)

    thread = await say(engine, principal, thread_id, "any news?", owner=BOSS)

    [reply] = thread.items
    assert (reply.item_type, reply.actor, reply.at) == ("message.sent", principal.name, clock())
    assert reply.details == {"role": "owner", "from": BOSS, "to": AGENT, "text": "any news?"}
    assert reply.item_id == derived_id(thread_id, "item:1")
    assert (thread.intent.status, thread.intent.last_seq, thread.updated_at) == (Status.SUBMITTED, 2, clock())
    assert await changes_of(engine, principal, BOSS) == [
        (thread_id, "intent.submitted"),
        (thread_id, "message.sent"),
    ]
    [listed] = await engine.inbox.threads(principal, owner=BOSS)
    assert listed == thread


async def test_a_reply_under_an_idempotency_key_is_written_once(engine: Engine, principal: Principal) -> None:
    thread_id = await asked(engine, principal)
    await say(engine, principal, thread_id, "ship it", key="k-1")
    again = await say(engine, principal, thread_id, "ship it", key="k-1")  # a client's retry

    assert texts(again) == ["ship it"]
    with pytest.raises(IdempotencyConflict):
        await say(engine, principal, thread_id, "do not ship it", key="k-1")
    assert texts(await engine.inbox.thread(principal, thread_id)) == ["ship it"]
    assert [t for _, t in await changes_of(engine, principal, BOSS)].count("message.sent") == 1


async def test_only_the_owner_reaches_a_thread(engine: Engine, principal: Principal) -> None:
    thread_id = await asked(engine, principal)
    for write in (
        say(engine, principal, thread_id, "hi", owner=DEPUTY),
        engine.inbox.delegate(principal, Delegate(thread_id, DEPUTY), owner=DEPUTY),
        engine.inbox.delete_messages(principal, DeleteMessages(thread_id, "both"), owner=DEPUTY),
        engine.inbox.decide_thread(principal, thread_id, "approve", None, owner=DEPUTY),
    ):
        with pytest.raises(ThreadNotFound):
            await write
    assert (await engine.inbox.thread(principal, thread_id)).items == []


# -- delegation --------------------------------------------------------------------------------------


async def test_a_delegated_thread_belongs_to_its_new_owner(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    thread_id = await asked(engine, principal)
    clock.advance(1)

    thread = await engine.inbox.delegate(principal, Delegate(thread_id, DEPUTY, "yours now"), owner=BOSS)

    assert thread.owner_agent == DEPUTY and thread.intent.reply_to == BOSS
    [moved] = thread.items
    assert (moved.item_type, moved.details) == (
        "thread.delegated",
        {"from_owner": BOSS, "to_owner": DEPUTY, "note": "yours now"},
    )
    assert [t.intent.intent_id for t in await engine.inbox.threads(principal, owner=DEPUTY)] == [thread_id]
    assert await engine.inbox.threads(principal, owner=BOSS) == []
    with pytest.raises(ThreadNotFound):
        await engine.inbox.thread(principal, thread_id, owner=BOSS)
    # The owner it left learns where it went; the new owner's feed starts with it.
    left = (await engine.inbox.changes(principal, owner=BOSS)).changes[-1]
    assert (left.change_type, left.thread.owner_agent) == ("thread.delegated", DEPUTY)
    assert await changes_of(engine, principal, DEPUTY) == [(thread_id, "thread.delegated")]
    # Its new owner replies as the owner; delegating it to the owner it has changes nothing.
    await say(engine, principal, thread_id, "on it", owner=DEPUTY)
    again = await engine.inbox.delegate(principal, Delegate(thread_id, DEPUTY), owner=DEPUTY)
    assert [i.item_type for i in again.items] == ["thread.delegated", "message.sent"]
    assert again.items[-1].details["from"] == DEPUTY
    assert len(await changes_of(engine, principal, DEPUTY)) == 2


async def test_the_outcome_of_a_delegated_thread_still_goes_to_the_reply_to(
    engine: Engine, principal: Principal
) -> None:
    thread_id = await asked(engine, principal)
    await engine.inbox.delegate(principal, Delegate(thread_id, DEPUTY))
    await engine.intents.resolve(principal, thread_id, Resolve("COMPLETED", result={"ok": 1}))

    [reply] = await engine.delivery.feed(principal, BOSS, 0)
    assert (reply.intent_id, reply.event_type) == (thread_id, EventType.COMPLETED.value)
    assert (await engine.inbox.thread(principal, thread_id, owner=DEPUTY)).status == "done"
    assert (await engine.inbox.changes(principal, owner=DEPUTY)).changes[-1].change_type == "intent.completed"


# -- deleting replies --------------------------------------------------------------------------------


async def test_deleting_for_self_hides_replies_from_the_owner_who_deleted_them(
    engine: Engine, principal: Principal
) -> None:
    thread_id = await asked(engine, principal)
    first = (await say(engine, principal, thread_id, "first")).items[-1]
    await say(engine, principal, thread_id, "second")

    deleted = await engine.inbox.delete_messages(
        principal, DeleteMessages(thread_id, "self", (first.item_id,)), owner=BOSS
    )

    assert (deleted.mode, deleted.message_ids) == ("self", [first.item_id])
    assert texts(deleted.thread) == ["second"]
    assert texts(await engine.inbox.thread(principal, thread_id)) == ["second"]  # any read by its owner
    await engine.inbox.delegate(principal, Delegate(thread_id, DEPUTY))
    assert texts(await engine.inbox.thread(principal, thread_id)) == ["first", "second"]
    assert (await engine.inbox.changes(principal, owner=BOSS)).changes[-2].change_type == "messages.deleted"


async def test_deleting_for_both_erases_the_text_for_everyone(engine: Engine, principal: Principal) -> None:
    thread_id = await asked(engine, principal)
    await say(engine, principal, thread_id, "keep")
    erased = (await say(engine, principal, thread_id, "a secret")).items[-1]

    deleted = await engine.inbox.delete_messages(
        principal, DeleteMessages(thread_id, "both", (erased.item_id,))
    )

    assert deleted.message_ids == [erased.item_id] and texts(deleted.thread) == ["keep"]
    await engine.inbox.delegate(principal, Delegate(thread_id, DEPUTY))
    assert texts(await engine.inbox.thread(principal, thread_id)) == ["keep"]
    stored = await engine.store.read(lambda tx: tx.list_inbox_items(thread_id, 10))
    assert "a secret" not in str(stored) and stored[1]["details"]["erased"] is True
    again = await engine.inbox.delete_messages(
        principal, DeleteMessages(thread_id, "both", (erased.item_id,))
    )
    assert again.message_ids == []  # already deleted: a retry deletes nothing more


async def test_without_ids_the_newest_replies_are_deleted_up_to_the_limit(
    engine: Engine, principal: Principal
) -> None:
    thread_id = await asked(engine, principal)
    for text in ("one", "two", "three"):
        await say(engine, principal, thread_id, text)

    two = await engine.inbox.delete_messages(principal, DeleteMessages(thread_id, "self", limit=2))
    assert texts(two.thread) == ["one"] and len(two.message_ids) == 2
    rest = await engine.inbox.delete_messages(principal, DeleteMessages(thread_id, "self"))
    assert texts(rest.thread) == [] and len(rest.message_ids) == 1


async def test_the_request_and_the_outcome_cannot_be_deleted(engine: Engine, principal: Principal) -> None:
    thread_id = await asked(engine, principal)
    await engine.intents.resolve(principal, thread_id, Resolve("COMPLETED", result={}))
    before = await changes_of(engine, principal, BOSS)

    for derived in (derived_id(thread_id, "request"), derived_id(thread_id, "completion")):
        with pytest.raises(MessageNotDeletable) as refused:
            await engine.inbox.delete_messages(principal, DeleteMessages(thread_id, "both", (derived,)))
        assert refused.value.details["field"] == "message_ids"
    with pytest.raises(MessageNotFound):
        await engine.inbox.delete_messages(principal, DeleteMessages(thread_id, "self", ("no-such-message",)))
    assert await changes_of(engine, principal, BOSS) == before


async def test_a_full_thread_refuses_more_entries(
    engine: Engine, principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "MAX_THREAD_ITEMS", 2)
    thread_id = await asked(engine, principal)
    await say(engine, principal, thread_id, "one")
    await say(engine, principal, thread_id, "two")

    with pytest.raises(ThreadFull):
        await say(engine, principal, thread_id, "three")
    with pytest.raises(ThreadFull):
        await engine.inbox.delegate(principal, Delegate(thread_id, DEPUTY))
    thread = await engine.inbox.thread(principal, thread_id)
    assert (texts(thread), thread.owner_agent) == (["one", "two"], BOSS)
    deleted = await engine.inbox.delete_messages(principal, DeleteMessages(thread_id, "both"))
    assert len(deleted.message_ids) == 2  # deleting adds no entry: a full thread can still be cleared


# -- approve and reject ------------------------------------------------------------------------------


async def parked(engine: Engine, principal: Principal) -> str:
    thread_id = await asked(engine, principal)
    [intent] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w"))
    assert intent.intent_id == thread_id and intent.lease is not None
    await engine.delivery.wait(principal, thread_id, Wait(intent.lease.token, WaitingReason.HUMAN.value))
    return thread_id


async def test_approving_a_thread_decides_its_waiting_intent(engine: Engine, principal: Principal) -> None:
    approved, rejected = await parked(engine, principal), await parked(engine, principal)

    thread, approval = await engine.inbox.decide_thread(principal, approved, "approve", "go", owner=BOSS)
    assert (approval.approval_id, approval.decision, approval.comment) == (approved, "approve", "go")
    assert (thread.intent.status, thread.status) == (Status.SUBMITTED, "pending")
    approval_at = approval.decided_at
    thread, approval = await engine.inbox.decide_thread(principal, rejected, "reject", "no", owner=None)
    assert (thread.intent.status, thread.status, approval.decision) == (Status.FAILED, "done", "reject")
    assert thread.events[-1].details["error"]["code"] == "approval_rejected"

    with pytest.raises(IntentTerminal):  # decided and terminal: a conflict, whatever is asked
        await engine.inbox.decide_thread(principal, rejected, "reject", "no", owner=None)
    # An open thread: the approval's own rules (a retry replays, a change of mind is a conflict).
    _, replay = await engine.inbox.decide_thread(principal, approved, "approve", "go", owner=None)
    assert replay.replayed and replay.decided_at == approval_at
    with pytest.raises(ApprovalDecided):
        await engine.inbox.decide_thread(principal, approved, "reject", None, owner=None)
    with pytest.raises(IntentNotWaiting):  # nothing to decide while its agent has it
        await engine.inbox.decide_thread(
            principal, await asked(engine, principal), "approve", None, owner=None
        )


# -- the change feed ---------------------------------------------------------------------------------


async def test_changes_are_paged_in_cursor_order_per_owner_and_for_the_namespace(
    engine: Engine, principal: Principal
) -> None:
    mine, theirs = await asked(engine, principal), await asked(engine, principal, reply_to=DEPUTY)
    await say(engine, principal, mine, "hello")
    await engine.intents.resolve(principal, mine, Resolve("CANCELED", reason="no longer needed"))

    first = await engine.inbox.changes(principal, owner=BOSS, limit=2)
    assert first.has_more and [c.change_type for c in first.changes] == ["intent.submitted", "message.sent"]
    rest = await engine.inbox.changes(principal, owner=BOSS, after=first.changes[-1].cursor, limit=2)
    assert not rest.has_more and [c.change_type for c in rest.changes] == ["intent.canceled"]
    assert all(c.thread.status == "done" for c in first.changes + rest.changes)  # the thread now
    cursors = [c.cursor for c in first.changes + rest.changes]
    assert cursors == sorted(cursors) and len(set(cursors)) == 3
    assert (await engine.inbox.changes(principal, owner=BOSS, after=cursors[-1])).changes == []
    assert await changes_of(engine, principal, None) == [
        (mine, "intent.submitted"),
        (theirs, "intent.submitted"),
        (mine, "message.sent"),
        (mine, "intent.canceled"),
    ]


async def test_a_change_stamped_earlier_but_written_later_is_not_skipped(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    """Cursors follow commits, not clocks: a writer whose clock is behind (another replica, a
    transaction that took its time stamp early) still lands after everything already read."""
    first = await asked(engine, principal)
    page = await engine.inbox.changes(principal, owner=BOSS)
    clock.advance(-3600)

    later = await asked(engine, principal)

    [change] = (await engine.inbox.changes(principal, owner=BOSS, after=page.changes[-1].cursor)).changes
    assert change.thread.intent.intent_id == later and change.at < page.changes[-1].at
    assert [c.thread.intent.intent_id for c in page.changes] == [first]


WRITERS, ROUNDS, PAGE = 6, 5, 7


async def test_paging_while_threads_change_loses_and_repeats_nothing(
    engine: Engine, principal: Principal
) -> None:
    """Writers change threads concurrently (on PostgreSQL, over several connections whose
    transactions commit in any order) while a reader pages through the owner's feed; once they are
    done and the reader has caught up, it has seen each change exactly once, in cursor order."""
    made: Counter[tuple[str, str]] = Counter()
    done = asyncio.Event()

    async def writer() -> None:
        for round_ in range(ROUNDS):
            thread_id = await asked(engine, principal)
            await say(engine, principal, thread_id, f"round {round_}")
            await engine.intents.resolve(principal, thread_id, Resolve("COMPLETED", result={}))
            made.update(
                (thread_id, kind) for kind in ("intent.submitted", "message.sent", "intent.completed")
            )

    async def reader() -> list[tuple[int, str, str]]:
        seen: list[tuple[int, str, str]] = []
        after = 0
        while True:
            finished = done.is_set()  # before the read: a page read after it sees every write
            page = await engine.inbox.changes(principal, owner=BOSS, after=after, limit=PAGE)
            seen += [(c.cursor, c.thread.intent.intent_id, c.change_type) for c in page.changes]
            after = page.changes[-1].cursor if page.changes else after
            if finished and not page.has_more:
                return seen
            await asyncio.sleep(0)  # a turn for the writers (a SQLite read runs without yielding)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    done.set()
    seen = await reading

    cursors = [cursor for cursor, *_ in seen]
    assert cursors == sorted(set(cursors)), "a change was repeated or came out of cursor order"
    assert Counter((thread_id, kind) for _, thread_id, kind in seen) == made
    assert len(seen) == WRITERS * ROUNDS * 3
