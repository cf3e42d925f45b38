"""Long polls end with their client. A claim that waits for work must stop waiting when the worker that
sent it is gone (a worker shutting down cancels its claims, then releases its running intents): a
claim still registered would take the released intent, and it would sit leased to nobody until that
lease expired."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")


async def unless_disconnected(request: Request, work: Awaitable[T], empty: T) -> T:
    """``work``'s answer, or ``empty`` once the client has disconnected. ``work`` runs in a task of
    its own, so it is cancelled whenever it is not finished: on a disconnect, and when this request
    is itself cancelled (a client in the same process giving up)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return empty if task.cancelled() else task.result()


async def _disconnect(request: Request) -> None:
    # The body was read: the next message the server has for this request is its disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
