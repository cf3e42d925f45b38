"""Serve a CrewAI ``Flow`` as an intentd agent, its ``@human_feedback`` pauses as human tasks.

A flow runs in *segments*: from ``kickoff`` to its first pause, from each ``resume`` to the next
pause, and the last one to its end. Each segment is a ``ctx.step``: run once, ever, its outcome
journaled on the intent. A pause's outcome is what CrewAI needs to resume (the flow's state and its
``PendingFeedbackContext``, which CrewAI would otherwise keep in a local SQLite file): any worker
process resumes from the journal. Between segments the handler asks the person (``ctx.ask_human``),
so the intent waits for them without a lease; when they answer, the handler runs again from the
top, gets the journaled segments back without running them, and runs the next. So a method that ran
before a pause never runs again, whichever process resumes. A crash *during* a segment runs that
segment again (it was not journaled), as any ``ctx.step``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crewai.flow.async_feedback.types import HumanFeedbackPending, PendingFeedbackContext
from crewai.flow.persistence.base import FlowPersistence
from pydantic import PrivateAttr

from intentd.client import Intent
from intentd.model import JSON
from intentd.worker import Context, HumanAnswer, Worker, current_context

from ._outputs import json_safe

FlowHandler = Callable[[Context, Intent], JSON]
_TASK_KEY = "intentd_task"
_MAX_DESCRIPTION = 2000  # the server's limit on a human task's description
_MAX_TITLE = 255


class IntentdFeedback:
    """A CrewAI ``HumanFeedbackProvider`` that turns a ``@human_feedback`` pause into an intentd
    human task of the intent being handled (by :func:`serve_flow`).

        class Publish(Flow):
            @start()
            @human_feedback(message="Publish?", provider=IntentdFeedback(assignees=["role:editors"]))
            def draft(self): ...

    The task's title is the decorator's ``message``, its description the method's output. The other
    arguments are ``ctx.ask_human``'s (``task_type`` defaults to ``review``; ``allowed_outcomes``
    to the decorator's ``emit`` when it has one). The flow gets the person's comment as its feedback
    text, or their outcome when they wrote none (with ``emit``, CrewAI's ``llm`` maps that text to an
    outcome, as it does any feedback).
    """

    def __init__(self, *, task_type: str = "review", **task: Any) -> None:
        self.task: dict[str, Any] = {"task_type": task_type, **task}

    def request_feedback(self, context: PendingFeedbackContext, flow: Any) -> str:
        if current_context() is None:
            raise RuntimeError(
                "IntentdFeedback asks a person through the intent being handled: serve the flow "
                "with intentd.adapters.crewai.serve_flow"
            )
        raise HumanFeedbackPending(context=context, callback_info={_TASK_KEY: self.task})


class _JournalPersistence(FlowPersistence):
    """Holds a pause in memory for the segment that made it (the handler journals it) and gives a
    journaled one back to ``Flow.from_pending``; the flow's state between pauses needs no more."""

    persistence_type: str = "intentd-journal"
    _states: dict[str, JSON] = PrivateAttr(default_factory=dict)
    _pending: dict[str, JSON] = PrivateAttr(default_factory=dict)

    def init_db(self) -> None:
        """Nothing to set up: the intent's journal is the durable store."""

    def save_state(self, flow_uuid: str, method_name: str, state_data: Any) -> None:
        self._states[flow_uuid] = json_safe(state_data)

    def load_state(self, flow_uuid: str) -> JSON | None:
        return self._states.get(flow_uuid)

    def save_pending_feedback(self, flow_uuid: str, context: PendingFeedbackContext, state_data: Any) -> None:
        self._pending[flow_uuid] = {"state": json_safe(state_data), "context": context.to_dict()}

    def load_pending_feedback(self, flow_uuid: str) -> tuple[JSON, PendingFeedbackContext] | None:
        pending = self._pending.get(flow_uuid)
        if pending is None:
            return None
        return dict(pending["state"]), PendingFeedbackContext.from_dict(pending["context"])

    def clear_pending_feedback(self, flow_uuid: str) -> None:
        self._pending.pop(flow_uuid, None)

    def pending(self, flow_uuid: str) -> JSON:
        return self._pending[flow_uuid]

    def restore(self, flow_uuid: str, pending: JSON) -> None:
        self._pending[flow_uuid] = pending


def serve_flow(
    worker: Worker, address: str, flow_class: type[Any], *, flow_kwargs: Mapping[str, Any] | None = None
) -> FlowHandler:
    """Serve the CrewAI ``Flow`` subclass ``flow_class`` at ``address``; returns the handler (see
    :func:`flow_handler`).

        serve_flow(worker, "agent://acme/prod/publisher", PublishFlow)
    """
    handler = flow_handler(flow_class, flow_kwargs=flow_kwargs)
    worker.agent(address)(handler)
    return handler


def flow_handler(flow_class: type[Any], *, flow_kwargs: Mapping[str, Any] | None = None) -> FlowHandler:
    """A sync worker handler: a new ``flow_class(**flow_kwargs)`` per intent, kicked off with the
    payload as its inputs; each ``@human_feedback(provider=IntentdFeedback(...))`` pause becomes a
    human task (journal keys ``crewai.flow/<n>`` for segments, ``crewai.feedback/<n>`` for answers).
    Result: ``output`` (what the flow's last method returned), ``state`` (the flow's final state),
    ``flow_id`` and ``feedback`` (each answer given: ``method``, ``outcome``, ``comment``,
    ``decided_by``)."""
    kwargs = dict(flow_kwargs or {})

    def handle(ctx: Context, intent: Intent) -> JSON:
        if not isinstance(ctx, Context):
            raise TypeError("flow_handler returns a sync handler: register it as it is")
        payload = dict(intent.payload)
        segment = ctx.step("crewai.flow/0", lambda: _kickoff(flow_class, kwargs, payload))
        answers: list[JSON] = []
        while segment["paused"]:
            n = len(answers)
            answer = ctx.ask_human(f"crewai.feedback/{n}", **_task(segment))
            answers.append(_answered(segment, answer))
            resume = functools.partial(_resume, flow_class, kwargs, segment, answer.comment or answer.outcome)
            segment = ctx.step(f"crewai.flow/{n + 1}", resume)
        return {**segment["result"], "feedback": answers}

    return handle


def _kickoff(flow_class: type[Any], kwargs: dict[str, Any], payload: JSON) -> JSON:
    store = _JournalPersistence()
    flow = flow_class(persistence=store, **kwargs)
    return _segment(flow, store, flow.kickoff(inputs=payload))


def _resume(flow_class: type[Any], kwargs: dict[str, Any], paused: JSON, feedback: str) -> JSON:
    store = _JournalPersistence()
    store.restore(paused["flow_id"], paused["pending"])
    flow = flow_class.from_pending(paused["flow_id"], store, **kwargs)
    return _segment(flow, store, flow.resume(feedback))


def _segment(flow: Any, store: _JournalPersistence, outcome: Any) -> JSON:
    """What a segment journals: the pause (all a resume needs), or the flow's result."""
    if isinstance(outcome, HumanFeedbackPending):
        flow_id = outcome.context.flow_id
        return {
            "paused": True,
            "flow_id": flow_id,
            "pending": store.pending(flow_id),
            "task": json_safe(outcome.callback_info.get(_TASK_KEY, {})),
        }
    result = {"output": json_safe(outcome), "state": json_safe(flow.state), "flow_id": flow.flow_id}
    return {"paused": False, "result": result}


def _task(segment: JSON) -> dict[str, Any]:
    """``ctx.ask_human``'s arguments for a pause."""
    context = segment["pending"]["context"]
    task = dict(segment["task"])
    task.setdefault("title", (context.get("message") or f"Feedback on {context['method_name']}")[:_MAX_TITLE])
    task.setdefault("description", _shown(context.get("method_output")))
    emit: Sequence[str] | None = context.get("emit")
    if emit and "allowed_outcomes" not in task:
        task["allowed_outcomes"] = list(emit)
    return task


def _shown(output: Any) -> str:
    text = output if isinstance(output, str) else json.dumps(output, indent=2, default=str)
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


def _answered(segment: JSON, answer: HumanAnswer) -> JSON:
    return {
        "method": segment["pending"]["context"]["method_name"],
        "outcome": answer.outcome,
        "comment": answer.comment,
        "decided_by": answer.decided_by,
    }
