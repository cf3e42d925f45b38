"""The inbox family over HTTP, on both backends: replies, delegation, approve and reject, deleting
replies, the change feed's cursors, what each refuses (with the field or the code that says why), and
``completion_delivery`` on resolve. The engine's rules are tested in tests/engine/test_inbox.py; the
official SDK's calls in tests/compat/test_axme_inbox.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from intentd.engine import Principal
from tests._support.http_api import WRITER, create
from tests._support.servers import API_KEY, AppClient

JSON = dict[str, Any]
BOSS = "agent://acme/prod/boss"
DEPUTY = "agent://acme/prod/deputy"


async def ok(response: httpx.Response) -> JSON:
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    assert body["ok"] is True
    return body


def refused(response: httpx.Response, status: int, code: str, field: str | None = None) -> JSON:
    assert response.status_code == status, response.text
    error: JSON = response.json()["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error["details"]["field"] == field, error
    return error


async def thread_of(api: AppClient, reply_to: str = BOSS) -> str:
    return await create(api, reply_to=reply_to)


async def reply(api: AppClient, thread_id: str, message: str, **params: str) -> JSON:
    return await ok(await api.post(f"/v1/inbox/{thread_id}/reply", json={"message": message}, params=params))


async def test_a_reply_is_a_message_and_a_timeline_item_of_the_owner(api: AppClient) -> None:
    thread_id = await thread_of(api)

    body = await reply(api, thread_id, "how is it going?", owner_agent=BOSS)

    thread = body["thread"]
    assert body["messages"] == thread["messages"]
    request, sent = thread["messages"]
    assert (request["role"], sent["role"], sent["from"], sent["to"]) == ("requester", "owner", BOSS, WRITER)
    assert sent["content"] == {"text": "how is it going?"}
    item = thread["timeline"][-1]
    assert (item["event_type"], item["event_id"]) == ("message.sent", sent["message_id"])
    assert item["details"]["text"] == "how is it going?" and item["details"]["role"] == "owner"
    assert thread["intent_status"] == "SUBMITTED"  # a reply does not move the intent
    got = await ok(await api.get(f"/v1/inbox/{thread_id}", params={"owner_agent": BOSS}))
    assert got["thread"] == thread


async def test_a_retried_reply_with_an_idempotency_key_is_one_message(api: AppClient) -> None:
    thread_id = await thread_of(api)
    path, key = f"/v1/inbox/{thread_id}/reply", {"Idempotency-Key": "reply-1"}
    first = await ok(await api.post(path, json={"message": "once"}, headers=key))
    again = await ok(await api.post(path, json={"message": "once"}, headers=key))

    assert again["messages"] == first["messages"] and len(first["messages"]) == 2
    changed = await api.post(path, json={"message": "twice"}, headers=key)
    refused(changed, 409, "idempotency_key_reused")


async def test_delegation_hands_the_thread_to_another_owner(api: AppClient) -> None:
    thread_id = await thread_of(api)

    body = await ok(
        await api.post(
            f"/v1/inbox/{thread_id}/delegate",
            json={"delegate_to": "acme/prod/deputy", "note": "please take this"},  # normalised
            headers={"x-owner-agent": BOSS},
        )
    )

    thread = body["thread"]
    assert (thread["owner_agent"], thread["reply_to"]) == (DEPUTY, BOSS)
    moved = thread["timeline"][-1]
    assert (moved["event_type"], moved["details"]) == (
        "thread.delegated",
        {"from_owner": BOSS, "to_owner": DEPUTY, "note": "please take this"},
    )
    listed = await ok(await api.get("/v1/inbox", params={"owner_agent": DEPUTY}))
    assert [t["thread_id"] for t in listed["threads"]] == [thread_id]
    gone = await api.get(f"/v1/inbox/{thread_id}", params={"owner_agent": BOSS})
    refused(gone, 404, "thread_not_found")
    bad = await api.post(f"/v1/inbox/{thread_id}/delegate", json={"delegate_to": "not an address"})
    refused(bad, 422, "validation_error", "delegate_to")
    missing = await api.post(f"/v1/inbox/{thread_id}/delegate", json={"note": "to whom?"})
    refused(missing, 422, "validation_error", "delegate_to")


async def parked(api: AppClient) -> str:
    """A thread whose intent a worker has parked WAITING for a person's decision."""
    thread_id = await thread_of(api)
    claims = await ok(await api.post("/v1/agents/acme/prod/writer/claims", json={"worker_id": "w"}))
    (delivery,) = claims["deliveries"]
    assert delivery["intent"]["intent_id"] == thread_id
    wait = {"lease_token": delivery["lease"]["token"], "reason": "WAITING_FOR_HUMAN"}
    await ok(await api.post(f"/v1/intents/{thread_id}/wait", json=wait))
    return thread_id


async def test_approve_and_reject_decide_the_threads_intent(api: AppClient) -> None:
    approved, rejected = await parked(api), await parked(api)

    body = await ok(await api.post(f"/v1/inbox/{approved}/approve", json={"comment": "go ahead"}))
    assert body["approval"]["approval_id"] == approved and body["approval"]["decision"] == "approve"
    assert (body["thread"]["intent_status"], body["replayed"]) == ("SUBMITTED", False)
    decided = await ok(
        await api.post(
            f"/v1/approvals/{approved}/decision", json={"decision": "approve", "comment": "go ahead"}
        )
    )
    assert decided["replayed"] is True  # the same decision as the one on the approvals route

    body = await ok(await api.post(f"/v1/inbox/{rejected}/reject", params={"owner_agent": BOSS}))  # no body
    assert (body["thread"]["status"], body["thread"]["intent_status"]) == ("done", "FAILED")
    refused(await api.post(f"/v1/inbox/{rejected}/approve", json={}), 409, "intent_terminal")
    not_parked = await thread_of(api)
    refused(await api.post(f"/v1/inbox/{not_parked}/approve", json={}), 409, "intent_not_waiting")
    elsewhere = await api.post(f"/v1/inbox/{not_parked}/reject", json={}, params={"owner_agent": DEPUTY})
    refused(elsewhere, 404, "thread_not_found")


async def test_deleting_replies_for_self_or_for_everyone(api: AppClient) -> None:
    thread_id = await thread_of(api)
    first = (await reply(api, thread_id, "first"))["messages"][-1]["message_id"]
    await reply(api, thread_id, "second")
    path = f"/v1/inbox/{thread_id}/messages/delete"

    body = await ok(await api.post(path, json={"mode": "self", "message_ids": [first]}))

    assert (body["mode"], body["deleted_count"], body["message_ids"]) == ("self", 1, [first])
    assert [m["content"] for m in body["thread"]["messages"][1:]] == [{"text": "second"}]
    assert first not in {i["event_id"] for i in body["thread"]["timeline"]}
    # For everyone: the one hidden for the owner too (its text was still stored).
    rest = await ok(await api.post(path, json={"mode": "both"}))
    assert rest["deleted_count"] == 2 and len(rest["thread"]["messages"]) == 1

    request_id = rest["thread"]["messages"][0]["message_id"]
    refused(
        await api.post(path, json={"mode": "both", "message_ids": [request_id]}), 409, "message_not_deletable"
    )
    refused(await api.post(path, json={"mode": "self", "message_ids": ["nope"]}), 404, "message_not_found")
    refused(await api.post(path, json={"mode": "all"}), 422, "validation_error", "mode")
    refused(await api.post(path, json={"mode": "self", "limit": 0}), 422, "validation_error", "limit")


async def test_replies_are_refused_when_empty_or_too_long(api: AppClient) -> None:
    thread_id = await thread_of(api)
    path = f"/v1/inbox/{thread_id}/reply"

    refused(await api.post(path, json={"message": ""}), 422, "validation_error", "message")
    refused(await api.post(path, json={"message": "x" * 5001}), 422, "validation_error", "message")
    await ok(await api.post(path, json={"message": "x" * 5000}))
    no_thread = await create(api)  # no reply_to: not a thread
    refused(await api.post(f"/v1/inbox/{no_thread}/reply", json={"message": "hi"}), 404, "thread_not_found")


async def test_the_change_feed_pages_by_an_opaque_cursor_bound_to_its_owner(api: AppClient) -> None:
    first, second = await thread_of(api), await thread_of(api)
    await reply(api, first, "hello")
    await thread_of(api, reply_to=DEPUTY)

    page = await ok(await api.get("/v1/inbox/changes", params={"owner_agent": BOSS, "limit": 2}))
    assert page["has_more"] is True and len(page["next_cursor"]) >= 3
    assert [(c["thread"]["thread_id"], c["change_type"]) for c in page["changes"]] == [
        (first, "intent.submitted"),
        (second, "intent.submitted"),
    ]
    params = {"owner_agent": BOSS, "cursor": page["next_cursor"]}
    rest = await ok(await api.get("/v1/inbox/changes", params=params))
    assert [(c["thread"]["thread_id"], c["change_type"]) for c in rest["changes"]] == [
        (first, "message.sent")
    ]
    assert rest["has_more"] is False and rest["next_cursor"] == rest["changes"][-1]["cursor"]
    # Caught up: nothing new, and the cursor to poll on from is the one sent.
    idle = await ok(await api.get("/v1/inbox/changes", params={**params, "cursor": rest["next_cursor"]}))
    assert (idle["changes"], idle["next_cursor"], idle["has_more"]) == ([], rest["next_cursor"], False)
    assert (await ok(await api.get("/v1/inbox/changes")))["next_cursor"] is not None  # every owner's

    other = await api.get("/v1/inbox/changes", params={"owner_agent": DEPUTY, "cursor": page["next_cursor"]})
    refused(other, 400, "bad_request", "cursor")
    forged = await api.get("/v1/inbox/changes", params={"cursor": "bm90LWEtY3Vyc29y"})
    refused(forged, 400, "bad_request", "cursor")
    refused(await api.get("/v1/inbox/changes", params={"cursor": "a b"}), 422, "validation_error", "cursor")


async def test_an_empty_feed_has_no_cursor_yet(api: AppClient) -> None:
    page = await ok(await api.get("/v1/inbox/changes", params={"owner_agent": DEPUTY}))
    assert page == {"ok": True, "changes": [], "next_cursor": None, "has_more": False}


@pytest.mark.parametrize("route", ["resolve", "cancel"])
async def test_resolve_says_whether_the_outcome_was_delivered(api: AppClient, route: str) -> None:
    body = {"status": "COMPLETED", "result": {}} if route == "resolve" else {"reason": "done"}
    with_reply = await thread_of(api)
    answer = await ok(await api.post(f"/v1/intents/{with_reply}/{route}", json=body))

    delivery = answer["completion_delivery"]
    assert delivery == {
        "delivered": True,
        "reply_to": BOSS,
        "thread_id": with_reply,
        "event_type": answer["event"]["event_type"],
        "delivered_at": answer["event"]["at"],
    }
    # It is in the reply_to's inbox and agent feed already, in the same commit.
    changes = (await ok(await api.get("/v1/inbox/changes", params={"owner_agent": BOSS})))["changes"]
    assert changes[-1]["change_type"] == answer["event"]["event_type"]
    assert (await api.engine.delivery.feed(await principal_of(api), BOSS, 0))[-1].intent_id == with_reply

    without = await create(api)
    answer = await ok(await api.post(f"/v1/intents/{without}/{route}", json=body))
    assert answer["completion_delivery"] == {"delivered": False, "reason": "no_reply_to"}


async def principal_of(api: AppClient) -> Principal:
    return await api.engine.keys.authenticate(API_KEY)
