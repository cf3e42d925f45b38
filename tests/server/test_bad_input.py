"""Bad input never breaks the server: each probe gets its 4xx in the one error shape, naming what was
wrong, and the database is as it was. Each case is a defect found by probing the API as an attacker
would (a stored intent that broke every later read, integers past 64 bits, NaN, deep nesting, lone
surrogates, NUL characters, booleans as numbers, errors after a stream started), on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from intentd.wire.limits import MAX_JSON_DEPTH, MAX_SEQ
from tests._support.http_api import WRITER, create
from tests._support.servers import AppClient

JSON = dict[str, Any]
CREATE = {"intent_type": "intent.demo.v1", "correlation_id": "c", "to_agent": WRITER, "payload": {}}


def create_text(**replace: str) -> bytes:
    """A create body as JSON text, with the given fields' values written verbatim (so a test can send
    what no JSON encoder would: NaN, 1e400, an integer of 30 digits, a lone surrogate)."""
    fields = {"intent_type": '"intent.demo.v1"', "correlation_id": '"c"', "to_agent": f'"{WRITER}"'}
    fields["payload"] = "{}"
    fields.update(replace)
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def snapshot(api: httpx.AsyncClient) -> list[JSON]:
    """Every intent with its events: what a probe must leave untouched."""
    intents = (await api.get("/v1/intents", params={"limit": 500})).json()["intents"]
    return [
        {**i, "events": (await api.get(f"/v1/intents/{i['intent_id']}/events")).json()["events"]}
        for i in intents
    ]


def assert_refused(response: httpx.Response, status: int, code: str, field: str | None = None) -> JSON:
    assert response.status_code == status, response.text
    body: JSON = response.json()
    assert body["ok"] is False and body["error"]["code"] == code, body
    assert body["detail"] == body["error"]["message"]
    if field is not None:
        assert body["error"]["details"]["field"] == field, body
    return body


async def post_text(api: httpx.AsyncClient, path: str, text: bytes, **headers: str) -> httpx.Response:
    return await api.post(path, content=text, headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize(
    ("text", "status", "code", "field"),
    [
        # Far times whose offset carries them past what can be rendered: committed, then unreadable.
        (create_text(deadline_at='"9999-12-31T23:59:59-23:59"'), 422, "validation_error", "deadline_at"),
        (create_text(deadline_at='"0001-01-01T00:00:00+23:59"'), 422, "validation_error", "deadline_at"),
        (create_text(deadline_at='"2030-01-01T00:00:00"'), 422, "validation_error", "deadline_at"),
        # Integers past 64 bits, whether JSON parsers keep them as integers or not.
        (create_text(payload='{"n": 9223372036854775808}'), 422, "validation_error", "body.payload.n"),
        (create_text(payload='{"n": -9223372036854775809}'), 422, "validation_error", "body"),
        (create_text(payload='{"n": 123456789012345678901234567890}'), 422, "validation_error", "body"),
        (create_text(human_task='{"n": 18446744073709551616}'), 422, "validation_error", "body"),
        (create_text(max_delivery_attempts="18446744073709551617"), 422, "validation_error", "body"),
        (
            create_text(remind_after_seconds="9223372036854775807"),
            422,
            "validation_error",
            "remind_after_seconds",
        ),
        # Not JSON: non-finite numbers and lone surrogates.
        (create_text(payload='{"n": NaN}'), 400, "bad_request", "body"),
        (create_text(payload='{"n": Infinity}'), 400, "bad_request", "body"),
        (create_text(payload='{"n": 1e400}'), 400, "bad_request", "body"),
        (create_text(payload='{"\\ud800": "\\ud800"}'), 400, "bad_request", "body"),
        (create_text(correlation_id='"\\udc00"'), 400, "bad_request", "body"),
        # Nesting deeper than the limit (and deeper than can be written back).
        (create_text(payload=f'{{"n": {nested(MAX_JSON_DEPTH - 1)}}}'), 422, "validation_error", None),
        (create_text(payload=f'{{"n": {nested(300)}}}'), 422, "validation_error", None),
        # NUL in stored text, refused on both backends alike (PostgreSQL cannot store it).
        (create_text(correlation_id='"c\\u0000"'), 422, "validation_error", "correlation_id"),
        (create_text(to_agent='"agent://a/b/\\u0000"'), 422, "validation_error", "to_agent"),
        (create_text(parent_intent_id='"p\\u0000"'), 422, "validation_error", "parent_intent_id"),
        # Strict types: a boolean is not a number.
        (create_text(max_delivery_attempts="true"), 422, "validation_error", "max_delivery_attempts"),
        (create_text(max_delivery_attempts='"5"'), 422, "validation_error", "max_delivery_attempts"),
        # Lengths.
        (create_text(correlation_id='"' + "c" * 129 + '"'), 422, "validation_error", "correlation_id"),
        (create_text(to_agent='"agent://acme/prod/wr\u00efter"'), 422, "validation_error", "to_agent"),
    ],
)
async def test_a_bad_create_is_refused_and_stores_nothing(
    api: AppClient, text: bytes, status: int, code: str, field: str | None
) -> None:
    before = await snapshot(api)
    assert_refused(await post_text(api, "/v1/intents", text), status, code, field)
    assert await snapshot(api) == before


async def test_the_deepest_json_allowed_is_stored_and_read_back(api: AppClient) -> None:
    deepest = nested(MAX_JSON_DEPTH - 2)  # the body is the first level, the payload the second
    created = await post_text(api, "/v1/intents", create_text(payload=f'{{"n": {deepest}}}'))
    assert created.status_code == 200, created.text
    intent_id = created.json()["intent_id"]
    read = await api.get(f"/v1/intents/{intent_id}")
    assert (
        read.status_code == 200
        and str(read.json()["intent"]["payload"]["n"]).count("[") == MAX_JSON_DEPTH - 2
    )


async def test_extreme_but_valid_values_are_stored_and_read_back(api: AppClient) -> None:
    text = create_text(
        payload='{"max": 9223372036854775807, "min": -9223372036854775808, "big": 1e308, "tiny": 5e-324}',
        deadline_at='"9999-12-29T23:59:59+23:59"',
    )
    created = await post_text(api, "/v1/intents", text)
    assert created.status_code == 200, created.text
    intent = (await api.get(f"/v1/intents/{created.json()['intent_id']}")).json()["intent"]
    assert intent["payload"] == {"max": 2**63 - 1, "min": -(2**63), "big": 1e308, "tiny": 5e-324}
    assert intent["deadline_at"] == "9999-12-29T00:00:59.000000Z"
    assert (await api.get("/v1/intents")).status_code == 200


async def leased(api: AppClient) -> tuple[str, str]:
    intent_id = await create(api)
    claims = (await api.post("/v1/agents/acme/prod/writer/claims", json={"worker_id": "w"})).json()
    return intent_id, claims["deliveries"][0]["lease"]["token"]


@pytest.mark.parametrize(
    ("path", "text", "status", "field"),
    [
        ("complete", b'{"lease_token": "TOKEN", "result": {"n": 1e999}}', 400, "body"),
        ("complete", b'{"lease_token": "TOKEN", "usage": {"tokens": NaN}}', 400, "body"),
        ("complete", b'{"lease_token": "TOKEN", "usage": {"tokens": 1e16}}', 422, "usage.tokens"),
        ("complete", b'{"lease_token": "TOKEN", "usage": {"tokens": true}}', 422, "usage.tokens"),
        ("complete", b'{"lease_token": "TOKEN", "result": {"n": 9999999999999999999}}', 422, "body.result.n"),
        ("complete", b'{"lease_token": "TOKEN", "result": {"n": 99999999999999999999}}', 422, "body"),
        ("fail", b'{"lease_token": "TOKEN", "error": "x", "retry": 1}', 422, "retry"),
        ("fail", b'{"lease_token": "TOKEN", "error": "x\\u0000"}', 422, None),
        (
            "wait",
            b'{"lease_token": "TOKEN", "reason": "WAITING_FOR_HUMAN", "wake_at": "10000-01-01T00:00:00Z"}',
            422,
            None,
        ),
        ("wait", b'{"lease_token": "TOKEN", "reason": "WAITING_FOR_LUNCH"}', 422, "reason"),
        ("lease/heartbeat", b'{"lease_token": "TOKEN", "lease_seconds": true}', 422, "lease_seconds"),
        ("progress", b'{"lease_token": "TOKEN", "message": "half\\u0000"}', 422, "message"),
        ("resolve", b'{"status": "CANCELED", "reason": "r\\u0000"}', 422, "reason"),
        ("resolve", b'{"status": "CANCELED", "expected_policy_generation": 9223372036854775808}', 422, None),
        ("cancel", b'{"actor": "a\\u0000"}', 422, "actor"),
        ("resume", b'{"actor": "a\\u0000"}', 422, "actor"),
        ("resume", b'{"expected_policy_generation": 99999999999999999999999}', 422, None),
        (
            "controls",
            b'{"controls_patch": {}, "expected_policy_generation": true}',
            422,
            "expected_policy_generation",
        ),
        ("policy", b'{"grants_patch": {"a": 1e400}}', 400, "body"),
    ],
)
async def test_a_bad_lease_or_intent_call_is_refused_and_changes_nothing(
    api: AppClient, path: str, text: bytes, status: int, field: str | None
) -> None:
    intent_id, token = await leased(api)
    before = await snapshot(api)
    response = await post_text(api, f"/v1/intents/{intent_id}/{path}", text.replace(b"TOKEN", token.encode()))
    assert_refused(response, status, "bad_request" if status == 400 else "validation_error", field)
    assert await snapshot(api) == before
    # The intent still works: the same usage report, valid, is taken.
    done = await api.post(f"/v1/intents/{intent_id}/progress", json={"usage": {"tokens": 5}})
    assert done.status_code == 200 and done.json()["intent"]["usage"] == {"tokens": 5}


@pytest.mark.parametrize(
    ("method", "path", "params", "headers", "status", "field"),
    [
        ("GET", "/v1/intents/ID/events", {"since": MAX_SEQ + 1}, {}, 422, "since"),
        ("GET", "/v1/intents/ID/events/stream", {"since": 2**63}, {}, 422, "since"),
        ("GET", "/v1/intents/ID/events/stream", {"wait_seconds": "nan"}, {}, 422, "wait_seconds"),
        ("GET", "/v1/intents/ID/events/stream", {}, {"Last-Event-ID": "9" * 21}, 422, "Last-Event-ID"),
        ("GET", "/v1/agents/acme/prod/writer/intents/stream", {"since": 2**64}, {}, 422, "since"),
        ("GET", "/v1/agents/acme/prod/writer/intents/stream", {"status": "LOST"}, {}, 422, "status"),
        ("GET", "/v1/intents", {"cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OmFiYw=="}, {}, 400, "cursor"),
        ("GET", "/v1/intents", {"to_agent": "a\x00"}, {}, 422, "to_agent"),
        ("GET", "/v1/intents", {"status": "LOST"}, {}, 422, "status"),
        ("GET", "/v1/intents/a%00b", {}, {}, 422, "intent_id"),
        ("GET", "/v1/inbox", {"owner_agent": "agent://a/\x00"}, {}, 422, "owner_agent"),
        ("GET", "/v1/inbox", {}, {"x-owner-agent": "not an address"}, 422, "x-owner-agent"),
        ("POST", "/v1/approvals/a%00/decision", {}, {}, 422, "approval_id"),
        ("POST", "/v1/intents", {}, {"Idempotency-Key": "k\x00"}, 422, "Idempotency-Key"),
    ],
)
async def test_bad_parameters_are_refused(
    api: AppClient, method: str, path: str, params: JSON, headers: JSON, status: int, field: str
) -> None:
    intent_id = await create(api)
    body = {"decision": "approve"} if "approvals" in path else CREATE
    response = await api.request(
        method,
        path.replace("ID", intent_id),
        params=params,
        headers=headers,
        json=body if method == "POST" else None,
    )
    assert_refused(response, status, "validation_error" if status == 422 else "bad_request", field)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/intents",
        "/v1/intents/ID/resolve",
        "/v1/intents/ID/cancel",
        "/v1/intents/ID/resume",
        "/v1/intents/ID/controls",
        "/v1/intents/ID/policy",
        "/v1/intents/ID/complete",
        "/v1/intents/ID/fail",
        "/v1/intents/ID/release",
        "/v1/intents/ID/wait",
        "/v1/intents/ID/progress",
        "/v1/intents/ID/lease/heartbeat",
        "/v1/agents/acme/prod/writer/claims",
        "/v1/approvals/ID/decision",
        "/v1/mesh/heartbeat",
    ],
)
async def test_a_caller_without_a_key_learns_nothing_about_its_body(api: AppClient, path: str) -> None:
    intent_id = await create(api)
    url = path.replace("ID", intent_id)
    for body in (b'{"broken": ', b'{"n": NaN}', b"[]", nested(300).encode()):
        response = await post_text(api, url, body, **{"x-api-key": ""})
        assert_refused(response, 401, "missing_api_key")


async def test_oversized_headers_get_431(api: AppClient) -> None:
    before = await snapshot(api)
    response = await api.post("/v1/intents", json=CREATE, headers={"x-padding": "p" * 20_000})
    body = assert_refused(response, 431, "headers_too_large")
    assert body["error"]["details"] == {"limit_bytes": 16 * 1024}
    assert await snapshot(api) == before


async def test_an_error_after_a_stream_started_ends_it_with_a_documented_event(
    api: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent_id = await create(api)
    events = api.engine.intents.events
    calls = 0

    async def database_gone_on_the_second_read(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionError("the database went away")  # a fault injected at the storage edge
        return await events(*args, **kwargs)

    monkeypatch.setattr(api.engine.intents, "events", database_gone_on_the_second_read)
    waiting = api.stream("GET", f"/v1/intents/{intent_id}/events/stream", params={"wait_seconds": 5})
    async with waiting as response:
        assert response.status_code == 200
        await create(api, correlation_id="wakes the stream")  # a commit: the stream reads again
        await api.post(f"/v1/intents/{intent_id}/progress", json={"message": "go"})
        text = (await response.aread()).decode()
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: stream.error\ndata: "), text
    assert '"code":"internal_error"' in last and '"ok":false' in last
