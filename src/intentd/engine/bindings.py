"""AXP delivery bindings, registered per agent (PROTOCOL.md §4.2): how an agent takes its work.

An agent registered with the ``stream`` binding takes its work from its AXP agent stream, the one the
official SDK's ``listen()`` reads: each SUBMITTED intent the stream is about to send is first leased to
the listener (one transaction per page of the feed), and goes out as DELIVERED with its lease. So
AXME-style agents, which act on DELIVERED intents, work as they do on AXME. They finish with
``resolve_intent`` or ``resume_intent`` (fenced when the body carries the ``lease_token``) and may
heartbeat with intentd's lease API. Expiry and redelivery are those of claims: the scheduler expires the
lease, the intent is queued again with a new feed entry, and the listener sees it again with the next
attempt, until ``max_delivery_attempts``.

The binding is read with every page that holds work, after the page: a stream opened before the
binding was registered leases from then on, and work that commits with its binding (an applied
ScenarioBundle's first step) is leased when it is read.

Registration is explicit, so reading a feed never takes work by accident: without a binding (or with
``poll``) the stream is a feed that leases nothing, and claims and held streams get the work. A bound
stream sends SUBMITTED and DELIVERED entries only as the listener's own deliveries: an intent a worker
claimed meanwhile is not sent to it as DELIVERED.

Which entry delivers: an intent queued again gets a new feed entry, so a feed may hold several entries
of one intent. Only the entry that queued its current attempt (written at its ``queued_at``) delivers
it; earlier ones are passed over. That entry then stands for the lease: a listener that reads it again
(a reconnect from an earlier ``since``, an agent restarted from 0) gets its open lease again
(``resumed``), never a second lease, and a reconnect from the last ``seq`` it saw reads past it.
Leases belong to the API key that listens (``listener:<key name>``), not to the connection: a dropped
stream releases nothing, and its leases expire as claimed ones do.

An agent registered with the ``http`` binding gives a callback URL (and a secret, or is given one,
shown once): each intent queued for it is POSTed there from the outbox, and a 2xx leases it to the
agent (``engine/webhooks``, docs/webhooks.md). Its agent stream is a feed, as with ``poll``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from intentd.model import EventType, Intent, Lease, Micros, Status, ValidationFailed
from intentd.store import FeedItem, Store, Tx

from . import audit
from ._change import Change
from .access import act_for
from .inputs import Principal
from .recorder import Recorder
from .webhooks import WebhookService, new_secret

Clock = Callable[[], Micros]
STREAM, POLL, HTTP = "stream", "poll", "http"
DELIVERY_MODES = (STREAM, POLL, HTTP)
DEFAULT_LEASE_SECONDS = 30.0
MAX_LEASE_SECONDS = 3600.0
_US = 1_000_000
# The entries of a bound stream that are deliveries: work still queued, or a lease already taken.
_DELIVERIES = frozenset({Status.SUBMITTED.value, Status.DELIVERED.value})


@dataclass(frozen=True, slots=True)
class BindAgent:
    """Register ``address``'s delivery binding. ``lease_seconds`` None keeps the lease length
    registered before (the default for a new binding): a ScenarioBundle names only the mode."""

    address: str
    delivery_mode: str
    lease_seconds: float | None = None
    callback_url: str | None = None  # the http binding's (required with it)
    secret: str | None = None  # the http binding's; None: one is generated and returned once


@dataclass(frozen=True, slots=True)
class Binding:
    """An agent's delivery binding; ``delivery_mode`` None: it never registered one. ``secret`` is
    set only in the answer of the registration that generated it."""

    address: str
    delivery_mode: str | None = None
    lease_seconds: float | None = None
    created_at: Micros | None = None
    updated_at: Micros | None = None
    callback_url: str | None = None
    secret: str | None = None

    @property
    def leases(self) -> bool:
        """Its agent stream leases what it sends."""
        return self.delivery_mode == STREAM


@dataclass(frozen=True, slots=True)
class FeedDelivery:
    """A feed entry as a bound stream sends it. With ``lease`` it is the listener's delivery (the
    item DELIVERED); ``resumed``: a lease taken before, its entry read again."""

    item: FeedItem
    lease: Lease | None = None
    resumed: bool = False


class BindingService:
    def __init__(self, store: Store, clock: Clock, recorder: Recorder, webhooks: WebhookService) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self._webhooks = webhooks

    async def bind(self, principal: Principal, req: BindAgent) -> Binding:
        """Register (or change) the agent's binding; streams of the agent open now apply it from the
        next page of its feed they read. The http binding's callback URL is checked first
        (docs/webhooks.md, "Callback URLs")."""
        act_for(principal, req.address)
        check(req)  # an http binding without a callback_url among the rest
        callback = req.callback_url if req.delivery_mode == HTTP else None
        generated = None
        if callback is not None:
            await self._webhooks.check_callback(callback)
            generated = None if req.secret else new_secret()

        async def unit(tx: Tx) -> Binding:
            await register(tx, principal.namespace, req, self._clock())
            if callback is not None:
                secret = req.secret or generated or ""
                await self._webhooks.put_callback(tx, principal.namespace, req.address, callback, secret)
            bound = await _read(tx, principal.namespace, req.address)
            details = {"delivery_mode": bound.delivery_mode, "lease_seconds": bound.lease_seconds}
            if bound.callback_url is not None:  # where its work goes; the secret never
                details["callback_url"] = bound.callback_url
            audit.record(
                tx,
                principal.namespace,
                self._clock(),
                "agent.binding_registered",
                agent=req.address,
                details=details,
            )
            return bound

        return replace(await self._store.write(unit), secret=generated)

    async def binding(self, principal: Principal, address: str) -> Binding:
        return await read_binding(self._store, principal.namespace, address)

    def listener(self, principal: Principal, agent: str) -> Listener:
        """What one connection of ``agent``'s stream sends of its feed: leased deliveries while
        ``agent`` is registered with the ``stream`` binding, the feed as it is otherwise."""
        act_for(principal, agent)
        owner = f"listener:{principal.name}"
        return Listener(self._store, self._clock, self._recorder, principal.namespace, agent, owner)


class Listener:
    """One connection of an agent's stream: leases what it is about to send while the agent is
    registered with the ``stream`` binding."""

    def __init__(
        self, store: Store, clock: Clock, recorder: Recorder, namespace: str, agent: str, owner: str
    ) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self.namespace = namespace
        self.agent = agent
        self.owner = owner
        # Intent id -> lease token sent on this connection: two entries of one intent written in
        # the same microsecond both look current, and the second must not send the lease again.
        self._sent: dict[str, str] = {}

    async def deliver(self, items: Sequence[FeedItem]) -> list[FeedDelivery]:
        """``items`` as the stream sends them. While the agent is bound: its SUBMITTED intents leased
        to the listener, its open leases at the entry that delivered them, replies and intents in
        other statuses as they are; entries of intents that another holder took, or that a later
        entry delivers, left out. Unbound: the items as they are."""
        candidates = [item for item in items if item.status in _DELIVERIES]
        binding = await self._binding() if candidates else None
        if binding is None or not binding.leases or binding.lease_seconds is None:
            return [FeedDelivery(item) for item in items]
        lease_seconds = binding.lease_seconds
        decided = await self._store.write(lambda tx: self._lease(tx, candidates, lease_seconds))
        sent = []
        for item in items:
            if item.seq not in decided:
                sent.append(FeedDelivery(item))
                continue
            delivery = decided[item.seq]
            if delivery is None:
                continue
            if delivery.lease is not None:
                if self._sent.get(item.intent_id) == delivery.lease.token:
                    continue
                self._sent[item.intent_id] = delivery.lease.token
            sent.append(delivery)
        return sent

    async def _binding(self) -> Binding:
        # Read after the feed, on every page with work in it: a binding that commits with the work
        # (an applied ScenarioBundle's, whose first step may go to this agent) is seen with it, and
        # a stream opened before the binding was registered leases from then on.
        return await read_binding(self._store, self.namespace, self.agent)

    async def _lease(
        self, tx: Tx, items: list[FeedItem], lease_seconds: float
    ) -> dict[int, FeedDelivery | None]:
        now, decided = self._clock(), {}
        for item in items:
            # Locked only where a lease may be written; a DELIVERED one is only read.
            intent = await tx.get_intent(item.intent_id, for_update=item.status == Status.SUBMITTED.value)
            decided[item.seq] = await self._decide(tx, item, intent, lease_seconds, now)
        return decided

    async def _decide(
        self, tx: Tx, item: FeedItem, intent: Intent | None, lease_seconds: float, now: Micros
    ) -> FeedDelivery | None:
        if intent is None or intent.to_agent != self.agent:
            return FeedDelivery(item)  # not a delivery to this agent: the feed's entry as it is
        if intent.queued_at != item.at:
            return None  # an earlier entry: the one that queued the intent now delivers it
        if intent.status is Status.SUBMITTED:
            change = Change(intent)
            change.lease(self.owner, lease_seconds, now)
            return _delivered(item, await self._recorder.record(tx, change), resumed=False)
        if (
            intent.status is Status.DELIVERED
            and intent.lease is not None
            and intent.lease.owner == self.owner
        ):
            return _delivered(item, intent, resumed=True)
        return None  # taken by a claim (or another listener) meanwhile, or moved on since the read


async def read_binding(store: Store, namespace: str, address: str) -> Binding:
    return await store.read(lambda tx: _read(tx, namespace, address))


async def _read(tx: Tx, namespace: str, address: str) -> Binding:
    binding = _binding(address, await tx.agent_binding(namespace, address))
    if binding.delivery_mode != HTTP:
        return binding
    callback = await tx.agent_callback(namespace, address)
    return replace(binding, callback_url=callback["callback_url"] if callback else None)


async def register(tx: Tx, namespace: str, req: BindAgent, now: Micros) -> None:
    """Write ``req`` in the caller's transaction (an applied ScenarioBundle registers the bindings
    of its agents with its run)."""
    check(req)
    if req.lease_seconds is not None:
        lease_micros = int(req.lease_seconds * _US)
    else:
        registered = await tx.agent_binding(namespace, req.address)
        lease_micros = registered["lease_micros"] if registered else int(DEFAULT_LEASE_SECONDS * _US)
    await tx.put_agent_binding(namespace, req.address, req.delivery_mode, lease_micros, now)


def check(req: BindAgent) -> None:
    if req.delivery_mode not in DELIVERY_MODES:
        raise ValidationFailed(
            f"delivery_mode must be one of {', '.join(DELIVERY_MODES)}",
            details={"field": "delivery_mode", "allowed": list(DELIVERY_MODES)},
        )
    if req.delivery_mode == HTTP and not req.callback_url:
        raise ValidationFailed("the http binding needs a callback_url", details={"field": "callback_url"})
    if req.secret is not None and not 16 <= len(req.secret) <= 128:
        raise ValidationFailed("secret must be 16 to 128 characters", details={"field": "secret"})
    if req.lease_seconds is not None and not 0 < req.lease_seconds <= MAX_LEASE_SECONDS:
        raise ValidationFailed(
            f"lease_seconds must be more than 0 and at most {MAX_LEASE_SECONDS:g}",
            details={"field": "lease_seconds"},
        )


def _delivered(item: FeedItem, intent: Intent, *, resumed: bool) -> FeedDelivery:
    assert intent.lease is not None  # leased just now, or checked by the caller
    sent = replace(item, status=Status.DELIVERED.value, event_type=EventType.DELIVERED.value)
    return FeedDelivery(sent, intent.lease, resumed)


def _binding(address: str, row: dict[str, Any] | None) -> Binding:
    if row is None:
        return Binding(address)
    return Binding(
        address,
        row["delivery_mode"],
        row["lease_micros"] / _US,
        row["created_at"],
        row["updated_at"],
    )
