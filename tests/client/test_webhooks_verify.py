"""``intentd.webhooks.verify`` and ``verify_axme``, what a receiver calls on each POST intentd sends:
a genuine request passes (headers in any case, as web frameworks give them); a wrong secret, a
tampered body, a stale or future timestamp, a missing or malformed header are refused."""

from __future__ import annotations

import time

import httpx
import pytest

from intentd.webhooks import (
    AXME_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    axme_signature,
    signature,
    verify,
    verify_axme,
)

SECRET = "whsec-0123456789abcdef"
BODY = b'{"event_id":"e1","event_type":"intent.completed","payload":{"intent_id":"i1"}}'
SENT_AT = 1_780_000_000


def headers(secret: str = SECRET, body: bytes = BODY, sent_at: int = SENT_AT) -> dict[str, str]:
    """What intentd's sender puts on a POST of ``body`` signed with ``secret`` at ``sent_at``."""
    stamp = str(sent_at)
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, stamp, body),
        AXME_SIGNATURE_HEADER: axme_signature(secret, body),
    }


def test_a_genuine_request_passes_with_headers_in_any_case() -> None:
    verify(SECRET, BODY, headers(), now=SENT_AT + 5)
    verify(SECRET, BODY, {k.lower(): v for k, v in headers().items()}, now=SENT_AT)
    verify(SECRET, BODY, {k.upper(): v for k, v in headers().items()}, now=SENT_AT - 5)
    sent = headers()
    verify(SECRET, BODY, signature=sent[SIGNATURE_HEADER], timestamp=sent[TIMESTAMP_HEADER], now=SENT_AT)


def test_a_framework_s_own_header_mapping_and_this_machine_s_clock() -> None:
    """A multi-dict that folds case itself (httpx's, like Starlette's), and no ``now``: the clock."""
    fresh = int(time.time())
    verify(SECRET, BODY, httpx.Headers(headers(sent_at=fresh)))
    with pytest.raises(InvalidSignature, match="away"):
        verify(SECRET, BODY, httpx.Headers(headers(sent_at=fresh - 3600)))


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{SENT_AT}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers()[SIGNATURE_HEADER] == f"sha256={expected}"


@pytest.mark.parametrize(
    ("secret", "body", "sent", "now", "why"),
    [
        ("whsec-another-secret-00", BODY, headers(), SENT_AT, "does not match"),
        (SECRET, BODY.replace(b"i1", b"i2"), headers(), SENT_AT, "does not match"),
        (SECRET, BODY + b" ", headers(), SENT_AT, "does not match"),  # re-serialized bodies differ too
        (SECRET, BODY, headers(), SENT_AT + 301, "away"),  # stale: a captured request sent again
        (SECRET, BODY, headers(), SENT_AT - 301, "away"),  # from the future
        (SECRET, BODY, {**headers(), TIMESTAMP_HEADER: str(SENT_AT + 1)}, SENT_AT, "does not match"),
        (SECRET, BODY, {TIMESTAMP_HEADER: str(SENT_AT)}, SENT_AT, "has no"),
        (SECRET, BODY, {SIGNATURE_HEADER: headers()[SIGNATURE_HEADER]}, SENT_AT, "has no"),
        (SECRET, BODY, {**headers(), TIMESTAMP_HEADER: "yesterday"}, SENT_AT, "not a number"),
        (SECRET, BODY, {**headers(), SIGNATURE_HEADER: "sha256=zz"}, SENT_AT, "does not match"),
        (SECRET, BODY, {**headers(), SIGNATURE_HEADER: ""}, SENT_AT, "has no"),
        (SECRET, BODY, {**headers(), SIGNATURE_HEADER: "sha256=\u00e9\u00e9"}, SENT_AT, "does not match"),
    ],
    ids=[
        "wrong-secret",
        "tampered-body",
        "re-serialized-body",
        "stale",
        "future",
        "timestamp-moved",
        "no-signature",
        "no-timestamp",
        "timestamp-not-a-number",
        "malformed-signature",
        "empty-signature",
        "non-ascii-signature",
    ],
)
def test_a_request_that_does_not_hold_is_refused(
    secret: str, body: bytes, sent: dict[str, str], now: int, why: str
) -> None:
    with pytest.raises(InvalidSignature, match=why):
        verify(secret, body, sent, now=now)


@pytest.mark.parametrize(
    "stamp",
    ["9" * 400, "1_780_000_000", "\u0661\u0667\u0668", "-1780000000", "+1780000000", "1780000000.0"],
    ids=["400-digits", "underscores", "arabic-indic-digits", "negative", "plus-sign", "decimal"],
)
@pytest.mark.parametrize("now", [None, SENT_AT + 0.5], ids=["clock", "float-now"])
def test_a_timestamp_that_is_not_plain_digits_is_refused_even_signed(stamp: str, now: float | None) -> None:
    """Signed with the secret and all: only what intentd sends is read. 400 digits made comparing
    with a float clock raise ``OverflowError`` (a receiver's 500), not ``InvalidSignature``."""
    sent = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: signature(SECRET, stamp, BODY)}
    with pytest.raises(InvalidSignature, match="not a number"):
        verify(SECRET, BODY, sent, now=now)


def test_the_tolerance_is_the_receiver_s_choice() -> None:
    verify(SECRET, BODY, headers(), now=SENT_AT + 3000, tolerance=3600)
    with pytest.raises(InvalidSignature):
        verify(SECRET, BODY, headers(), now=SENT_AT + 61, tolerance=60)


def test_the_axme_signature_covers_the_body_alone() -> None:
    verify_axme(SECRET, BODY, headers()[AXME_SIGNATURE_HEADER])
    with pytest.raises(InvalidSignature):
        verify_axme("whsec-another-secret-00", BODY, headers()[AXME_SIGNATURE_HEADER])
    with pytest.raises(InvalidSignature):
        verify_axme(SECRET, BODY + b"x", headers()[AXME_SIGNATURE_HEADER])
    with pytest.raises(InvalidSignature):  # not a TypeError out of compare_digest
        verify_axme(SECRET, BODY, "sha256=\u00e9")
