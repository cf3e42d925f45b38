"""Server-sent events as the raw HTTP clients of the benchmark read them (the driver's feed, the
agents' delivery streams): one ``(event, data)`` pair per frame, comments (keep-alives) skipped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) per SSE frame; comments and ``id:`` lines are skipped."""
    event, data = "message", ""
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
