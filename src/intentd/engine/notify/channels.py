"""Notification channels: how a queued notification leaves the server. A channel is anything with the
:class:`Channel` shape; two are built in, chosen by configuration:

- :class:`WebhookChannel` POSTs each notice as JSON to one URL, signed with HMAC-SHA256 over the
  timestamp and the raw body (the scheme Stripe and Slack use, so receivers know how to check it);
- :class:`EmailChannel` sends a mail to each recipient that is an e-mail address, over SMTP configured
  by one URL, with one signed link per outcome when a link can answer the task.

A failed send raises; the outbox retries it with backoff (``notifier.py``), and a
:class:`SendFailed` with ``permanent=True`` (a recipient the mail server refuses) ends it at once.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import orjson

from intentd.model import Micros, now_us, to_rfc3339

from .mail import compose
from .notice import Notice, Outgoing

Clock = Callable[[], Micros]
SIGNATURE_HEADER = "X-Intentd-Signature"
TIMESTAMP_HEADER = "X-Intentd-Timestamp"
ID_HEADER = "X-Intentd-Notification-Id"
_SEND_TIMEOUT = 20.0  # seconds per HTTP request or SMTP conversation step


class SendFailed(Exception):
    """A send did not go through. ``permanent``: trying again cannot help (the row is given up)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    """A way out. ``name`` is stored in each outbox row; ``wants_links`` asks the outbox to sign
    links for each recipient (only a channel that reaches that person should)."""

    name: str
    wants_links: bool

    def recipients(self, notice: Notice) -> Sequence[str]:
        """One outbox row per value: the people this channel reaches (``""`` for one send per notice)."""
        ...

    async def send(self, message: Outgoing) -> None:
        """Deliver or raise (:class:`SendFailed`, or any error: both are retried)."""
        ...

    async def close(self) -> None: ...


def notice_body(message: Outgoing) -> dict[str, object]:
    """The JSON a webhook receives: the notice, its stable id and the attempt."""
    notice = message.notice.to_json()
    notice["at"] = to_rfc3339(message.notice.at)
    return {"id": message.notification_id, "attempt": message.attempt, "notice": notice}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>``: what the receiver recomputes."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookChannel:
    """POSTs each notice (once per notice, whoever it is for) to ``url``. Any answer but a 2xx is
    retried, as GitHub and Stripe do: a receiver that is down or misconfigured gets the notice once
    it is fixed, until the attempts run out."""

    name = "webhook"
    wants_links = False  # the receiver is a system, not the person a link is bound to

    def __init__(self, url: str, secret: str | None = None, *, clock: Clock = now_us) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the notification webhook URL must be http:// or https://")
        self._url = url
        self._secret = secret
        self._clock = clock
        self._client: httpx.AsyncClient | None = None

    def recipients(self, notice: Notice) -> Sequence[str]:
        return ("",)

    async def send(self, message: Outgoing) -> None:
        body = orjson.dumps(notice_body(message))
        headers = {"Content-Type": "application/json", ID_HEADER: message.notification_id}
        if self._secret:
            timestamp = str(self._clock() // 1_000_000)
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, body)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=_SEND_TIMEOUT, follow_redirects=False)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # The exception's text may name the URL, and a URL may hold a key: the class says enough.
            raise SendFailed(f"webhook unreachable ({type(exc).__name__})") from None
        if not response.is_success:
            raise SendFailed(f"webhook answered HTTP {response.status_code}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """An SMTP URL taken apart: ``smtp://user:pass@host:port?from=a@b.c&starttls=true`` (or
    ``smtps://`` for TLS from the first byte)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "the SMTP URL must look like smtp://user:pass@host:port?from=intentd@example.com"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        sender = query.get("from")
        if not sender or "@" not in sender:
            raise ValueError("the SMTP URL needs the sender address: ?from=intentd@example.com")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
            start_tls=not tls and query.get("starttls", "false").lower() in ("1", "true", "yes"),
        )


def is_email_address(recipient: str) -> bool:
    local, at, domain = recipient.rpartition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in recipient))


class EmailChannel:
    """Sends one mail per recipient that is an e-mail address (key names are skipped: nothing says
    where they read mail). The mail says what is asked and carries the recipient's links."""

    name = "email"
    wants_links = True

    def __init__(self, url: str, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.smtp = SmtpSettings.from_url(url)
        self._tls_context = tls_context

    def recipients(self, notice: Notice) -> Sequence[str]:
        return tuple(dict.fromkeys(r for r in notice.recipients if is_email_address(r)))

    async def send(self, message: Outgoing) -> None:
        await self.deliver(compose(message, sender=self.smtp.sender))

    async def deliver(self, mail: EmailMessage) -> None:
        # Imported here: only a server with e-mail configured needs the SMTP client loaded.
        import aiosmtplib

        smtp = self.smtp
        try:
            await aiosmtplib.send(
                mail,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=smtp.use_tls,
                start_tls=smtp.start_tls,
                timeout=_SEND_TIMEOUT,
                tls_context=self._tls_context,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Refused with a 5xx the address does not exist there: retrying cannot help. A 4xx
            # (greylisting, a full mailbox) is worth another try.
            permanent = all(err.code >= 500 for err in exc.recipients)
            raise SendFailed(f"recipient refused: {exc.recipients[0].message}", permanent=permanent) from None
        except aiosmtplib.SMTPException as exc:
            raise SendFailed(f"SMTP: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        return None
