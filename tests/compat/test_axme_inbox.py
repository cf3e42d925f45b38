"""Every inbox call of the official ``axme`` SDK (PyPI 0.2.0), unmodified, against a real ``intentd
serve`` process on both backends: ``list_inbox``, ``get_inbox_thread``, ``list_inbox_changes``,
``reply_inbox_thread``, ``delegate_inbox_thread``, ``approve_inbox_thread``, ``reject_inbox_thread``,
``delete_inbox_messages`` and ``decide_approval``, plus ``completion_delivery`` on ``resolve_intent``.
The fixtures and helpers are those of test_axme_sdk.py; the choices are in docs/axp-compat.md."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from axme import AxmeClient, AxmeHttpError, AxmeValidationError

from tests.compat import test_axme_sdk as sdk
from tests.compat.test_axme_sdk import Agents, claim, create, intent, park_for_human

# The fixtures of test_axme_sdk.py (one live server per backend for this module, agent addresses of
# each test alone, SDK clients), under the names the tests ask for: pytest finds fixtures by name.
server, agents, connect, axme, http, pool = sdk.server, sdk.agents, sdk.connect, sdk.axme, sdk.http, sdk.pool

pytestmark = pytest.mark.slow
Json = dict[str, Any]


def deputy_of(agents: Agents) -> str:
    return f"{agents.boss}-deputy"


def all_changes(client: AxmeClient, owner: str, cursor: str | None = None, limit: int = 2) -> list[Json]:
    """Every change of ``owner``'s threads after ``cursor``, page by page."""
    seen: list[Json] = []
    while True:
        page = client.list_inbox_changes(owner_agent=owner, cursor=cursor, limit=limit)
        assert page["ok"] is True
        seen += page["changes"]
        if page["has_more"]:  # conformance: then a cursor of 3 characters or more
            assert isinstance(page["next_cursor"], str) and len(page["next_cursor"]) >= 3
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return seen


def test_list_and_get_threads(axme: AxmeClient, agents: Agents) -> None:
    thread_id = create(axme, intent(agents.writer, reply_to=agents.boss))

    (listed,) = axme.list_inbox(owner_agent=agents.boss)["threads"]
    got = axme.get_inbox_thread(thread_id, owner_agent=agents.boss)
    assert got["thread"] == listed and got["messages"] == listed["messages"]
    assert (listed["thread_id"], listed["owner_agent"], listed["status"]) == (
        thread_id,
        agents.boss,
        "pending",
    )
    uuid.UUID(listed["thread_id"])
    assert [i["event_type"] for i in listed["timeline"]] == ["intent.created", "intent.submitted"]


def test_list_inbox_changes_pages_by_cursor(axme: AxmeClient, agents: Agents) -> None:
    threads = [create(axme, intent(agents.writer, reply_to=agents.boss)) for _ in range(3)]

    changes = all_changes(axme, agents.boss)
    assert [(c["thread"]["thread_id"], c["change_type"]) for c in changes] == [
        (t, "intent.submitted") for t in threads
    ]
    last = changes[-1]["cursor"]
    axme.resolve_intent(threads[0], {"status": "COMPLETED", "result": {"n": 1}})
    (done,) = all_changes(axme, agents.boss, cursor=last)
    assert (done["thread"]["thread_id"], done["change_type"]) == (threads[0], "intent.completed")
    assert done["thread"]["status"] == "done"
    assert all_changes(axme, agents.boss, cursor=done["cursor"]) == []


def test_reply_and_delete_messages(axme: AxmeClient, agents: Agents) -> None:
    thread_id = create(axme, intent(agents.writer, reply_to=agents.boss))

    first = axme.reply_inbox_thread(thread_id, message="any news?", owner_agent=agents.boss)
    axme.reply_inbox_thread(thread_id, message="still there?", owner_agent=agents.boss)
    sent = first["thread"]["messages"][-1]
    assert (sent["role"], sent["from"], sent["content"]) == ("owner", agents.boss, {"text": "any news?"})
    assert first["thread"]["timeline"][-1]["event_type"] == "message.sent"

    hidden = axme.delete_inbox_messages(
        thread_id, {"mode": "self", "message_ids": [sent["message_id"]]}, owner_agent=agents.boss
    )
    assert (hidden["mode"], hidden["deleted_count"], hidden["message_ids"]) == (
        "self",
        1,
        [sent["message_id"]],
    )
    replies = [m["content"]["text"] for m in hidden["thread"]["messages"] if m["role"] == "owner"]
    assert replies == ["still there?"]
    erased = axme.delete_inbox_messages(thread_id, {"mode": "both"}, owner_agent=agents.boss)
    assert erased["deleted_count"] == 2 and [m["role"] for m in erased["thread"]["messages"]] == ["requester"]
    with pytest.raises(AxmeValidationError) as refused:
        request_id = erased["thread"]["messages"][0]["message_id"]
        axme.delete_inbox_messages(thread_id, {"mode": "both", "message_ids": [request_id]})
    assert refused.value.body["error"]["code"] == "message_not_deletable"
    (reply, *_) = [c for c in all_changes(axme, agents.boss) if c["change_type"] == "message.sent"]
    assert reply["thread"]["thread_id"] == thread_id


def test_delegate_hands_the_thread_to_another_owner(axme: AxmeClient, agents: Agents) -> None:
    thread_id = create(axme, intent(agents.writer, reply_to=agents.boss))
    deputy = deputy_of(agents)

    moved = axme.delegate_inbox_thread(
        thread_id, {"delegate_to": deputy, "note": "yours"}, owner_agent=agents.boss
    )

    assert (moved["thread"]["owner_agent"], moved["thread"]["timeline"][-1]["event_type"]) == (
        deputy,
        "thread.delegated",
    )
    assert [t["thread_id"] for t in axme.list_inbox(owner_agent=deputy)["threads"]] == [thread_id]
    assert axme.list_inbox(owner_agent=agents.boss)["threads"] == []
    with pytest.raises(AxmeHttpError) as gone:
        axme.get_inbox_thread(thread_id, owner_agent=agents.boss)
    assert gone.value.status_code == 404
    assert [c["change_type"] for c in all_changes(axme, deputy)] == ["thread.delegated"]
    left = all_changes(axme, agents.boss)[-1]
    assert (left["change_type"], left["thread"]["owner_agent"]) == ("thread.delegated", deputy)


def test_approve_and_reject_threads(axme: AxmeClient, http: httpx.Client, agents: Agents) -> None:
    approved = create(axme, intent(agents.writer, reply_to=agents.boss))
    park_for_human(http, agents.writer, approved)
    rejected = create(axme, intent(agents.writer, reply_to=agents.boss))
    park_for_human(http, agents.writer, rejected)

    body = axme.approve_inbox_thread(approved, {"comment": "go"}, owner_agent=agents.boss)
    assert (body["ok"], body["thread"]["intent_status"]) == (True, "SUBMITTED")
    assert body["approval"]["decision"] == "approve"
    assert claim(http, agents.writer)["intent"]["intent_id"] == approved  # back with its agent
    replay = axme.decide_approval(approved, decision="approve", comment="go")  # the same decision
    assert replay["replayed"] is True

    body = axme.reject_inbox_thread(rejected, {"comment": "not now"}, owner_agent=agents.boss)
    assert (body["thread"]["status"], body["thread"]["intent_status"]) == ("done", "FAILED")
    final = axme.wait_for(rejected, wait_seconds=2, timeout_seconds=20)
    assert final["details"]["error"] == {"code": "approval_rejected", "message": "not now"}
    with pytest.raises(AxmeValidationError) as terminal:
        axme.approve_inbox_thread(rejected, {}, owner_agent=agents.boss)
    assert (terminal.value.status_code, terminal.value.body["error"]["code"]) == (409, "intent_terminal")


def test_resolve_reports_the_completion_delivered(axme: AxmeClient, agents: Agents) -> None:
    thread_id = create(axme, intent(agents.writer, reply_to=agents.boss))
    plain = create(axme, intent(agents.writer))

    resolved = axme.resolve_intent(thread_id, {"status": "COMPLETED", "result": {"ok": True}})
    delivery = resolved["completion_delivery"]
    assert (delivery["delivered"], delivery["reply_to"], delivery["thread_id"]) == (
        True,
        agents.boss,
        thread_id,
    )
    (thread,) = axme.list_inbox(owner_agent=agents.boss)["threads"]
    assert thread["timeline"][-1]["details"]["result"] == {"ok": True}  # there when resolve answered
    none = axme.resolve_intent(plain, {"status": "CANCELED", "reason": "dropped"})["completion_delivery"]
    assert none == {"delivered": False, "reason": "no_reply_to"}


WRITERS, ROUNDS = 4, 4


def test_changes_paged_while_written_are_each_seen_once(
    connect: Callable[..., AxmeClient], agents: Agents, pool: ThreadPoolExecutor
) -> None:
    """Clients write to threads concurrently (one server, its writers committing in any order) while
    another pages the owner's changes; after the writers finish, the reader has each change once."""

    def writer() -> list[tuple[str, str]]:
        client = connect()
        made = []
        for n in range(ROUNDS):
            thread_id = create(client, intent(agents.writer, reply_to=agents.boss))
            client.reply_inbox_thread(thread_id, message=f"note {n}", owner_agent=agents.boss)
            client.resolve_intent(thread_id, {"status": "COMPLETED", "result": {}})
            made += [(thread_id, t) for t in ("intent.submitted", "message.sent", "intent.completed")]
        return made

    reader, seen, cursor = connect(), [], None
    writing = [pool.submit(writer) for _ in range(WRITERS)]
    while True:
        finished = all(w.done() for w in writing)  # before the read: a read after sees every write
        page = reader.list_inbox_changes(owner_agent=agents.boss, cursor=cursor, limit=5)
        seen += page["changes"]
        cursor = page["next_cursor"]
        if finished and not page["has_more"]:
            break
    made = Counter(change for w in writing for change in w.result())

    assert len({c["cursor"] for c in seen}) == len(seen) == WRITERS * ROUNDS * 3
    assert Counter((c["thread"]["thread_id"], c["change_type"]) for c in seen) == made
