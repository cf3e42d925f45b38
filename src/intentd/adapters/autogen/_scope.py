"""What a served run shares with the intent tools and intent agents inside it: the calls they hand
on, and how they stop the run to do so.

AutoGen gives a team member no way to stop its team mid-turn, and it must not see the worker's
``Unwind``: its runtime catches every exception of an agent, keeps it and then waits forever for a
termination that never comes. So a call inside a served run never spawns or waits itself. It
records what it hands on here (:class:`HandedOn`), wakes the handler (``ServedRun.paused``) and
raises :class:`RunPaused`, a ``BaseException`` so that no ``except Exception`` of AutoGen or of the
agent turns it into a tool result. That does not end the run either (an agent waits forever for the
tool calls of a turn), so the handler ends it: it cancels every task the run started (each is
noted here as it is made, see :func:`track_tasks`), then saves the team's state and spawns the
child intent outside of the run.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, Literal

from intentd.model import JSON

KEY_PREFIX = "autogen."
_END_SECONDS = 5.0


class RunPaused(BaseException):  # noqa: N818 - a signal, like asyncio.CancelledError
    """Stops a served run at a call handed on to another agent (never seen outside the adapter)."""


@dataclass(frozen=True)
class HandedOn:
    """One call handed on: by an intent tool (``call_id`` of the model's call, ``tool``) or by an
    :class:`~intentd.adapters.autogen.IntentAgent` (``agent``: its name)."""

    kind: Literal["tool", "agent"]
    to_agent: str
    payload: JSON
    intent_type: str
    agent: str = ""
    tool: str = ""
    call_id: str = ""
    arguments: str = ""

    def as_json(self) -> JSON:
        return {
            "kind": self.kind,
            "to_agent": self.to_agent,
            "payload": self.payload,
            "intent_type": self.intent_type,
            "agent": self.agent,
            "tool": self.tool,
            "call_id": self.call_id,
            "arguments": self.arguments,
        }


@dataclass
class ServedRun:
    """One segment of a served run: the calls handed on in it, and the event that wakes the handler."""

    handed_on: list[HandedOn] = field(default_factory=list)
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: weakref.WeakSet[asyncio.Task[Any]] = field(default_factory=weakref.WeakSet)

    async def end_tasks(self) -> None:
        """Cancel every task of the run and wait for them, their errors read (AutoGen's runtime,
        cancelled mid-message, fails a few of its own bookkeeping steps; nothing to report)."""
        tasks = [task for task in list(self.tasks) if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_END_SECONDS)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()

    def pause(self, call: HandedOn) -> RunPaused:
        self.handed_on.append(call)
        self.paused.set()
        return RunPaused(f"the run hands {call.kind} {call.tool or call.agent} on to {call.to_agent}")


served_run: contextvars.ContextVar[ServedRun | None] = contextvars.ContextVar(
    "intentd_autogen_run", default=None
)


def track_tasks() -> None:
    """Note every task made inside a served run on that run (a task factory on the running loop,
    chained to any other, set once per loop): the tasks AutoGen's runtime starts for a team are
    private to it, and a paused run is ended by cancelling them."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    if getattr(previous, "intentd_autogen", False):
        return

    def factory(
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
        **options: Any,
    ) -> asyncio.Future[Any]:
        if previous is not None:
            task = previous(loop, coro, **options)
        else:
            task = asyncio.Task(coro, loop=loop, **options)
        run = served_run.get()
        if run is not None and isinstance(task, asyncio.Task):
            run.tasks.add(task)
        return task

    factory.intentd_autogen = True  # type: ignore[attr-defined]
    loop.set_task_factory(factory)


class _QuietPauses(logging.Filter):
    """AutoGen's runtime logs every exception of an agent as an error, with its traceback; a pause is
    not one, nor the cancellation that ends a paused run."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, RunPaused):
            return False
        run = served_run.get()
        return not (isinstance(error, asyncio.CancelledError) and run is not None and run.paused.is_set())


logging.getLogger("autogen_core").addFilter(_QuietPauses())
