"""The AXP intent family over HTTP (PROTOCOL.md §2.2): create with validation and idempotency; read,
list with filters and cursors, events; resolve, cancel, resume, controls and policy. Size limits, 409s on
terminal intents and stale generations are in test_errors.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

JSON = dict[str, Any]


def intent_body(**overrides: Any) -> JSON:
    body: JSON = {
        "intent_type": "intent.demo.v1",
        "correlation_id": "corr-1",
        "to_agent": "agent://acme/prod/writer",
        "payload": {"question": "why?"},
    }
    body.update(overrides)
    return body


async def create(api: httpx.AsyncClient, **overrides: Any) -> JSON:
    response = await api.post("/v1/intents", json=intent_body(**overrides))
    assert response.status_code == 200, response.text
    created: JSON = response.json()
    return created


def assert_validation_error(response: httpx.Response, field: str) -> JSON:
    assert response.status_code == 422, response.text
    body: JSON = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"]["field"] == field
    assert field in body["error"]["message"]
    assert body["detail"] == body["error"]["message"]
    return body


# --- create -------------------------------------------------------------------------------------


async def test_create_returns_the_axp_response(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/intents", json=intent_body())

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["status"] == "SUBMITTED"
    assert body["idempotent_replay"] is False
    assert body["created_at"].endswith("Z")
    assert body["intent"]["intent_id"] == body["intent_id"]
    assert "ignored_fields" not in body


INVALID_CREATES: list[tuple[JSON, str]] = [
    ({"payload": None}, "payload"),  # missing
    ({"payload": [1, 2]}, "payload"),  # not an object
    ({"intent_type": "Not A Type"}, "intent_type"),
    ({"intent_type": "intent..demo"}, "intent_type"),  # an empty segment
    ({"intent_type": "intent.demo.v1."}, "intent_type"),
    ({"to_agent": "agent://has spaces/x"}, "to_agent"),
    ({"deadline_at": "2030-01-01T12:00:00"}, "deadline_at"),  # naive: which time zone?
    ({"max_delivery_attempts": 0}, "max_delivery_attempts"),
]


async def test_invalid_create_is_422_naming_the_field(
    api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    for change, field in INVALID_CREATES:
        body = {k: v for k, v in intent_body(**change).items() if v is not None}
        with subtests.test(field=field, change=change):
            assert_validation_error(await api.post("/v1/intents", json=body), field)

    assert (await api.get("/v1/intents")).json()["intents"] == []


async def test_unknown_fields_are_accepted_and_reported(api: httpx.AsyncClient) -> None:
    created = await create(api, delivery_mode="stream", notify_emial="typo@example.com")

    assert created["ignored_fields"] == ["delivery_mode", "notify_emial"]


async def test_same_idempotency_key_and_body_replays_the_intent(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await api.post("/v1/intents", json=intent_body(), headers=headers)
    again = await api.post("/v1/intents", json=intent_body(), headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json()["intent_id"] == first.json()["intent_id"]
    assert again.json()["idempotent_replay"] is True
    assert len((await api.get("/v1/intents")).json()["intents"]) == 1


async def test_idempotency_key_with_another_body_is_409(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-43"}
    first = await api.post("/v1/intents", json=intent_body(), headers=headers)
    reused = await api.post("/v1/intents", json=intent_body(payload={"question": "how?"}), headers=headers)

    assert reused.status_code == 409
    error = reused.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["details"]["intent_id"] == first.json()["intent_id"]
    assert len((await api.get("/v1/intents")).json()["intents"]) == 1


# --- read, list, events --------------------------------------------------------------------------


async def test_get_intent_reports_status_and_lifecycle_status(api: httpx.AsyncClient) -> None:
    created = await create(api, payload={"k": [1, 2]}, reply_to="agent://acme/prod/caller")

    response = await api.get(f"/v1/intents/{created['intent_id']}")

    assert response.status_code == 200
    intent = response.json()["intent"]
    assert intent["status"] == intent["lifecycle_status"] == "SUBMITTED"
    assert intent["payload"] == {"k": [1, 2]}
    assert intent["to_agent"] == "agent://acme/prod/writer"
    assert intent["reply_to"] == "agent://acme/prod/caller"
    assert intent["correlation_id"] == "corr-1"


async def test_unknown_intent_is_404_intent_not_found(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/intents/01900000-0000-7000-8000-000000000000")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "intent_not_found"


async def test_list_filters_by_status_agent_and_correlation(api: httpx.AsyncClient) -> None:
    a = await create(api, correlation_id="wf-a")
    b = await create(api, correlation_id="wf-b", to_agent="agent://acme/prod/reviewer")
    c = await create(api, correlation_id="wf-a", to_agent="agent://acme/prod/reviewer")
    await api.post(f"/v1/intents/{c['intent_id']}/resolve", json={"status": "COMPLETED", "result": {}})

    async def ids(**params: str) -> set[str]:
        response = await api.get("/v1/intents", params=params)
        assert response.status_code == 200
        return {i["intent_id"] for i in response.json()["intents"]}

    assert await ids(status="COMPLETED") == {c["intent_id"]}
    assert await ids(status="submitted") == {a["intent_id"], b["intent_id"]}
    assert await ids(to_agent="agent://acme/prod/reviewer") == {b["intent_id"], c["intent_id"]}
    assert await ids(correlation_id="wf-a") == {a["intent_id"], c["intent_id"]}
    assert await ids(correlation_id="wf-a", status="SUBMITTED") == {a["intent_id"]}


async def test_cursor_pages_cover_every_intent_exactly_once(api: httpx.AsyncClient) -> None:
    created = [(await create(api, correlation_id=f"c{i}"))["intent_id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):  # bounded: a cursor that never ends fails the test
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/intents", params=params)).json()
        seen += [i["intent_id"] for i in page["intents"]]
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break

    assert sorted(seen) == sorted(created)
    assert seen == list(reversed(created))  # newest first


async def test_a_cursor_the_server_never_issued_is_400(
    api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    # Valid base64 of "no-colon" and of "5:" (a time with no intent id after it).
    for cursor in ("bogus", "bm8tY29sb24=", "NTo="):
        with subtests.test(cursor=cursor):
            response = await api.get("/v1/intents", params={"cursor": cursor})
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "bad_request"
            assert response.json()["error"]["details"]["field"] == "cursor"


async def test_events_since_is_exclusive_and_ordered(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]
    await api.post(f"/v1/intents/{intent_id}/controls", json={"controls_patch": {"a": 1}})
    await api.post(f"/v1/intents/{intent_id}/resolve", json={"status": "COMPLETED", "result": {}})

    everything = (await api.get(f"/v1/intents/{intent_id}/events")).json()["events"]
    after_two = (await api.get(f"/v1/intents/{intent_id}/events", params={"since": 2})).json()

    assert [e["seq"] for e in everything] == [1, 2, 3, 4]
    assert [e["event_type"] for e in everything] == [
        "intent.created",
        "intent.submitted",
        "intent.controls_updated",
        "intent.completed",
    ]
    assert [e["seq"] for e in after_two["events"]] == [3, 4]
    last = (await api.get(f"/v1/intents/{intent_id}/events", params={"since": 4})).json()
    assert last["events"] == []


async def test_events_of_an_unknown_intent_are_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/intents/01900000-0000-7000-8000-000000000000/events")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "intent_not_found"


# --- resolve, cancel, resume, controls, policy ---------------------------------------------------


async def test_resolve_completed_returns_intent_event_and_delivery(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api, reply_to="agent://acme/prod/caller"))["intent_id"]

    response = await api.post(
        f"/v1/intents/{intent_id}/resolve",
        json={"status": "COMPLETED", "result": {"answer": 42}, "actor": "agent://acme/prod/writer"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["intent"]["status"] == "COMPLETED"
    assert body["intent"]["result"] == {"answer": 42}
    assert body["event"]["event_type"] == "intent.completed"
    assert body["event"]["seq"] == 3
    assert body["event"]["actor"] == "agent://acme/prod/writer"
    assert body["event"]["details"]["result"] == {"answer": 42}
    assert body["completion_delivery"] == {
        "delivered": True,  # in the reply_to's feed and inbox thread, in the resolve's commit
        "reply_to": "agent://acme/prod/caller",
        "thread_id": intent_id,
        "event_type": "intent.completed",
        "delivered_at": body["event"]["at"],
    }


@pytest.mark.parametrize(
    ("resolution", "field", "expected"),
    [
        (
            {"status": "FAILED", "error": {"code": "boom", "message": "it broke"}},
            "error",
            {"code": "boom", "message": "it broke"},
        ),
        ({"status": "FAILED", "error": "it broke"}, "error", {"code": "failed", "message": "it broke"}),
        ({"status": "CANCELED", "reason": "no longer needed"}, "reason", "no longer needed"),
    ],
)
async def test_resolve_failed_or_canceled_records_why(
    api: httpx.AsyncClient, resolution: JSON, field: str, expected: Any
) -> None:
    intent_id = (await create(api))["intent_id"]

    body = (await api.post(f"/v1/intents/{intent_id}/resolve", json=resolution)).json()

    assert body["intent"]["status"] == resolution["status"]
    assert body["intent"][field] == expected
    assert body["event"]["details"][field] == expected
    assert body["completion_delivery"] == {"delivered": False, "reason": "no_reply_to"}  # nobody to tell


async def test_resolve_with_an_unknown_status_is_422(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    response = await api.post(f"/v1/intents/{intent_id}/resolve", json={"status": "DONE"})

    assert_validation_error(response, "status")


async def test_cancel_accepts_the_sdks_empty_json_post(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    # The official SDK sends Content-Type: application/json with no body at all.
    response = await api.post(f"/v1/intents/{intent_id}/cancel", headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    body = response.json()
    assert body["intent"]["status"] == "CANCELED"
    assert body["event"]["event_type"] == "intent.canceled"


async def test_cancel_with_a_reason(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    body = (await api.post(f"/v1/intents/{intent_id}/cancel", json={"reason": "user gave up"})).json()

    assert body["intent"]["reason"] == "user gave up"


async def test_resume_with_an_empty_json_post_is_recorded(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    response = await api.post(f"/v1/intents/{intent_id}/resume", headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["applied"] is True
    assert body["policy_generation"] == 1  # recorded: the generation moves, the intent stays open
    assert body["intent"]["status"] == "SUBMITTED"


async def test_resume_with_action_complete_completes_with_the_result(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    body = (
        await api.post(
            f"/v1/intents/{intent_id}/resume",
            json={"action": "complete", "answer": "yes", "actor": "agent://acme/prod/writer"},
        )
    ).json()

    assert body["intent"]["status"] == "COMPLETED"
    assert body["intent"]["result"] == {
        "answer": "yes"
    }  # "action" and "actor" steer, they are not the result


async def test_resume_with_action_fail_fails(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    body = (
        await api.post(f"/v1/intents/{intent_id}/resume", json={"action": "fail", "error": "no capacity"})
    ).json()

    assert body["intent"]["status"] == "FAILED"
    assert body["intent"]["error"]["message"] == "no capacity"


async def test_resume_with_an_unknown_action_is_422(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    response = await api.post(f"/v1/intents/{intent_id}/resume", json={"action": "explode"})

    assert_validation_error(response, "action")


async def test_controls_compare_and_set(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]
    url = f"/v1/intents/{intent_id}/controls"

    applied = await api.post(
        url, json={"controls_patch": {"timeout_seconds": 60}, "expected_policy_generation": 0}
    )
    stale = await api.post(
        url, json={"controls_patch": {"timeout_seconds": 5}, "expected_policy_generation": 0}
    )

    assert applied.status_code == 200
    assert applied.json()["applied"] is True
    assert applied.json()["policy_generation"] == 1
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_policy_generation"
    assert stale.json()["error"]["details"]["policy_generation"] == 1
    intent = (await api.get(f"/v1/intents/{intent_id}")).json()["intent"]
    assert intent["workflow_control_policy"]["controls"] == {"timeout_seconds": 60}


async def test_controls_without_a_patch_is_422(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    response = await api.post(f"/v1/intents/{intent_id}/controls", json={"actor": "me"})

    assert_validation_error(response, "controls_patch")


async def test_policy_patches_grants_and_envelope(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]
    grants = {"delegate:agent://ops": {"allow": ["resume", "update_controls"]}}

    response = await api.post(
        f"/v1/intents/{intent_id}/policy",
        json={
            "grants_patch": grants,
            "envelope_patch": {"max_retry_count": 3},
            "expected_policy_generation": 0,
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["applied"] is True and body["policy_generation"] == 1
    policy = body["intent"]["workflow_control_policy"]
    assert policy["grants"] == grants
    assert policy["envelope"] == {"max_retry_count": 3}
    assert policy["policy_generation"] == 1


async def test_policy_with_nothing_to_patch_is_422(api: httpx.AsyncClient) -> None:
    intent_id = (await create(api))["intent_id"]

    response = await api.post(f"/v1/intents/{intent_id}/policy", json={})

    body = assert_validation_error(response, "body")  # the body as a whole lacks one of two fields
    assert "grants_patch and/or envelope_patch" in body["error"]["message"]


async def test_a_submit_can_wait_for_its_outcome_in_one_exchange(api: httpx.AsyncClient) -> None:
    agent = "agent://acme/prod/quick"
    body = {"intent_type": "intent.demo.v1", "correlation_id": "c", "to_agent": agent, "payload": {"n": 2}}

    async def worker() -> None:
        claimed = await api.post(
            "/v1/agents/acme/prod/quick/claims", json={"worker_id": "w", "wait_seconds": 10}
        )
        [delivery] = claimed.json()["deliveries"]
        done = await api.post(
            f"/v1/intents/{delivery['intent']['intent_id']}/complete",
            json={"lease_token": delivery["lease"]["token"], "result": {"double": 4}},
        )
        assert done.status_code == 200, done.text

    submitted, _ = await asyncio.gather(api.post("/v1/intents?wait_seconds=10", json=body), worker())

    assert submitted.status_code == 200, submitted.text
    answer = submitted.json()
    assert (answer["status"], answer["intent"]["result"]) == ("COMPLETED", {"double": 4})
    # Nobody works on it: the answer comes when the wait is over, with the intent as it is.
    waited = (await api.post("/v1/intents?wait_seconds=0.2", json=body)).json()
    assert waited["status"] == "SUBMITTED"
