"""HTTP push delivery and webhook subscriptions on both backends, against a real HTTP receiver (a
stdlib server in a thread, reached over TCP): what each POST carries and how it is signed, the
lease a 2xx gives a pushed intent, retries with backoff (the FakeClock moves time) then the dead
letter and its replay, subscriptions' owners and event types, revocation, the stable event id of
an event sent twice, and which callback URLs are refused."""

from __future__ import annotations

from typing import Any

import pytest

from intentd.engine import Engine, Principal
from intentd.engine.audit import acting_as
from intentd.engine.bindings import BindAgent
from intentd.engine.inputs import Resolve
from intentd.engine.notify import RetryPolicy
from intentd.engine.webhooks import (
    LIFECYCLE_SOURCE,
    PublishEvent,
    UpsertSubscription,
    WebhookConfig,
    check_callback,
)
from intentd.model import CallbackRefused, Conflict, Status
from intentd.store import Store
from intentd.webhooks import verify
from tests._support.engine import AGENT, US, FakeClock, task
from tests._support.receiver import Receiver, receiver

SECRET = "whsec-test-0123456789"
RETRY = RetryPolicy(max_attempts=3, first_retry_seconds=10, max_retry_seconds=60)
receiver = receiver  # the fixture


@pytest.fixture
def engine(store: Store, clock: FakeClock) -> Engine:
    """An engine that may POST to the receiver on 127.0.0.1, retrying at the top of each backoff
    window (no jitter), so the test knows when a retry is due."""
    config = WebhookConfig(allow_private=True, retry=RETRY, targets_ttl_seconds=0)
    made = Engine(store, clock, webhooks=config)
    made.notifier._jitter = lambda: 1.0
    return made


async def subscribe(engine: Engine, principal: Principal, url: str, *types: str, **more: Any) -> str:
    req = UpsertSubscription(url, types or ("intent.*",), secret=SECRET, **more)
    return (await engine.webhooks.upsert(principal, req)).subscription.subscription_id


async def outbox(store: Store, principal: Principal, status: str) -> list[dict[str, Any]]:
    return await store.read(lambda tx: tx.outbox_deliveries(principal.namespace, status, 100))


# -- webhook subscriptions -----------------------------------------------------------------------------


async def test_lifecycle_events_reach_a_subscription_signed_with_a_stable_event_id(
    engine: Engine, principal: Principal, receiver: Receiver, clock: FakeClock
) -> None:
    sub_id = await subscribe(engine, principal, receiver.url, "intent.created", "intent.completed")
    intent, _ = await engine.intents.submit(principal, task())
    await engine.intents.resolve(principal, intent.intent_id, Resolve("COMPLETED", result={"ok": 1}))

    assert await engine.notifier.send_due() == 2
    # Sent concurrently: they may arrive in any order, which the intent's event seq restores.
    posts = sorted(receiver.wait_for(2), key=lambda p: p.json["payload"]["event"]["seq"])
    assert [p.json["event_type"] for p in posts] == ["intent.created", "intent.completed"]
    for post in posts:
        verify(SECRET, post.body, post.headers, now=clock.now / US)
        sent = post.json
        assert sent["subscription_id"] == sub_id and sent["source"] == LIFECYCLE_SOURCE
        assert post.headers["X-Intentd-Event-Id"] == sent["event_id"]
        assert sent["payload"]["intent_id"] == intent.intent_id
        assert "lease_token" not in post.body.decode()  # a subscriber watches; it holds no lease
    completed = posts[1].json
    assert completed["payload"]["event"]["details"]["result"] == {"ok": 1}

    report = await engine.webhooks.replay(principal, completed["event_id"])
    assert (report.queued_deliveries, report.delivered) == (1, 1)
    await engine.notifier.send_due()
    again = receiver.wait_for(3)[2]
    assert again.json["event_id"] == completed["event_id"]  # a receiver drops the copy by its id
    assert again.json["delivery_id"] != completed["delivery_id"]
    counted = await engine.webhooks.event(principal, completed["event_id"])
    assert (counted.delivered, counted.pending, counted.dead_lettered) == (2, 0, 0)


async def test_a_subscription_gets_only_the_event_types_it_lists(
    engine: Engine, principal: Principal, receiver: Receiver
) -> None:
    await subscribe(engine, principal, receiver.url, "intent.canceled")
    intent, _ = await engine.intents.submit(principal, task())
    await engine.intents.cancel(principal, intent.intent_id, "not needed")
    await engine.notifier.send_due()

    assert [p.json["event_type"] for p in receiver.wait_for(1)] == ["intent.canceled"]
    assert len(receiver.received) == 1


async def test_a_published_event_goes_to_its_owner_s_subscriptions_only(
    engine: Engine, principal: Principal, receiver: Receiver
) -> None:
    mine = await subscribe(engine, principal, receiver.url, "invoice.paid", owner_agent="agent://acme/t/a")
    await subscribe(
        engine, principal, receiver.url + "/other", "invoice.paid", owner_agent="agent://acme/t/b"
    )

    report = await engine.webhooks.publish(
        principal, PublishEvent("invoice.paid", "billing", {"amount": 12}, "agent://acme/t/a")
    )
    assert report.queued_deliveries == 1
    await engine.notifier.send_due()

    [post] = receiver.wait_for(1)
    assert (post.json["subscription_id"], post.json["payload"]) == (mine, {"amount": 12})
    assert post.json["event_id"] == report.event.event_id


async def test_an_upsert_changes_the_owner_s_subscription_to_the_same_url(
    engine: Engine, principal: Principal, receiver: Receiver
) -> None:
    first = await engine.webhooks.upsert(principal, UpsertSubscription(receiver.url, ("intent.created",)))
    assert first.secret is not None and len(first.secret) >= 32  # generated, shown this once
    second = await engine.webhooks.upsert(
        principal, UpsertSubscription(receiver.url, ("intent.completed",), description="done")
    )

    assert second.subscription.subscription_id == first.subscription.subscription_id
    assert second.secret is None  # the secret stays, and is not shown again
    assert second.subscription.secret == first.secret
    [listed] = await engine.webhooks.subscriptions(principal)
    assert (listed.event_types, listed.description) == (("intent.completed",), "done")


async def test_a_revoked_subscription_gets_nothing_more_not_even_what_was_queued(
    engine: Engine, principal: Principal, receiver: Receiver
) -> None:
    sub_id = await subscribe(engine, principal, receiver.url)
    first, _ = await engine.intents.submit(principal, task())  # queued before the revocation
    revoked = await engine.webhooks.revoke(principal, sub_id)
    assert revoked.revoked_at is not None and not revoked.active

    await engine.notifier.send_due()
    await engine.intents.submit(principal, task())
    await engine.notifier.send_due()

    assert receiver.received == []
    dead = await outbox(engine.store, principal, "dead")  # the first intent's events, none since
    assert {d["notice"]["payload"]["intent_id"] for d in dead} == {first.intent_id}
    assert all("revoked" in d["last_error"] and d["attempts"] == 1 for d in dead)
    assert await engine.webhooks.subscriptions(principal) == []
    [kept] = await engine.webhooks.subscriptions(principal, include_inactive=True)
    assert kept.revoked_at == revoked.revoked_at  # revocation keeps the row


async def test_a_failing_subscriber_is_retried_with_backoff_then_dead_lettered_and_replayed(
    engine: Engine, principal: Principal, receiver: Receiver, clock: FakeClock
) -> None:
    await subscribe(engine, principal, receiver.url, "intent.created")
    receiver.status = 503
    await engine.intents.submit(principal, task())

    for wait in (0, 10, 20):  # doubling from 10 s, three attempts in all
        clock.advance(wait - 1 if wait else 0)
        if wait:
            assert await engine.notifier.send_due() == 0  # not due yet
            clock.advance(1)
        assert await engine.notifier.send_due() == 1
    clock.advance(3600)
    assert await engine.notifier.send_due() == 0

    [dead] = await engine.webhooks.deliveries(principal, "dead")
    assert (dead["attempts"], dead["last_error"]) == (3, "callback answered HTTP 503")
    ids = {p.json["event_id"] for p in receiver.wait_for(3)}
    assert [p.headers["X-Intentd-Attempt"] for p in receiver.received] == ["1", "2", "3"]
    assert len(ids) == 1  # every attempt carries the same event

    receiver.status = 200
    replayed = await engine.webhooks.replay_delivery(principal, dead["notification_id"])
    assert (replayed["status"], replayed["attempts"]) == ("pending", 0)
    with pytest.raises(Conflict):  # only a dead letter is replayed
        await engine.webhooks.replay_delivery(principal, dead["notification_id"])
    assert await engine.notifier.send_due() == 1
    assert receiver.wait_for(4)[3].json["event_id"] in ids
    assert await engine.webhooks.deliveries(principal, "dead") == []


# -- HTTP push delivery (the http binding) ---------------------------------------------------------------


async def bind_http(engine: Engine, principal: Principal, url: str, **more: Any) -> None:
    await engine.bindings.bind(principal, BindAgent(AGENT, "http", 60, url, SECRET, **more))


async def test_an_http_bound_agent_gets_its_intent_posted_and_a_2xx_leases_it(
    engine: Engine, principal: Principal, receiver: Receiver, clock: FakeClock
) -> None:
    await bind_http(engine, principal, receiver.url)
    intent, _ = await engine.intents.submit(principal, task(payload={"topic": "push"}))
    assert await engine.notifier.send_due() == 1

    [post] = receiver.wait_for(1)
    verify(SECRET, post.body, post.headers, now=clock.now / US)
    assert post.json["intent_id"] == intent.intent_id
    assert post.json["intent"]["payload"] == {"topic": "push"}
    leased = await engine.intents.get(principal, intent.intent_id)
    assert leased.status is Status.DELIVERED
    assert leased.lease is not None and leased.lease.owner == f"http:{AGENT}"
    assert leased.lease.expires_at == clock.now + 60 * US  # the binding's lease length

    done, _ = await engine.intents.resolve(principal, intent.intent_id, Resolve("COMPLETED", result={}))
    assert done.status is Status.COMPLETED  # the agent finishes it through the API


async def test_a_pushed_intent_whose_lease_runs_out_is_pushed_again_then_failed(
    engine: Engine, principal: Principal, receiver: Receiver, clock: FakeClock
) -> None:
    await bind_http(engine, principal, receiver.url)  # leases of 60 s
    intent, _ = await engine.intents.submit(principal, task(max_delivery_attempts=2))
    await engine.notifier.send_due()
    clock.advance(61)  # the agent took it (2xx) and never finished it
    await engine.scheduler.tick()

    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.SUBMITTED
    assert await engine.notifier.send_due() == 1  # queued again: pushed again
    posts = receiver.wait_for(2)
    assert [p.json["intent"]["delivery_attempt"] for p in posts] == [0, 1]
    again = await engine.intents.get(principal, intent.intent_id)
    assert (again.status, again.delivery_attempt) == (Status.DELIVERED, 2)
    clock.advance(61)
    await engine.scheduler.tick()
    failed = await engine.intents.get(principal, intent.intent_id)
    assert failed.status is Status.FAILED  # its attempts used up, as a claimed intent's would be


async def test_a_push_that_fails_is_retried_up_to_the_intent_s_attempts_then_dead_and_replayable(
    engine: Engine, principal: Principal, receiver: Receiver, clock: FakeClock
) -> None:
    await bind_http(engine, principal, receiver.url)
    receiver.status = 500
    intent, _ = await engine.intents.submit(principal, task(max_delivery_attempts=2))
    await engine.notifier.send_due()
    clock.advance(10)
    await engine.notifier.send_due()
    clock.advance(3600)
    assert await engine.notifier.send_due() == 0  # two attempts: the intent's own limit, not 3

    [dead] = await engine.webhooks.deliveries(principal, "dead")
    assert (dead["channel"], dead["subject"], dead["attempts"]) == ("http", intent.intent_id, 2)
    waiting = await engine.intents.get(principal, intent.intent_id)
    assert waiting.status is Status.SUBMITTED  # still there for a claim, a stream or the replay

    receiver.status = 200
    await engine.webhooks.replay_delivery(principal, dead["notification_id"])
    await engine.notifier.send_due()
    assert len(receiver.wait_for(3)) == 3
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.DELIVERED


async def test_a_push_acknowledged_after_the_intent_moved_on_leases_nothing(
    engine: Engine, principal: Principal, receiver: Receiver
) -> None:
    await bind_http(engine, principal, receiver.url)
    intent, _ = await engine.intents.submit(principal, task())
    await engine.intents.cancel(principal, intent.intent_id, "changed my mind")  # before the POST
    await engine.notifier.send_due()

    receiver.wait_for(1)
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.CANCELED
    row = (await outbox(engine.store, principal, "sent"))[0]
    with pytest.raises(Conflict):  # and an ended intent's push is no dead letter to replay
        await engine.webhooks.replay_delivery(principal, row["notification_id"])


async def test_a_dead_push_of_an_ended_intent_is_not_replayed(
    engine: Engine, principal: Principal, receiver: Receiver, clock: FakeClock
) -> None:
    await bind_http(engine, principal, receiver.url)
    receiver.status = 500
    intent, _ = await engine.intents.submit(principal, task(max_delivery_attempts=1))
    await engine.notifier.send_due()
    await engine.intents.cancel(principal, intent.intent_id, "given up")
    [dead] = await engine.webhooks.deliveries(principal, "dead")

    with pytest.raises(Conflict) as refused:
        await engine.webhooks.replay_delivery(principal, dead["notification_id"])
    assert refused.value.details["intent_id"] == intent.intent_id


async def test_a_generated_push_secret_is_returned_once_and_signs_the_posts(
    engine: Engine, principal: Principal, receiver: Receiver, clock: FakeClock
) -> None:
    bound = await engine.bindings.bind(principal, BindAgent(AGENT, "http", callback_url=receiver.url))
    assert bound.secret is not None and bound.callback_url == receiver.url
    assert (await engine.bindings.binding(principal, AGENT)).secret is None  # never shown again
    await engine.intents.submit(principal, task())
    await engine.notifier.send_due()

    verify(bound.secret, (post := receiver.wait_for(1)[0]).body, post.headers, now=clock.now / US)


# -- callback URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "https://user:pass@hooks.example.com/x",
        "https://hooks.example.com/x#frag",
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",  # the cloud metadata address
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://localhost/hook",  # a name that resolves to loopback
        "https:///nohost",
    ],
)
async def test_a_callback_url_intentd_must_not_post_to_is_refused(url: str) -> None:
    with pytest.raises(CallbackRefused) as refused:
        await check_callback(url, allow_private=False, resolve=True)
    assert refused.value.details == {"field": "callback_url"}


async def test_private_addresses_pass_when_the_operator_allows_them_and_public_ones_always() -> None:
    await check_callback("http://127.0.0.1:8080/hook", allow_private=True, resolve=True)
    await check_callback("https://93.184.215.14/hook", allow_private=False, resolve=True)
    with pytest.raises(CallbackRefused):  # credentials are refused even then: they would be stored
        await check_callback("https://u:p@127.0.0.1/hook", allow_private=True, resolve=True)


async def test_a_refused_subscription_or_binding_leaves_nothing_behind(
    store: Store, clock: FakeClock, principal: Principal
) -> None:
    strict = Engine(store, clock)  # the default: private addresses refused
    with pytest.raises(CallbackRefused):
        await strict.webhooks.upsert(principal, UpsertSubscription("http://127.0.0.1:9/h", ("intent.*",)))
    with pytest.raises(CallbackRefused):
        await strict.bindings.bind(principal, BindAgent(AGENT, "http", callback_url="http://127.0.0.1:9/h"))

    assert await strict.webhooks.subscriptions(principal, include_inactive=True) == []
    assert (await strict.bindings.binding(principal, AGENT)).delivery_mode is None


# -- the audit trail -------------------------------------------------------------------------------------


async def test_subscriptions_bindings_and_replays_are_audited_without_their_secrets(
    engine: Engine, principal: Principal, receiver: Receiver
) -> None:
    acting_as(principal)
    sub_id = await subscribe(engine, principal, receiver.url, "a.b")
    await subscribe(engine, principal, receiver.url, "a.b", "c.d")
    await engine.webhooks.revoke(principal, sub_id)
    await bind_http(engine, principal, receiver.url)
    receiver.status = 500
    await engine.intents.submit(principal, task(max_delivery_attempts=1))
    await engine.notifier.send_due()
    [dead] = await engine.webhooks.deliveries(principal, "dead")
    await engine.webhooks.replay_delivery(principal, dead["notification_id"])

    records = await engine.audit.list(principal, limit=500)
    by_action = {r.action: r for r in records}
    assert [r.action for r in records if r.action.split(".")[0] in ("webhook", "agent")] == [
        "webhook.subscription_created",
        "webhook.subscription_changed",
        "webhook.subscription_revoked",
        "agent.binding_registered",
        "webhook.delivery_replayed",
    ]
    assert by_action["webhook.subscription_changed"].details["event_types"] == ["a.b", "c.d"]
    bound = by_action["agent.binding_registered"]
    assert (bound.agent, bound.details["callback_url"]) == (AGENT, receiver.url)
    replayed = by_action["webhook.delivery_replayed"]
    assert (replayed.intent_id, replayed.principal) == (dead["subject"], principal.name)
    assert SECRET not in repr(records)
    assert (await engine.audit.verify(principal.namespace)).broken_at is None
