"""What the HTTP API tests share."""

from __future__ import annotations

from typing import Any

import httpx

WRITER = "agent://acme/prod/writer"


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
