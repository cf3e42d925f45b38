"""Notifications on both backends, against a real SMTP server (aiosmtpd, on this test's event loop) and a
real HTTP receiver (a stdlib server in a thread): what the mail says and which links it carries, the
webhook's signature, the outbox surviving a restart, the sender woken by a commit, retries with backoff
then the dead state (the FakeClock moves time), two replicas sending each row once, and the signed
links themselves (round trip, tampering, expiry, the per-database secret)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from intentd.engine import Engine, Principal
from intentd.engine.inputs import Answer
from intentd.engine.notify import (
    EmailChannel,
    LinkClaims,
    LinkService,
    Notice,
    NotifyConfig,
    SmtpSettings,
    WebhookChannel,
    configure,
    retry_delay,
    sign_token,
    verify_token,
)
from intentd.engine.notify.links import link_key
from intentd.model import LinkExpired, LinkInvalid
from intentd.store import Hub, Store, Subscription, Tx, open_store
from tests._support.engine import US, FakeClock, task

ALICE = "alice@acme.test"
CAROL = "carol@acme.test"
LINK = re.compile(r"(\w+): (https?://\S+/v1/links/(\S+))")


# -- a real SMTP server and a real HTTP receiver ------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps what it receives; addresses in ``refuse`` get a 550."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self._arrived = asyncio.Event()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self._arrived.set()
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
async def mailbox() -> AsyncIterator[tuple[Mailbox, str]]:
    async with smtp_server() as running:
        yield running


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Mailbox, str]]:
    """A real SMTP server on a free local port; yields its mailbox and the SMTP URL to send to it."""
    box = Mailbox()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(box, hostname="mail.test"), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield box, f"smtp://127.0.0.1:{port}?from=intentd@acme.test"
    finally:
        server.close()
        await server.wait_closed()


class Receiver:
    """A real HTTP server in a thread that records each POST and answers the next status of
    ``statuses`` (200 once they run out)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 refuses concurrent senders' connections

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/intentd"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def ids(self) -> list[str]:
        return [headers["x-intentd-notification-id"] for headers, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


# -- helpers -------------------------------------------------------------------------------------------


def notice(clock: FakeClock, **overrides: Any) -> Notice:
    fields: dict[str, Any] = {
        "kind": "assigned",
        "namespace": "default",
        "task_id": "task-1",
        "intent_id": "intent-1",
        "intent_type": "expense.approve.v1",
        "title": "Approve the Q3 offsite",
        "description": "12 people, two nights in Lisbon.",
        "task_type": "approval",
        "outcomes": ("approved", "rejected"),
        "recipients": (ALICE, "bob", CAROL),
        "at": clock.now,
    }
    return Notice(**{**fields, **overrides})


async def enqueue(engine: Engine, *notices: Notice) -> int:
    async def unit(tx: Tx) -> int:
        return sum([await engine.notifier.enqueue(tx, n) for n in notices])

    return await engine.store.write(unit)


async def rows(store: Store) -> list[dict[str, Any]]:
    return await store.read(lambda tx: tx.list_notifications(100))


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def links_in(message: EmailMessage) -> dict[str, str]:
    return {outcome: token for outcome, _, token in LINK.findall(text_of(message))}


def engine_with(store: Store, clock: FakeClock, *channels: Any, **config: Any) -> Engine:
    settings = NotifyConfig(channels=channels, public_url="https://intentd.acme.test", **config)
    return Engine(store, clock, notify=settings)


# -- e-mail ---------------------------------------------------------------------------------------------


async def test_each_address_gets_a_mail_with_its_own_link_per_outcome(
    store: Store, clock: FakeClock, mailbox: tuple[Mailbox, str]
) -> None:
    box, smtp_url = mailbox
    engine = engine_with(store, clock, EmailChannel(smtp_url))
    assert await enqueue(engine, notice(clock)) == 2  # "bob" is a key name: no address to mail
    assert await engine.notifier.send_due() == 2

    assert sorted(m["To"] for m in box.messages) == [ALICE, CAROL]
    [mail] = box.to(ALICE)
    assert mail["Subject"] == "Your answer is needed: Approve the Q3 offsite"
    assert mail["From"] == "intentd@acme.test"
    body = text_of(mail)
    assert "12 people, two nights in Lisbon." in body and "Possible answers: approved, rejected" in body
    tokens = links_in(mail)
    assert set(tokens) == {"approved", "rejected"}
    assert all(f"https://intentd.acme.test/v1/links/{t}" in body for t in tokens.values())
    for outcome, token in tokens.items():
        claims = await engine.notifier.links.verify(token)
        assert (claims.namespace, claims.task_id, claims.person, claims.outcome) == (
            "default",
            "task-1",
            ALICE,
            outcome,
        )
        assert claims.expires_at == clock.now + 7 * 24 * 3600 * US
    assert links_in(box.to(CAROL)[0]).keys() == tokens.keys()
    assert not set(links_in(box.to(CAROL)[0]).values()) & set(tokens.values())  # bound to the person
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and f"/v1/links/{tokens['approved']}" in str(html.get_content())

    sent = await rows(store)
    assert {r["status"] for r in sent} == {"sent"} and {r["attempts"] for r in sent} == {1}
    assert mail["Message-ID"] == f"<{mail['X-Intentd-Notification-Id']}@intentd>"
    assert mail["X-Intentd-Notification-Id"] in {r["notification_id"] for r in sent}


async def test_a_task_that_needs_form_data_is_answered_elsewhere(
    store: Store, clock: FakeClock, mailbox: tuple[Mailbox, str]
) -> None:
    box, smtp_url = mailbox
    engine = engine_with(store, clock, EmailChannel(smtp_url))
    await enqueue(engine, notice(clock, recipients=(ALICE,), task_type="form", has_form=True))
    await engine.notifier.send_due()

    [mail] = box.messages
    body = text_of(mail)
    assert "/v1/links/" not in mail.as_string()
    assert "needs form data" in body and "intentd tasks submit task-1" in body


async def test_a_decided_task_is_reported_without_links(
    store: Store, clock: FakeClock, mailbox: tuple[Mailbox, str]
) -> None:
    box, smtp_url = mailbox
    engine = engine_with(store, clock, EmailChannel(smtp_url))
    decision = {"outcome": "approved", "decided_by": CAROL, "comment": "fine"}
    await enqueue(engine, notice(clock, kind="decided", recipients=(ALICE,), details={"decision": decision}))
    await engine.notifier.send_due()

    [mail] = box.messages
    assert mail["Subject"] == "Decided: Approve the Q3 offsite"
    assert "Answer: approved by carol@acme.test (fine)" in text_of(mail)
    assert "/v1/links/" not in mail.as_string()


async def test_an_address_the_server_refuses_is_given_up_at_once(
    store: Store, clock: FakeClock, mailbox: tuple[Mailbox, str]
) -> None:
    box, smtp_url = mailbox
    box.refuse.add(CAROL)
    engine = engine_with(store, clock, EmailChannel(smtp_url))
    await enqueue(engine, notice(clock))
    await engine.notifier.send_due()

    by_recipient = {r["recipient"]: r for r in await rows(store)}
    assert by_recipient[ALICE]["status"] == "sent"
    assert by_recipient[CAROL]["status"] == "dead" and by_recipient[CAROL]["attempts"] == 1
    assert "no such mailbox" in by_recipient[CAROL]["last_error"]


# -- the webhook -------------------------------------------------------------------------------------


async def test_the_webhook_gets_the_notice_signed_over_timestamp_and_body(
    store: Store, clock: FakeClock, receiver: Receiver
) -> None:
    engine = engine_with(store, clock, WebhookChannel(receiver.url, "whsec-test", clock=clock))
    assert await enqueue(engine, notice(clock, kind="reminder", details={"reminder": 2})) == 1
    await engine.notifier.send_due()

    [(headers, body)] = receiver.requests
    timestamp = headers["x-intentd-timestamp"]
    assert timestamp == str(clock.now // US)
    expected = hmac.new(b"whsec-test", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-intentd-signature"] == f"sha256={expected}"
    sent = orjson.loads(body)
    assert sent["id"] == headers["x-intentd-notification-id"] and sent["attempt"] == 1
    assert sent["notice"]["kind"] == "reminder" and sent["notice"]["details"] == {"reminder": 2}
    assert sent["notice"]["recipients"] == [ALICE, "bob", CAROL]
    assert "/v1/links/" not in body.decode()  # links are for the people they are bound to


async def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    store: Store, clock: FakeClock, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 502]
    engine = engine_with(store, clock, WebhookChannel(receiver.url), max_attempts=3, first_retry_seconds=10)
    engine.notifier._jitter = lambda: 1.0  # the top of each backoff window, so the test knows when
    await enqueue(engine, notice(clock))

    assert await engine.notifier.send_due() == 1
    [row] = await rows(store)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "webhook answered HTTP 500")
    assert row["due_at"] == clock.now + 10 * US
    clock.advance(9)
    assert await engine.notifier.send_due() == 0  # not due yet
    clock.advance(1)
    assert await engine.notifier.send_due() == 1
    clock.advance(19)
    assert await engine.notifier.send_due() == 0  # the second wait doubled
    clock.advance(1)
    assert await engine.notifier.send_due() == 1
    clock.advance(3600)
    assert await engine.notifier.send_due() == 0  # dead rows are not retried

    [row] = await rows(store)
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 3, "webhook answered HTTP 502")
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 3  # one id on every attempt
    assert await store.read(lambda tx: tx.next_notification_due()) is None


async def test_a_receiver_that_recovers_gets_the_notice(
    store: Store, clock: FakeClock, receiver: Receiver
) -> None:
    receiver.statuses = [503]
    engine = engine_with(store, clock, WebhookChannel(receiver.url), first_retry_seconds=5)
    await enqueue(engine, notice(clock))
    await engine.notifier.send_due()
    clock.advance(5)
    await engine.notifier.send_due()

    [row] = await rows(store)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert [orjson.loads(body)["attempt"] for _, body in receiver.requests] == [1, 2]


def test_backoff_doubles_up_to_its_cap_within_its_jitter() -> None:
    config = NotifyConfig(first_retry_seconds=10, max_retry_seconds=60)
    assert [retry_delay(n, config, 1.0) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    assert [retry_delay(n, config, 0.0) for n in (1, 2, 3)] == [5, 10, 20]


# -- durability and the sender -----------------------------------------------------------------------


async def test_queued_notifications_survive_a_restart(
    database_url: str, clock: FakeClock, mailbox: tuple[Mailbox, str]
) -> None:
    box, smtp_url = mailbox
    first = await open_store(database_url)
    try:
        await enqueue(engine_with(first, clock, EmailChannel(smtp_url)), notice(clock))
    finally:
        await first.close()  # stopped before anything was sent
    assert box.messages == []

    reopened = await open_store(database_url)
    restarted = engine_with(reopened, clock, EmailChannel(smtp_url))
    restarted.notifier.start()  # the sender sends what waits as it starts
    try:
        received = await box.wait_for(2)
    finally:
        await restarted.notifier.stop()
        await reopened.close()
    assert sorted(m["To"] for m in received) == [ALICE, CAROL]


class ParkedWatch:
    """Stands in for a hub's ``subscribe`` and sets ``parked`` when the subscriber starts to wait."""

    def __init__(self, hub: Hub) -> None:
        self._subscribe = hub.subscribe
        self.parked = asyncio.Event()

    @contextmanager
    def subscribe(self, *keys: str) -> Iterator[Any]:
        watch = self

        class Watched:
            def __init__(self, subscription: Subscription) -> None:
                self._subscription = subscription

            @property
            def closed(self) -> bool:
                return self._subscription.closed

            async def wait(self, timeout: float) -> bool:
                watch.parked.set()
                return await self._subscription.wait(timeout)

        with self._subscribe(*keys) as subscription:
            yield Watched(subscription)


async def test_a_commit_wakes_the_sleeping_sender(
    store: Store, clock: FakeClock, mailbox: tuple[Mailbox, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, smtp_url = mailbox
    engine = engine_with(store, clock, EmailChannel(smtp_url))
    watch = ParkedWatch(store.hub)
    monkeypatch.setattr(store.hub, "subscribe", watch.subscribe)
    engine.notifier.start()
    try:
        # Nothing is due, so the sender has gone to sleep for its longest (a minute): within the 10
        # seconds below only the commit's wake-up can get the mail out.
        await asyncio.wait_for(watch.parked.wait(), 10)
        await enqueue(engine, notice(clock, recipients=(ALICE,)))
        [mail] = await box.wait_for(1, timeout=10)
    finally:
        await engine.notifier.stop()
    assert mail["To"] == ALICE


async def test_a_row_whose_sender_died_mid_send_is_sent_once_its_claim_ends(
    store: Store, clock: FakeClock, receiver: Receiver
) -> None:
    engine = engine_with(store, clock, WebhookChannel(receiver.url), send_timeout_seconds=60)
    await enqueue(engine, notice(clock))
    # A sender claims the row and dies before it sends or settles (a crash, a SIGKILL).
    [claimed] = await store.write(engine.notifier._claim)
    assert claimed.attempt == 1
    clock.advance(59)
    assert await engine.notifier.send_due() == 0  # still claimed
    clock.advance(1)
    assert await engine.notifier.send_due() == 1

    [row] = await rows(store)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert [orjson.loads(body)["attempt"] for _, body in receiver.requests] == [2]


async def test_nothing_is_queued_without_channels(store: Store, clock: FakeClock) -> None:
    engine = Engine(store, clock)
    assert await enqueue(engine, notice(clock)) == 0
    assert await rows(store) == []


async def test_two_senders_send_each_notification_once(
    database_url: str, clock: FakeClock, receiver: Receiver
) -> None:
    stores = [await open_store(database_url)]
    if "postgres" in database_url:  # two replicas; a SQLite file has one server
        stores.append(await open_store(database_url))
    try:
        engines = [engine_with(s, clock, WebhookChannel(receiver.url)) for s in stores]
        engines.append(engine_with(stores[0], clock, WebhookChannel(receiver.url)))
        many = [notice(clock, task_id=f"task-{n}") for n in range(60)]
        assert await enqueue(engines[0], *many) == 60
        counts = await asyncio.gather(*(e.notifier.send_due() for e in engines))
        sent = await rows(stores[0])
    finally:
        for store in stores:
            await store.close()
    assert sum(counts) == 60
    assert len(receiver.ids()) == 60 and len(set(receiver.ids())) == 60
    assert all(r["status"] == "sent" and r["attempts"] == 1 for r in sent)


# -- configuration --------------------------------------------------------------------------------------


def test_an_smtp_url_says_everything_the_channel_needs() -> None:
    smtp = SmtpSettings.from_url(
        "smtp://ops%40acme.test:p%2Fss@mail.acme.test:587?from=intentd@acme.test&starttls=true"
    )
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == (
        "mail.acme.test",
        587,
        "ops@acme.test",
        "p/ss",
    )
    assert (smtp.sender, smtp.start_tls, smtp.use_tls) == ("intentd@acme.test", True, False)
    tls = SmtpSettings.from_url("smtps://mail.acme.test?from=intentd@acme.test")
    assert (tls.port, tls.use_tls, tls.start_tls) == (465, True, False)
    assert SmtpSettings.from_url("smtp://localhost?from=a@b.test").port == 25
    with pytest.raises(ValueError, match="from="):
        SmtpSettings.from_url("smtp://localhost:25")
    with pytest.raises(ValueError, match="smtp://"):
        SmtpSettings.from_url("http://localhost:25?from=a@b.test")
    with pytest.raises(ValueError, match="http"):
        configure(webhook_url="ftp://hooks.acme.test", public_url="http://x")
    assert [c.name for c in configure(public_url="http://x").channels] == []


# -- signed links ---------------------------------------------------------------------------------------

CLAIMS = LinkClaims("default", "task-1", ALICE, "approved", 2_000_000_000 * US, "nonce-1")


def test_a_link_verifies_as_exactly_what_was_signed() -> None:
    key = link_key("s3cret")
    token = sign_token(key, CLAIMS)
    assert verify_token(key, token, CLAIMS.expires_at - 1) == CLAIMS
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", token)  # safe in a path, as is


@pytest.mark.parametrize(
    "field, value",
    [
        ("namespace", "other"),
        ("task_id", "task-2"),
        ("person", "mallory@acme.test"),
        ("outcome", "rejected"),
        ("expires_at", 2_100_000_000 * US),
        ("nonce", "nonce-2"),
    ],
)
def test_a_link_changed_in_any_part_is_invalid(field: str, value: Any) -> None:
    key = link_key("s3cret")
    signature = sign_token(key, CLAIMS).split(".")[1]
    # The changed claims with the original's signature: what someone editing a token can make.
    forged = sign_token(key, _with(CLAIMS, field, value)).split(".")[0] + "." + signature
    with pytest.raises(LinkInvalid):
        verify_token(key, forged, 0)


def _with(claims: LinkClaims, field: str, value: Any) -> LinkClaims:
    values = {name: getattr(claims, name) for name in LinkClaims.__slots__}
    return LinkClaims(**{**values, field: value})


@pytest.mark.parametrize("token", ["", ".", "abc", "abc.def", "a" * 5000 + ".x", "é.é", "!!.!!"])
def test_garbage_is_an_invalid_link(token: str) -> None:
    with pytest.raises(LinkInvalid):
        verify_token(link_key("s3cret"), token, 0)


def test_a_link_signed_with_another_secret_is_invalid() -> None:
    token = sign_token(link_key("someone else's"), CLAIMS)
    with pytest.raises(LinkInvalid):
        verify_token(link_key("s3cret"), token, 0)


async def test_a_link_expires_after_its_lifetime(store: Store, clock: FakeClock) -> None:
    links = LinkService(store, clock, secret="s3cret", ttl_seconds=3600, public_url="https://x.test/")
    token = await links.sign(links.claims("default", "task-1", ALICE, "approved", nonce="n", at=clock.now))
    assert links.url(token) == f"https://x.test/v1/links/{token}"
    clock.advance(3599)
    assert (await links.verify(token)).outcome == "approved"
    clock.advance(1)
    with pytest.raises(LinkExpired) as expired:
        await links.verify(token)
    assert (expired.value.http_status, expired.value.code) == (410, "link_expired")
    # An expired link that was also changed is reported as invalid: expiry is only told of genuine links.
    payload, signature = token.split(".")
    with pytest.raises(LinkInvalid):
        await links.verify(payload + "." + signature[::-1])


async def test_without_a_configured_secret_every_replica_shares_the_databases(
    database_url: str, clock: FakeClock
) -> None:
    first, second = await open_store(database_url), None
    try:
        one = LinkService(first, clock, secret=None, ttl_seconds=60, public_url="http://x")
        claims = one.claims("default", "task-1", ALICE, "approved", nonce="n", at=clock.now)
        with pytest.raises(LinkInvalid):  # nothing was ever signed: no secret exists to check with
            await one.verify(sign_token(link_key("guess"), claims))
        token = await one.sign(claims)
        if "postgres" in database_url:
            second = await open_store(database_url)
        other = LinkService(second or first, clock, secret=None, ttl_seconds=60, public_url="http://x")
        assert await other.verify(token) == claims
        configured = LinkService(first, clock, secret="s3cret", ttl_seconds=60, public_url="http://x")
        with pytest.raises(LinkInvalid):
            await configured.verify(token)
    finally:
        await first.close()
        if second is not None:
            await second.close()


# -- through the human-task core -------------------------------------------------------------------------


async def test_a_task_mails_its_people_as_it_is_asked_reminded_escalated_and_decided(
    store: Store, clock: FakeClock, mailbox: tuple[Mailbox, str]
) -> None:
    box, smtp_url = mailbox
    engine = engine_with(store, clock, EmailChannel(smtp_url))
    _, secret = await engine.keys.create("tester")
    admin = await engine.keys.authenticate(secret)
    human_task = {
        "title": "Approve the Q3 offsite",
        "assignees": [ALICE],
        "remind_after_seconds": 60,
        "max_reminders": 1,
        "escalate_to": CAROL,
    }
    intent, _ = await engine.intents.submit(admin, task(controls={"human_task": human_task}))
    await engine.notifier.send_due()
    [asked] = box.to(ALICE)
    assert asked["Subject"] == "Your answer is needed: Approve the Q3 offsite"

    clock.advance(60)
    await engine.scheduler.tick()
    await engine.notifier.send_due()
    [_, reminded] = box.to(ALICE)
    assert reminded["Subject"] == "Reminder: Approve the Q3 offsite" and "Reminder 1" in text_of(reminded)
    assert not set(links_in(reminded).values()) & set(links_in(asked).values())  # fresh links

    clock.advance(60)
    await engine.scheduler.tick()
    await engine.notifier.send_due()
    [escalated] = box.to(CAROL)
    assert escalated["Subject"] == "Escalated to you: Approve the Q3 offsite"

    claims = await engine.notifier.links.verify(links_in(escalated)["approved"])
    person = Principal(f"link:{claims.nonce}", claims.namespace, claims.person, "link")
    await engine.tasks.decide(
        person, claims.task_id, Answer("approved", "go", via="link"), link_nonce=claims.nonce
    )
    await engine.notifier.send_due()
    decided = [m for m in box.messages if m["Subject"] == "Decided: Approve the Q3 offsite"]
    assert {m["To"] for m in decided} >= {CAROL}
    assert "Answer: approved by carol@acme.test (go)" in text_of(decided[0])
    assert (await engine.intents.get(admin, intent.intent_id)).status.value == "SUBMITTED"


async def test_people_hear_when_their_task_is_withdrawn(
    store: Store, clock: FakeClock, mailbox: tuple[Mailbox, str]
) -> None:
    box, smtp_url = mailbox
    engine = engine_with(store, clock, EmailChannel(smtp_url))
    _, secret = await engine.keys.create("tester")
    admin = await engine.keys.authenticate(secret)
    human_task = {"title": "Approve the Q3 offsite", "assignees": [ALICE]}
    intent, _ = await engine.intents.submit(admin, task(controls={"human_task": human_task}))
    await engine.intents.cancel(admin, intent.intent_id, "the offsite moved to Q4")
    await engine.notifier.send_due()

    assert sorted(m["Subject"] for m in box.to(ALICE)) == [
        "Withdrawn: Approve the Q3 offsite",
        "Your answer is needed: Approve the Q3 offsite",
    ]
    [withdrawn] = [m for m in box.to(ALICE) if m["Subject"].startswith("Withdrawn")]
    assert "no longer needs an answer" in text_of(withdrawn) and "/v1/links/" not in withdrawn.as_string()
    assert {r["status"] for r in await rows(store)} == {"sent"}
