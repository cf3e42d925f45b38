"""The HTTP API from the outside, as any plain HTTP client uses it: request bodies, submitting to
the app in this process, and reading a live server's SSE streams and event logs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

JSON = dict[str, Any]
WRITER = "agent://acme/prod/writer"
REVIEWER = "agent://acme/prod/reviewer"
TERMINAL = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


async def create(api: httpx.AsyncClient, to_agent: str = WRITER, **extra: Any) -> str:
    """Submit an intent to ``to_agent``; returns its id."""
    response = await api.post(
        "/v1/intents",
        json={
            "intent_type": "intent.demo.v1",
            "correlation_id": "corr-test",
            "to_agent": to_agent,
            "payload": {"n": 1},
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    intent_id: str = response.json()["intent_id"]
    return intent_id


def intent_body(to_agent: str, **extra: Any) -> JSON:
    return {
        "intent_type": "intent.e2e.v1",
        "to_agent": to_agent,
        "payload": {},
        "correlation_id": "e2e",
        **extra,
    }


def rfc3339_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def parse_rfc3339(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def sse_events(response: httpx.Response) -> Iterator[tuple[str, JSON]]:
    """(event name, data) from an SSE response, as the AXP SDK parses them."""
    name, data = "", ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and name:
            yield name, orjson.loads(data) if data else {}
            name, data = "", ""


def all_intents(client: httpx.Client, **filters: str) -> list[JSON]:
    """Every intent matching ``filters``, following the list cursor."""
    found: list[JSON] = []
    params: JSON = {"limit": 500, **filters}
    while True:
        page = client.get("/v1/intents", params=params).raise_for_status().json()
        found += page["intents"]
        if not page["has_more"]:
            return found
        params["cursor"] = page["next_cursor"]


def events_of(client: httpx.Client, intent_id: str) -> list[JSON]:
    response = client.get(f"/v1/intents/{intent_id}/events", params={"limit": 10000})
    events: list[JSON] = response.raise_for_status().json()["events"]
    return events


def wait_terminal(client: httpx.Client, intent_id: str, timeout: float) -> list[JSON]:
    """Follow the intent's event stream until a terminal event (the server ends the stream then);
    returns the events seen. Raises if the intent is still open after ``timeout`` seconds."""
    seen: list[JSON] = []
    params = {"since": 0, "wait_seconds": timeout}
    with client.stream(
        "GET", f"/v1/intents/{intent_id}/events/stream", params=params, timeout=timeout + 10
    ) as response:
        response.raise_for_status()
        for name, data in sse_events(response):
            if name == "stream.timeout":
                break
            seen.append(data)
    if not seen or seen[-1]["status"] not in TERMINAL:
        raise AssertionError(f"{intent_id} not terminal after {timeout}s: {seen[-1:]}")
    return seen
