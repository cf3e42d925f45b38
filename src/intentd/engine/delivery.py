"""Delivery to agents (ARCHITECTURE.md §5): at-least-once, with leases and fencing.

A claim hands out ``(lease_token, lease_expires_at, delivery_attempt)``; heartbeats extend the lease;
complete / fail / release / wait must present the current token, so a zombie worker can never overwrite
a newer attempt. Claims are long polls: a waiting claim is woken the moment work for its agent commits
(in-process, or through LISTEN/NOTIFY from another replica), so there is no polling delay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

from intentd.model import (
    EventType,
    Intent,
    Micros,
    Status,
    ValidationFailed,
    WaitingReason,
)
from intentd.store import FeedItem, Store, Subscription, Tx, agent_key

from ._change import Change, check_lease
from .access import act_for, act_on
from .dispatch import Dispatcher, Waiter
from .humans.answers import ask
from .inputs import Claim, Complete, Fail, Principal, SubmitIntent, Wait
from .intents import load, submit_in
from .mesh import DeliveryGate, MeshService
from .recorder import Recorder

Clock = Callable[[], Micros]
_MAX_CLAIM = 100


@dataclass(frozen=True, slots=True)
class Completion:
    intent: Intent
    then: list[Intent]
    replayed: bool = False


class DeliveryService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        recorder: Recorder,
        dispatcher: Dispatcher,
        gate: DeliveryGate,
        mesh: MeshService,
    ) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self._dispatcher = dispatcher
        self._gate = gate
        self._mesh = mesh

    async def claim(self, principal: Principal, req: Claim) -> list[Intent]:
        """Lease up to ``max_intents`` SUBMITTED intents for ``req.agent``; wait up to
        ``wait_seconds`` for one to arrive if none is ready. While it waits, work submitted in this
        process is handed to it directly (see dispatch.py); other replicas' work wakes it by NOTIFY."""
        if not 1 <= req.max_intents <= _MAX_CLAIM:
            raise ValidationFailed(f"max_intents must be 1..{_MAX_CLAIM}", details={"field": "max_intents"})
        act_for(principal, req.agent)
        ns = principal.namespace
        await self._mesh.worker_seen(ns, (req.agent,), req.worker, "claim")
        deadline = time.monotonic() + max(req.wait_seconds, 0.0)
        waiter = Waiter(ns, req)
        with (
            self._store.hub.subscribe(agent_key(ns, req.agent)) as wake,
            self._dispatcher.waiting(waiter),
        ):
            while not waiter.leased:
                # A killed agent is leased nothing: the claim waits (resume wakes it).
                if not self._gate.killed(ns, req.agent) and await self._has_work(ns, req.agent):
                    waiter.leased += await self._store.write(lambda tx: self._lease(tx, waiter))
                    if waiter.leased:
                        break
                remaining = deadline - time.monotonic()
                # The writer publishes the agent's key after every commit that queued work for it,
                # including a handoff to this waiter (settled just before the publish).
                if remaining <= 0 or not await wake.wait(remaining):
                    break
        await waiter.drain()  # an offer reserved just before closing lands in this answer
        return waiter.leased

    async def _has_work(self, namespace: str, agent: str) -> bool:
        return bool(await self._store.read(lambda tx: tx.claimable_intents(namespace, agent, 1)))

    async def _lease(self, tx: Tx, waiter: Waiter) -> list[Intent]:
        now, req = self._clock(), waiter.claim
        leased: list[Intent] = []
        for intent in await tx.claimable_intents(waiter.namespace, req.agent, waiter.room):
            if await self._gate.holds(tx, intent, now):
                break  # killed while the claim read, or a policy holds it back: it stays queued
            change = Change(intent)
            change.lease(req.worker, req.lease_seconds, now)
            leased.append(await self._recorder.record(tx, change))
        return leased

    async def heartbeat(
        self, principal: Principal, intent_id: str, token: str, lease_seconds: float
    ) -> Intent:
        """Extend a lease. Answers 409 once the intent was canceled or re-leased: stop working."""

        async def unit(tx: Tx) -> Intent:
            intent = await load(tx, principal, intent_id)
            act_on(principal, intent)
            check_lease(intent, token)
            expires = self._clock() + int(lease_seconds * 1_000_000)
            await tx.extend_lease(intent_id, token, expires)
            assert intent.lease is not None
            return _with_expiry(intent, expires)

        extended = await self._store.write(unit)
        assert extended.lease is not None
        # A worker extending its lease is alive: the fleet sees it, the unreachable sweep spares it.
        await self._mesh.worker_seen(extended.namespace, (extended.to_agent,), extended.lease.owner, None)
        return extended

    async def complete(self, principal: Principal, intent_id: str, req: Complete) -> Completion:
        """Complete a leased intent and, in the same transaction, submit its follow-ups (``then``):
        a handoff costs one round trip and one commit."""

        async def unit(tx: Tx) -> Completion:
            intent = await load(tx, principal, intent_id, for_update=True)
            act_on(principal, intent)
            if intent.is_terminal:
                replay = await _replayed_completion(tx, intent, req.lease_token)
                if replay is not None:
                    return replay  # a retried completion: the same answer again
            check_lease(intent, req.lease_token)
            now = self._clock()
            children = []
            for spec in req.then:
                child, _ = await submit_in(
                    tx,
                    self._recorder,
                    principal,
                    _inherit(spec, intent),
                    now,
                    root_intent_id=intent.root_intent_id or intent.intent_id,
                )
                children.append(child)
            # The completion event names the follow-ups: the audit trail shows the handoff, and a
            # retried completion can answer with the same follow-ups.
            details = {
                "result": req.result or {},
                "lease_token": req.lease_token,
                "then": [child.intent_id for child in children],
            }
            if req.usage:
                details["usage"] = req.usage
            change = Change(intent)
            change.step(EventType.COMPLETED, Status.COMPLETED, intent.to_agent, now, details=details)
            return Completion(await self._recorder.record(tx, change), children)

        return await self._store.write(unit)

    async def fail(self, principal: Principal, intent_id: str, req: Fail) -> Intent:
        """Fail a leased intent; with ``retry`` it is queued again while delivery attempts remain."""

        async def unit(tx: Tx) -> Intent:
            intent = await load(tx, principal, intent_id, for_update=True)
            act_on(principal, intent)
            check_lease(intent, req.lease_token)
            change, now = Change(intent), self._clock()
            details = {"error": req.error, "lease_token": req.lease_token}
            if req.usage:
                details["usage"] = req.usage
            if not (req.retry and intent.delivery_attempt < intent.max_delivery_attempts):
                change.step(EventType.FAILED, Status.FAILED, intent.to_agent, now, details=details)
                return await self._recorder.record(tx, change)
            if req.retry_after_seconds <= 0:
                change.step(
                    EventType.RELEASED,
                    Status.SUBMITTED,
                    intent.to_agent,
                    now,
                    details={**details, "retry": True},
                )
                return await self._recorder.record(tx, change)
            # Backoff is a durable wait: a timer row, no worker or lease held meanwhile.
            wake_at = now + int(req.retry_after_seconds * 1_000_000)
            change.step(
                EventType.WAITING,
                Status.WAITING,
                intent.to_agent,
                now,
                waiting_reason=WaitingReason.TIME,
                details={**details, "retry": True, "wake_at": wake_at},
            )
            return await self._recorder.record(tx, change)  # the WakeUp effect arms the timer

        return await self._store.write(unit)

    async def release(self, principal: Principal, intent_id: str, token: str) -> Intent:
        """Give a leased intent back at once (graceful shutdown), instead of after lease expiry."""

        async def unit(tx: Tx) -> Intent:
            intent = await load(tx, principal, intent_id, for_update=True)
            act_on(principal, intent)
            check_lease(intent, token)
            change = Change(intent)
            change.step(
                EventType.RELEASED,
                Status.SUBMITTED,
                intent.to_agent,
                self._clock(),
                details={"lease_token": token},
            )
            return await self._recorder.record(tx, change)

        return await self._store.write(unit)

    async def wait(self, principal: Principal, intent_id: str, req: Wait) -> Intent:
        """Park a leased intent in WAITING (the lease ends: a parked wait holds no worker); with a
        ``human_task``, on a person's answer (``humans/``)."""
        if req.human_task is not None and req.reason != WaitingReason.HUMAN.value:
            raise ValidationFailed("a human_task waits WAITING_FOR_HUMAN", details={"field": "reason"})
        try:
            reason = WaitingReason(req.reason)
        except ValueError:
            raise ValidationFailed(
                "unknown waiting reason",
                details={"field": "reason", "allowed": [r.value for r in WaitingReason]},
            ) from None

        async def unit(tx: Tx) -> Intent:
            intent = await load(tx, principal, intent_id, for_update=True)
            act_on(principal, intent)
            check_lease(intent, req.lease_token)
            change = Change(intent)
            if req.human_task is not None:  # the agent asks a person (ctx.ask_human)
                ask(change, req.human_task, intent.to_agent, self._clock(), journal_key=req.key)
                return await self._recorder.record(tx, change)
            change.step(
                EventType.WAITING,
                Status.WAITING,
                intent.to_agent,
                self._clock(),
                waiting_reason=reason,
                details={**req.details, "wake_at": req.wake_at},
            )
            return await self._recorder.record(tx, change)  # with wake_at, WakeUp arms a timer

        return await self._store.write(unit)

    async def progress(
        self,
        principal: Principal,
        intent_id: str,
        token: str | None,
        message: str | None,
        usage: dict[str, float] | None,
        tool: str | None = None,
    ) -> Intent:
        """Record progress (and usage, and a tool call) as an event; the status does not change. A
        tool the agent's policy does not allow is refused (403 ``policy_denied``) and not recorded."""

        async def unit(tx: Tx) -> Intent:
            intent = await load(tx, principal, intent_id, for_update=True)
            act_on(principal, intent)
            if token is not None:
                check_lease(intent, token)
            details: dict[str, object] = {"message": message}
            if tool is not None:
                self._gate.policies.check_tool(intent.namespace, intent.to_agent, tool)
                details["tool"] = tool
            if usage:
                details["usage"] = usage
            change = Change(intent)
            change.step(EventType.PROGRESS, intent.status, intent.to_agent, self._clock(), details=details)
            return await self._recorder.record(tx, change)

        return await self._store.write(unit)

    def check_feed(self, principal: Principal, address: str) -> None:
        """Refuse, before a stream opens, a caller who may not read ``address``'s feed (an agent key
        reads its own agents' feeds only)."""
        act_for(principal, address)

    def watch_feed(self, principal: Principal, address: str) -> AbstractContextManager[Subscription]:
        """Woken after every commit that adds to ``address``'s feed (subscribe, then read)."""
        return self._store.hub.subscribe(agent_key(principal.namespace, address))

    async def feed(self, principal: Principal, address: str, since: int, limit: int = 100) -> list[FeedItem]:
        act_for(principal, address)
        return await self._store.read(lambda tx: tx.read_feed(principal.namespace, address, since, limit))


def _with_expiry(intent: Intent, expires: Micros) -> Intent:
    assert intent.lease is not None
    return replace(intent, lease=replace(intent.lease, expires_at=expires))


def _inherit(spec: SubmitIntent, parent: Intent) -> SubmitIntent:
    """A follow-up carries its parent's correlation (and synthetic flag, and trace unless the
    completion carried a context of its own) and comes from the parent's agent."""
    return replace(
        spec,
        parent_intent_id=parent.intent_id,
        from_agent=parent.to_agent,
        correlation_id=spec.correlation_id or parent.correlation_id,
        synthetic=parent.synthetic,
        trace_context=spec.trace_context or parent.trace_context,
    )


async def _replayed_completion(tx: Tx, intent: Intent, token: str) -> Completion | None:
    """The earlier answer, if ``intent`` was completed under the lease ``token``."""
    last = await tx.list_events(intent.intent_id, intent.last_seq - 1, 1)
    if (
        not last
        or last[0].event_type is not EventType.COMPLETED
        or (last[0].details.get("lease_token") != token)
    ):
        return None
    children = [await tx.get_intent(child_id) for child_id in last[0].details.get("then", [])]
    return Completion(intent, [c for c in children if c is not None], replayed=True)
