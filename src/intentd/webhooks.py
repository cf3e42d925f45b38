"""Checking the signature of a POST intentd sent: a webhook subscription's event, an intent pushed to
an agent registered with the ``http`` binding, or a human task's notification (docs/webhooks.md).

Every POST carries two signatures over its raw body, with the secret the receiver was given:

- ``X-Intentd-Timestamp: <unix seconds>`` and ``X-Intentd-Signature: sha256=<hex>``, the HMAC-SHA256
  of ``<timestamp>.<body>``: the one to check, because the timestamp is signed too and a receiver
  that refuses old timestamps refuses a captured request sent again later;
- ``X-Axme-Signature: sha256=<hex>``, the HMAC-SHA256 of the body alone, as AXME signs (PROTOCOL.md
  §6), for receivers written for AXME. It cannot tell a replay from the original.

Usage, in any web framework::

    from intentd.webhooks import InvalidSignature, verify

    try:
        verify(SECRET, await request.body(), request.headers)
    except InvalidSignature:
        return Response(status_code=401)

Only the standard library is used: ``pip install intentd`` (no extras) is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = [
    "AXME_SIGNATURE_HEADER",
    "DEFAULT_TOLERANCE_SECONDS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "InvalidSignature",
    "axme_signature",
    "signature",
    "verify",
    "verify_axme",
]

SIGNATURE_HEADER = "X-Intentd-Signature"
TIMESTAMP_HEADER = "X-Intentd-Timestamp"
AXME_SIGNATURE_HEADER = "X-Axme-Signature"
DEFAULT_TOLERANCE_SECONDS = 300.0  # how old (or how far ahead) a timestamp may be


class InvalidSignature(ValueError):
    """The request is not one intentd signed with this secret, or it is too old to accept."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``<timestamp>.<body>``): the ``X-Intentd-Signature``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def axme_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, body): the ``X-Axme-Signature`` (no timestamp)."""
    return f"sha256={hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    signature: str | None = None,
    timestamp: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a request intentd sent; raise :class:`InvalidSignature` if it does not hold.

    ``body`` is the raw request body, as received (not parsed and dumped again). Pass the request's
    ``headers`` (any mapping; names are matched without regard to case), or ``signature`` and
    ``timestamp`` as read from ``X-Intentd-Signature`` and ``X-Intentd-Timestamp``. A timestamp
    more than ``tolerance`` seconds from ``now`` (default: this machine's clock) is refused, so a
    captured request cannot be sent again later; deduplicate by the body's id within that window.

    >>> sig = signature("s3cret", "1700000000", b"{}")
    >>> verify("s3cret", b"{}", {"X-Intentd-Signature": sig, "X-Intentd-Timestamp": "1700000000"},
    ...        now=1700000010)
    """
    if headers is not None:
        found = {k.lower(): v for k, v in headers.items()}
        signature = signature or found.get(SIGNATURE_HEADER.lower())
        timestamp = timestamp or found.get(TIMESTAMP_HEADER.lower())
    if not signature or not timestamp:
        raise InvalidSignature(f"the request has no {SIGNATURE_HEADER} and {TIMESTAMP_HEADER}")
    stamp = timestamp.strip()
    # What intentd sends: ASCII digits, a handful of them. Not int()'s wider syntax ("1_7", other
    # scripts' digits), nor so many digits that comparing them with a float clock overflows.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_TIMESTAMP_DIGITS):
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not a number of seconds")
    sent_at = int(stamp)
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise InvalidSignature(f"the timestamp is more than {tolerance:g}s away: a replay, or a clock off")
    if not _same(signature, _signature(secret, timestamp, body)):
        raise InvalidSignature("the signature does not match the body and the secret")


def verify_axme(secret: str, body: bytes, header: str) -> None:
    """Check an ``X-Axme-Signature`` (body only, no protection against replay); raise
    :class:`InvalidSignature` if it does not hold."""
    if not _same(header, axme_signature(secret, body)):
        raise InvalidSignature("the signature does not match the body and the secret")


_signature = signature  # `verify` takes a parameter of that name
_MAX_TIMESTAMP_DIGITS = 15  # seconds: far past any clock, well within a float


def _same(received: str, expected: str) -> bool:
    """Constant-time comparison, as bytes: ``compare_digest`` refuses non-ASCII text with a
    ``TypeError``, which a header sent by anyone must not turn into a server error."""
    return hmac.compare_digest(received.strip().encode("utf-8", "replace"), expected.encode())
