"""What a handler receives besides the intent: the delivery's facts and a few actions on it.

Sync handlers run in a thread and get :class:`Context`, whose actions block; async handlers get
:class:`AsyncContext`, whose actions are awaited. Both share :class:`_ContextState`.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intentd.client import AsyncClient, Delivery, Intent, WaitingReason
from intentd.model import JSON


@dataclass
class _ContextState:
    client: AsyncClient
    delivery: Delivery
    usage: dict[str, float] = field(default_factory=dict)
    parked: bool = False
    # Set when the server says the intent is no longer ours (canceled, or the lease was lost).
    lost: threading.Event = field(default_factory=threading.Event)


class _ContextBase:
    def __init__(self, state: _ContextState) -> None:
        self._state = state

    @property
    def intent(self) -> Intent:
        return self._state.delivery.intent

    @property
    def attempt(self) -> int:
        """1 on the first delivery, 2 on the first redelivery, …"""
        return self._state.delivery.attempt

    @property
    def idempotency_key(self) -> str:
        """Stable across every redelivery of this intent: key side effects with it."""
        return self.idempotency_key_for("")

    def idempotency_key_for(self, name: str) -> str:
        """A stable key per named side effect, for handlers that make several."""
        digest = hashlib.sha256(f"{self.intent.intent_id}/{name}".encode()).hexdigest()
        return f"intentd-{digest[:40]}"

    @property
    def cancelled(self) -> bool:
        """True once the intent was canceled or its lease lost: stop, the result will be refused."""
        return self._state.lost.is_set()

    def report_usage(self, **amounts: float) -> None:
        """Add usage (e.g. ``tokens=812, cost_usd=0.004``); it is stored on the intent."""
        for name, amount in amounts.items():
            self._state.usage[name] = self._state.usage.get(name, 0) + amount

    def _progress_call(self, message: str) -> Any:
        d = self._state.delivery
        return self._state.client.progress(d.intent.intent_id, message, lease_token=d.lease_token)

    def _wait_call(self, reason: WaitingReason | str, wake_at: datetime | None, details: JSON | None) -> Any:
        self._state.parked = True
        d = self._state.delivery
        return self._state.client.wait(
            d.intent.intent_id, d.lease_token, reason, wake_at=wake_at, details=details
        )


class AsyncContext(_ContextBase):
    async def progress(self, message: str) -> None:
        """Record progress as an ``intent.progress`` event."""
        await self._progress_call(message)

    async def wait(
        self,
        reason: WaitingReason | str = WaitingReason.HUMAN,
        *,
        wake_at: datetime | None = None,
        details: JSON | None = None,
    ) -> None:
        """Park the intent in WAITING; the handler should return next (its value is ignored).
        A resume (or ``wake_at``) delivers it again."""
        await self._wait_call(reason, wake_at, details)


class Context(_ContextBase):
    def __init__(self, state: _ContextState, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(state)
        self._loop = loop

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def progress(self, message: str) -> None:
        """Record progress as an ``intent.progress`` event."""
        self._run(self._progress_call(message))

    def wait(
        self,
        reason: WaitingReason | str = WaitingReason.HUMAN,
        *,
        wake_at: datetime | None = None,
        details: JSON | None = None,
    ) -> None:
        """Park the intent in WAITING; the handler should return next (its value is ignored).
        A resume (or ``wake_at``) delivers it again."""
        self._run(self._wait_call(reason, wake_at, details))
