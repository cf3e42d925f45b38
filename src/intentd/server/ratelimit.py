"""Per-key limits of one server process: a request rate (a token bucket per API key) and a number of
open streams (held delivery streams and SSE feeds) per API key.

Both are kept in this process's memory, so with N replicas behind a load balancer a key may reach N
times the configured figures (docs/security.md, "Limits"); they protect a replica from one noisy key,
they are not a quota. Off, the rate limit costs one attribute read per request
(``auth.authenticate``); on, one dictionary lookup and a few float operations.

A bucket holds up to ``burst`` tokens and refills at ``per_second``; a request takes one token, and
a request that finds less than one is refused with 429 ``rate_limited`` and a ``Retry-After`` (whole
seconds, rounded up) saying when a token is back. Buckets are keyed by the key's id, never its secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from intentd.model import RateLimited, TooManyStreams

Clock = Callable[[], float]
# Every this many new buckets, the buckets that are full again (their keys idle) are dropped.
_SWEEP_EVERY = 10_000


class RateLimiter:
    """A token bucket per API key id: ``per_second`` requests on average, ``burst`` at once."""

    def __init__(self, per_second: float, burst: int, clock: Clock = time.monotonic) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # key id -> [tokens, when last counted]
        self._checks = 0

    def check(self, key_id: str) -> None:
        """Take one token from ``key_id``'s bucket; :class:`RateLimited` if there is none."""
        now = self._clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            self._sweep(now)
            bucket = self._buckets[key_id] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.per_second)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            wait = (1.0 - tokens) / self.per_second
            err = RateLimited(
                f"rate limit of this API key reached ({self.per_second:g} requests per second, "
                f"bursts of {self.burst:g}); retry in {wait:.2f} s",
                details={"retry_after_seconds": round(wait, 3)},
            )
            err.retry_after = wait
            raise err
        bucket[0] = tokens - 1.0

    def _sweep(self, now: float) -> None:
        """Forget buckets that are full again, now and then, so revoked keys do not pile up."""
        self._checks += 1
        if self._checks % _SWEEP_EVERY:
            return
        refill = self.burst / self.per_second
        for key_id, (_, last) in list(self._buckets.items()):
            if now - last >= refill:
                del self._buckets[key_id]


@dataclass
class StreamSlots:
    """How many streams each API key holds open in this process; at most ``per_key``."""

    per_key: int
    _held: dict[str, int]

    @classmethod
    def of(cls, per_key: int) -> StreamSlots:
        return cls(per_key, {})

    def held(self, key_id: str) -> int:
        return self._held.get(key_id, 0)

    def take(self, key_id: str) -> Callable[[], None]:
        """Count one more open stream of ``key_id`` (:class:`TooManyStreams` past the limit); returns
        the function that gives the slot back, once, when the stream ends."""
        held = self._held.get(key_id, 0)
        if self.per_key and held >= self.per_key:
            err = TooManyStreams(
                f"this API key already holds {held} open streams, the most one key may hold on a "
                "server (INTENTD_MAX_STREAMS_PER_KEY); close one first",
                details={"limit": self.per_key},
            )
            err.retry_after = 1.0
            raise err
        self._held[key_id] = held + 1
        returned = False

        def give_back() -> None:
            nonlocal returned
            if returned:
                return
            returned = True
            left = self._held.get(key_id, 1) - 1
            if left > 0:
                self._held[key_id] = left
            else:
                self._held.pop(key_id, None)

        return give_back
