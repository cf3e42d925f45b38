"""Server-sent event streams exactly as the official SDK parses them (PROTOCOL.md §2.3): the intent event
stream (``observe``/``wait_for``) and the per-agent delivery stream (``listen``).

httpx's ASGITransport hands back a response only once the app has finished it, so every stream here
either ends on its own (terminal event, ``stream.timeout``) or has a short ``wait_seconds``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, NamedTuple

import httpx
import orjson
import pytest

from intentd.store import agent_key, intent_key
from tests._support.http_api import WRITER, create
from tests._support.servers import API_NAMESPACE, SubscriptionWatch

JSON = dict[str, Any]
CALLER = "agent://acme/prod/caller"


class Block(NamedTuple):
    id: int | None
    event: str
    data: JSON


def parse_sse(text: str) -> list[Block]:
    """Blocks separated by a blank line, each with an ``event:`` and a JSON ``data:`` line."""
    blocks = []
    for raw in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in raw.splitlines() if not line.startswith(":"))
        if fields:
            block_id = fields.get("id")
            blocks.append(
                Block(
                    int(block_id) if block_id is not None else None,
                    fields["event"],
                    orjson.loads(fields["data"]),
                )
            )
    return blocks


async def resolve(api: httpx.AsyncClient, intent_id: str) -> None:
    response = await api.post(
        f"/v1/intents/{intent_id}/resolve", json={"status": "COMPLETED", "result": {"ok": 1}}
    )
    assert response.status_code == 200, response.text


def intent_stream(intent_id: str) -> str:
    return f"/v1/intents/{intent_id}/events/stream"


# --- the intent event stream ---------------------------------------------------------------------


async def test_intent_stream_frames_the_events_then_times_out(api: httpx.AsyncClient) -> None:
    intent_id = await create(api)

    response = await api.get(intent_stream(intent_id), params={"since": 0, "wait_seconds": 0})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = parse_sse(response.text)
    assert [(b.id, b.event) for b in blocks] == [
        (1, "intent.created"),
        (2, "intent.submitted"),
        (None, "stream.timeout"),
    ]
    assert blocks[1].data["intent_id"] == intent_id
    assert blocks[1].data["seq"] == 2 and blocks[1].data["status"] == "SUBMITTED"
    # next_seq is the value to send back as `since`.
    assert blocks[-1].data == {"ok": True, "next_seq": 2}


async def test_intent_stream_since_is_exclusive(api: httpx.AsyncClient) -> None:
    intent_id = await create(api)

    response = await api.get(intent_stream(intent_id), params={"since": 1, "wait_seconds": 0})

    assert [b.id for b in parse_sse(response.text)] == [2, None]


async def test_intent_stream_honours_last_event_id(api: httpx.AsyncClient) -> None:
    intent_id = await create(api)
    await api.post(f"/v1/intents/{intent_id}/controls", json={"controls_patch": {"a": 1}})

    # A browser EventSource reconnects with Last-Event-ID instead of `since`.
    response = await api.get(
        intent_stream(intent_id), params={"wait_seconds": 0}, headers={"Last-Event-ID": "2"}
    )

    assert [(b.id, b.event) for b in parse_sse(response.text)] == [
        (3, "intent.controls_updated"),
        (None, "stream.timeout"),
    ]


async def test_intent_stream_ends_after_the_terminal_event(api: httpx.AsyncClient) -> None:
    intent_id = await create(api)
    await resolve(api, intent_id)

    async with asyncio.timeout(10):  # a stream that ignored the terminal event would wait 30 s
        response = await api.get(intent_stream(intent_id), params={"wait_seconds": 30})

    blocks = parse_sse(response.text)
    assert blocks[-1].event == "intent.completed"
    assert blocks[-1].data["details"]["result"] == {"ok": 1}
    assert "stream.timeout" not in [b.event for b in blocks]


async def test_idle_intent_stream_holds_the_connection_for_wait_seconds(api: httpx.AsyncClient) -> None:
    intent_id = await create(api)
    started = time.monotonic()

    response = await api.get(intent_stream(intent_id), params={"since": 2, "wait_seconds": 1})

    # Returning at once would make the SDK's listen loop spin (PROTOCOL.md §2.3).
    assert time.monotonic() - started >= 0.9
    assert [(b.event, b.data) for b in parse_sse(response.text)] == [
        ("stream.timeout", {"ok": True, "next_seq": 2})
    ]


async def test_an_event_committed_while_the_stream_waits_is_delivered(
    api: httpx.AsyncClient, subscriptions: SubscriptionWatch
) -> None:
    intent_id = await create(api)
    stream = asyncio.create_task(api.get(intent_stream(intent_id), params={"since": 2, "wait_seconds": 20}))
    await subscriptions.wait_for(intent_key(intent_id))

    await resolve(api, intent_id)
    async with asyncio.timeout(10):  # woken by the commit, not by the 20 s deadline
        response = await stream

    assert [(b.id, b.event) for b in parse_sse(response.text)] == [(3, "intent.completed")]


async def test_unknown_intent_stream_is_404_before_streaming(api: httpx.AsyncClient) -> None:
    response = await api.get(
        intent_stream("01900000-0000-7000-8000-000000000000"), params={"wait_seconds": 0}
    )

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "intent_not_found"


# --- the per-agent delivery stream ---------------------------------------------------------------


async def agent_blocks(api: httpx.AsyncClient, address: str, **params: Any) -> list[Block]:
    response = await api.get(f"/v1/agents/{address}/intents/stream", params={"wait_seconds": 0, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


async def test_agent_stream_lists_submitted_intents_with_a_per_agent_cursor(api: httpx.AsyncClient) -> None:
    first = await create(api)
    await create(api, to_agent="agent://acme/prod/reviewer")
    second = await create(api)

    blocks = await agent_blocks(api, "acme/prod/writer")

    assert [(b.id, b.event) for b in blocks] == [
        (1, "intent.submitted"),
        (2, "intent.submitted"),
        (None, "stream.timeout"),
    ]
    assert [b.data["intent_id"] for b in blocks[:2]] == [first, second]
    delivery = blocks[0].data
    assert {"intent_id", "seq", "event_type", "status", "at"} <= set(delivery)
    assert (delivery["seq"], delivery["event_type"], delivery["status"]) == (
        1,
        "intent.submitted",
        "SUBMITTED",
    )
    assert blocks[-1].data == {"ok": True, "next_seq": 2}
    reviewer = await agent_blocks(api, "acme/prod/reviewer")
    assert [b.id for b in reviewer] == [1, None]  # its own cursor, not a global one


async def test_agent_stream_address_with_or_without_scheme(
    api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    intent_id = await create(api)

    # The SDK strips agent:// before building the path; other clients send it, maybe encoded.
    for address in ("acme/prod/writer", "agent://acme/prod/writer", "agent%3A%2F%2Facme%2Fprod%2Fwriter"):
        with subtests.test(address=address):
            blocks = await agent_blocks(api, address)
            assert [b.data.get("intent_id") for b in blocks] == [intent_id, None]


async def test_agent_stream_since_is_exclusive(api: httpx.AsyncClient) -> None:
    await create(api)
    later = await create(api)

    blocks = await agent_blocks(api, "acme/prod/writer", since=1)

    assert [(b.id, b.data.get("intent_id")) for b in blocks] == [(2, later), (None, None)]


async def test_agent_stream_skips_terminal_intents_by_default(api: httpx.AsyncClient) -> None:
    done = await create(api)
    open_one = await create(api)
    await resolve(api, done)

    blocks = await agent_blocks(api, "acme/prod/writer")

    assert [b.data.get("intent_id") for b in blocks] == [open_one, None]
    # The cursor moves past the skipped entry, so the next call does not read it again.
    assert blocks[-1].data["next_seq"] == 2


async def test_completed_filter_shows_replies_to_the_reply_to_address(api: httpx.AsyncClient) -> None:
    intent_id = await create(api, reply_to=CALLER)
    await resolve(api, intent_id)

    default = await agent_blocks(api, "acme/prod/caller")
    replies = await agent_blocks(api, "acme/prod/caller", status="COMPLETED")
    either = await agent_blocks(api, "acme/prod/caller", status="completed, failed")

    assert [b.event for b in default] == ["stream.timeout"]
    assert [(b.id, b.event) for b in replies] == [(1, "intent.completed"), (None, "stream.timeout")]
    assert replies[0].data["intent_id"] == intent_id
    assert replies[0].data["status"] == "COMPLETED"
    assert replies[0].data["result"] == {"ok": 1}  # the outcome with the reply: no second request
    assert either == replies  # a list of statuses, in any case


async def test_agent_stream_with_an_unknown_status_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/v1/agents/acme/prod/writer/intents/stream", params={"status": "COMPLETED,DONE", "wait_seconds": 0}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["details"]["field"] == "status"


async def test_agent_stream_delivers_an_intent_submitted_while_it_waits(
    api: httpx.AsyncClient, subscriptions: SubscriptionWatch
) -> None:
    # The agent stream ends only at its deadline, so the wait is kept to one second.
    stream = asyncio.create_task(
        api.get("/v1/agents/acme/prod/writer/intents/stream", params={"wait_seconds": 1})
    )
    await subscriptions.wait_for(agent_key(API_NAMESPACE, WRITER))

    intent_id = await create(api)
    response = await stream

    blocks = parse_sse(response.text)
    assert [(b.id, b.data.get("intent_id")) for b in blocks] == [(1, intent_id), (None, None)]


# --- a backlog of several pages ------------------------------------------------------------------


async def test_an_agent_stream_pages_through_a_backlog_without_waiting(api: httpx.AsyncClient) -> None:
    """450 queued intents are three pages of the feed: all of them come before the stream ends, even
    one that may not wait at all (a backlog past one page used to wait for a wake-up, up to the 15 s
    keep-alive, after every page)."""
    agent = "agent://acme/prod/backlog"
    sent = [await create(api, to_agent=agent) for _ in range(450)]

    response = await api.get(
        "/v1/agents/acme/prod/backlog/intents/stream", params={"since": 0, "wait_seconds": 0}
    )

    blocks = parse_sse(response.text)
    assert [b.data["intent_id"] for b in blocks[:-1]] == sent
    assert blocks[-1].event == "stream.timeout" and blocks[-1].data["next_seq"] == 450


async def test_an_intent_stream_pages_through_more_than_a_page_of_events(api: httpx.AsyncClient) -> None:
    intent_id = await create(api)
    claimed = await api.post("/v1/agents/acme/prod/writer/claims", json={"worker_id": "w", "wait_seconds": 0})
    token = claimed.json()["deliveries"][0]["lease"]["token"]
    for n in range(1010):  # past the stream's page of 1000 events
        progress = await api.post(
            f"/v1/intents/{intent_id}/progress", json={"lease_token": token, "message": f"step {n}"}
        )
        assert progress.status_code == 200, progress.text

    response = await api.get(intent_stream(intent_id), params={"since": 0, "wait_seconds": 0})

    blocks = parse_sse(response.text)
    assert [b.id for b in blocks[:-1]] == list(range(1, 1014))  # created, submitted, delivered, 1010
    assert blocks[-1].event == "stream.timeout"
