"""In-process wake-ups. Long polls and SSE streams subscribe to keys ("intent:<id>", "agent:<ns>:<addr>");
the writer publishes the keys a transaction touched right after it commits. PostgreSQL replicas relay
each other's keys through LISTEN/NOTIFY into the same hub.

Subscribe *before* reading the database, then wait: a change that lands between the read and the wait
still sets the subscription's flag, so no wake-up is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


def intent_key(intent_id: str) -> str:
    return f"intent:{intent_id}"


def agent_key(namespace: str, address: str) -> str:
    return f"agent:{namespace}:{address}"


class Subscription:
    __slots__ = ("_flag", "_hub", "_elsewhere")

    def __init__(self, hub: Hub) -> None:
        self._flag = asyncio.Event()
        self._hub = hub
        self._elsewhere = False

    def _wake(self, elsewhere: bool = False) -> None:
        self._flag.set()
        self._elsewhere = self._elsewhere or elsewhere

    def changed_elsewhere(self) -> bool:
        """Whether a wake-up since the last call came from another replica (or from a catch-up after
        a gap), whose changes no hook of this process has seen; clears it. A waiter that learns of
        this process's changes through commit hooks (a held delivery stream) reads the database
        only then."""
        elsewhere, self._elsewhere = self._elsewhere, False
        return elsewhere

    def take(self) -> bool:
        """Whether woken since the last call (or the last wait); clears it, without waiting."""
        woken = self._flag.is_set()
        self._flag.clear()
        return woken

    def wake(self) -> None:
        """Wake the waiter from outside the hub (e.g. a lease handed to a held stream)."""
        self._flag.set()

    @property
    def closed(self) -> bool:
        """The server is shutting down: stop waiting and answer now."""
        return self._hub.closed

    async def wait(self, timeout: float) -> bool:
        """True if woken before ``timeout`` seconds; clears the flag for the next wait. Returns
        False at once when the hub is closed."""
        if self._hub.closed or (timeout <= 0 and not self._flag.is_set()):
            return False
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that lands
        # together with the wake-up, and a cancelled waiter (a stopping scheduler) would run on.
        try:
            async with asyncio.timeout(timeout):
                await self._flag.wait()
        except TimeoutError:
            return False
        self._flag.clear()
        return not self._hub.closed


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self.closed = False

    def close(self) -> None:
        """Wake every waiter for good (graceful shutdown: long polls and streams answer now
        instead of holding the server up for their full wait)."""
        self.closed = True
        self.wake_all()

    def wake_all(self) -> None:
        """Wake every waiter once, whatever its keys: the catch-up after a gap in the change feed
        (a PostgreSQL replica's LISTEN connection was down, so NOTIFYs sent meanwhile are lost).
        Waiters re-read the database when woken, so a needless wake-up costs one read, while a
        missed one costs a whole wait."""
        for subs in list(self._subscribers.values()):
            for sub in subs:
                sub._wake(elsewhere=True)

    @contextmanager
    def subscribe(self, *keys: str) -> Iterator[Subscription]:
        sub = Subscription(self)
        for key in keys:
            self._subscribers.setdefault(key, set()).add(sub)
        try:
            yield sub
        finally:
            for key in keys:
                subs = self._subscribers.get(key)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subscribers[key]

    def publish(self, keys: Iterable[str], *, elsewhere: bool = False) -> None:
        """Wake the subscribers of ``keys``: after a commit of this process, or ``elsewhere``: of
        another replica (relayed by its NOTIFY)."""
        for key in keys:
            for sub in self._subscribers.get(key, ()):
                sub._wake(elsewhere)
