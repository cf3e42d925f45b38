"""Intent operations of the AXP API: submit, read, resolve, resume, cancel, controls and policy."""

from __future__ import annotations

import builtins  # IntentService.list shadows the builtin inside the class
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from intentd import logs
from intentd.model import (
    JSON,
    TERMINAL_EVENT,
    Event,
    EventType,
    IdempotencyConflict,
    Intent,
    IntentNotFound,
    Micros,
    StalePolicyGeneration,
    Status,
    ValidationFailed,
)
from intentd.store import IntentPage, Store, Subscription, Tx, intent_key

from ._change import Change, check_lease, new_intent
from .access import act_on, as_sender
from .humans.answers import ask
from .inputs import Principal, Resolve, SubmitIntent
from .mesh import KillService, sandbox_only
from .recorder import Recorder
from .workflows.human import HumanAnswers

Clock = Callable[[], Micros]

# Keys of a resume body that steer the call rather than carry the agent's result.
_RESUME_CONTROL_KEYS = frozenset(
    {"action", "actor", "expected_policy_generation", "owner_agent", "lease_token"}
)


async def load(tx: Tx, principal: Principal, intent_id: str, *, for_update: bool = False) -> Intent:
    """The intent, if it exists in the caller's namespace (other namespaces look like 404)."""
    intent = await tx.get_intent(intent_id, for_update=for_update)
    if intent is None or intent.namespace != principal.namespace:
        raise IntentNotFound(f"intent {intent_id} not found", details={"intent_id": intent_id})
    logs.about(intent)  # the caller's log lines name the intent (a no-op with text logs)
    return intent


async def replayed_submit(tx: Tx, namespace: str, idempotency_key: str, fingerprint: str) -> Intent | None:
    """The intent an earlier request with this ``Idempotency-Key`` created, if its body was the same;
    a different body is a conflict."""
    existing = await tx.intent_by_idempotency_key(namespace, idempotency_key)
    if existing is not None and existing.request_hash != fingerprint:
        raise IdempotencyConflict(
            "Idempotency-Key was already used with a different request body",
            details={"idempotency_key": idempotency_key, "intent_id": existing.intent_id},
        )
    return existing


async def submit_in(
    tx: Tx,
    recorder: Recorder,
    principal: Principal,
    spec: SubmitIntent,
    now: Micros,
    *,
    idempotency_key: str | None = None,
    root_intent_id: str | None = None,
) -> tuple[Intent, bool]:
    """Create an intent inside an open transaction: ``intent.created`` then ``intent.submitted``."""
    spec = as_sender(principal, spec)
    # Only a keyed submit is ever compared, so only it pays for the fingerprint.
    fingerprint = spec.fingerprint() if idempotency_key is not None else None
    if idempotency_key is not None and fingerprint is not None:
        existing = await replayed_submit(tx, principal.namespace, idempotency_key, fingerprint)
        if existing is not None:
            logs.about(existing)
            return existing, False
    actor = spec.from_agent or principal.name
    change = new_intent(
        principal.namespace,
        spec,
        now,
        actor=actor,
        root_intent_id=root_intent_id,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
    )
    task = spec.controls.get("human_task")
    if isinstance(task, dict):  # a person answers before the agent acts (or, to human://, instead)
        ask(change, task, actor, now)
    return await recorder.record(tx, change), True


@dataclass(frozen=True, slots=True)
class RunTree:
    """The intents of one run; each names its ``parent_intent_id``, so the tree follows from them."""

    root_intent_id: str
    intents: list[Intent]
    truncated: bool = False


class IntentService:
    def __init__(
        self, store: Store, clock: Clock, recorder: Recorder, answers: HumanAnswers, kills: KillService
    ) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self._answers = answers
        self._kills = kills

    async def submit(
        self, principal: Principal, spec: SubmitIntent, idempotency_key: str | None = None
    ) -> tuple[Intent, bool]:
        """Returns the intent and whether it was created now (False: an idempotent replay). A killed
        agent refuses it (or holds it: its kill says which), and a killed agent sends nothing."""
        self._kills.admit(principal, as_sender(principal, spec))

        async def unit(tx: Tx) -> tuple[Intent, bool]:
            if spec.synthetic:
                await sandbox_only(tx, principal.namespace)
            return await submit_in(
                tx, self._recorder, principal, spec, self._clock(), idempotency_key=idempotency_key
            )

        return await self._store.write(unit)

    async def get(self, principal: Principal, intent_id: str) -> Intent:
        return await self._store.read(lambda tx: load(tx, principal, intent_id))

    async def list(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        to_agent: str | None = None,
        correlation_id: str | None = None,
        before: tuple[Micros, str] | None = None,
        limit: int = 50,
    ) -> IntentPage:
        return await self._store.read(
            lambda tx: tx.list_intents(
                principal.namespace,
                status=status,
                to_agent=to_agent,
                correlation_id=correlation_id,
                before=before,
                limit=limit,
            )
        )

    async def tree(self, principal: Principal, intent_id: str, limit: int = 1000) -> RunTree:
        """The whole run ``intent_id`` belongs to: the intent that began it and every intent handed on
        from there (``then`` follow-ups and their follow-ups), in creation order (intents handed on together
        share their time and come in id order), up to ``limit``."""

        async def read(tx: Tx) -> RunTree:
            intent = await load(tx, principal, intent_id)
            root = intent.root_intent_id or intent.intent_id
            members = await tx.list_tree(principal.namespace, root, limit + 1)
            return RunTree(root, members[:limit], truncated=len(members) > limit)

        return await self._store.read(read)

    async def settled(self, principal: Principal, intent_id: str, wait_seconds: float) -> Intent:
        """The intent once it is terminal, or as it is when ``wait_seconds`` have passed: a submit and
        its outcome in one exchange. Subscribed before each read, so no change is missed between."""
        deadline = time.monotonic() + wait_seconds
        with self.watch(intent_id) as changes:
            while True:
                intent = await self.get(principal, intent_id)
                remaining = deadline - time.monotonic()
                if intent.is_terminal or remaining <= 0 or changes.closed:
                    return intent
                await changes.wait(remaining)

    def watch(self, *intent_ids: str) -> AbstractContextManager[Subscription]:
        """Woken after every commit that changes one of the intents (subscribe, then read: see
        store/_hub.py)."""
        return self._store.hub.subscribe(*(intent_key(i) for i in intent_ids))

    async def events(
        self, principal: Principal, intent_id: str, since: int = 0, limit: int = 1000
    ) -> builtins.list[Event]:
        async def read(tx: Tx) -> builtins.list[Event]:
            await load(tx, principal, intent_id)
            return await tx.list_events(intent_id, since, limit)

        return await self._store.read(read)

    async def resolve(self, principal: Principal, intent_id: str, req: Resolve) -> tuple[Intent, Event]:
        status = Status(req.status)
        details: JSON = {}
        if status is Status.COMPLETED:
            details["result"] = req.result if req.result is not None else {}
        elif status in (Status.FAILED, Status.TIMED_OUT):
            details["error"] = _error_object(req.error, req.reason)
        elif status is Status.CANCELED:
            details["reason"] = req.reason or "canceled"

        async def unit(tx: Tx) -> tuple[Intent, Event]:
            intent = await load(tx, principal, intent_id, for_update=True)
            act_on(principal, intent)
            _check_generation(intent, req.expected_policy_generation)
            change = Change(intent)
            change.step(
                TERMINAL_EVENT[status], status, req.actor or principal.name, self._clock(), details=details
            )
            return await self._recorder.record(tx, change), change.events[-1]

        return await self._store.write(unit)

    async def cancel(
        self, principal: Principal, intent_id: str, reason: str | None, actor: str | None = None
    ) -> tuple[Intent, Event]:
        return await self.resolve(
            principal, intent_id, Resolve(status="CANCELED", reason=reason, actor=actor)
        )

    async def resume(self, principal: Principal, intent_id: str, body: JSON) -> Intent:
        """AXP resume with its three body shapes (PROTOCOL.md §2.2, choices in docs/design.md): a
        ``task_result`` (or ``approve_current_step``) answers the intent's open human task;
        ``action: complete|fail`` resolves; otherwise a WAITING intent goes back to its agent with the
        body as input, and any other intent records the resume and stays open (the policy generation
        moves), as AXP's example programs expect before they resolve."""
        action = body.get("action")
        if action not in (None, "complete", "fail", "resume"):
            raise ValidationFailed("action must be complete, fail or resume", details={"field": "action"})
        payload = {k: v for k, v in body.items() if k not in _RESUME_CONTROL_KEYS}
        actor = str(body.get("actor") or principal.name)

        async def unit(tx: Tx) -> Intent:
            intent = await load(tx, principal, intent_id, for_update=True)
            act_on(principal, intent)
            _check_generation(intent, body.get("expected_policy_generation"))
            if body.get("lease_token") is not None:
                check_lease(intent, str(body["lease_token"]))
            now = self._clock()
            answered = await self._answers.resume(tx, principal, intent, body, actor, now)
            if answered is not None:  # a person's answer to the intent's human task
                await self._recorder.record(tx, answered)
                return await load(tx, principal, intent_id)
            change = Change(intent)
            if action == "fail":
                change.step(
                    EventType.FAILED,
                    Status.FAILED,
                    actor,
                    now,
                    details={"error": _error_object(payload.get("error"), payload.get("reason"))},
                )
            elif action == "complete":
                result = payload["result"] if isinstance(payload.get("result"), dict) else payload
                change.step(EventType.COMPLETED, Status.COMPLETED, actor, now, details={"result": result})
            elif action == "resume" or intent.status is Status.WAITING:
                change.step(EventType.RESUMED, Status.SUBMITTED, actor, now, details={"input": payload})
            else:  # nothing waits: recorded (the body as input), the intent stays where it is
                details = {"input": payload, "policy_generation": intent.policy_generation + 1}
                change.step(EventType.RESUMED, intent.status, actor, now, details=details)
            return await self._recorder.record(tx, change)

        return await self._store.write(unit)

    async def update_controls(
        self,
        principal: Principal,
        intent_id: str,
        patch: JSON,
        expected_generation: int | None,
        actor: str | None,
    ) -> Intent:
        return await self._bump_policy(
            principal,
            intent_id,
            EventType.CONTROLS_UPDATED,
            {"controls_patch": patch},
            expected_generation,
            actor,
        )

    async def update_policy(
        self,
        principal: Principal,
        intent_id: str,
        patch: JSON,
        expected_generation: int | None,
        actor: str | None,
    ) -> Intent:
        return await self._bump_policy(
            principal,
            intent_id,
            EventType.POLICY_UPDATED,
            {"policy_patch": patch},
            expected_generation,
            actor,
        )

    async def _bump_policy(
        self,
        principal: Principal,
        intent_id: str,
        event_type: EventType,
        details: JSON,
        expected: int | None,
        actor: str | None,
    ) -> Intent:
        async def unit(tx: Tx) -> Intent:
            intent = await load(tx, principal, intent_id, for_update=True)
            _check_generation(intent, expected)
            change = Change(intent)
            change.step(
                event_type,
                intent.status,
                actor or principal.name,
                self._clock(),
                details={**details, "policy_generation": intent.policy_generation + 1},
            )
            return await self._recorder.record(tx, change)

        return await self._store.write(unit)


def _check_generation(intent: Intent, expected: Any) -> None:
    if expected is not None and expected != intent.policy_generation:
        raise StalePolicyGeneration(
            f"expected policy_generation {expected}, intent is at {intent.policy_generation}",
            details={"policy_generation": intent.policy_generation, "expected": expected},
        )


def _error_object(error: Any, reason: Any = None) -> JSON:
    if isinstance(error, dict):
        return error
    message = str(error if error is not None else reason or "failed")
    return {"code": "failed", "message": message}
