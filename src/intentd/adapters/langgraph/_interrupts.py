"""A LangGraph ``interrupt(value)`` as an intentd human task, and the person's answer as the value
``interrupt`` returns when the graph resumes.

The task comes from the interrupt's value: a dict may say ``title``, ``description``, ``form`` (or
``form_schema``: a JSON Schema the answer's data must match) and any other ``ctx.ask_human`` field
(``task_type``, ``allowed_outcomes``, ``assignees``, ``timeout_seconds`` …); a text is the
question itself; anything else is shown as JSON under a title naming the node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from intentd.model import JSON
from intentd.worker import HumanAnswer

from ._values import json_safe

_MAX_TITLE = 255  # the server's limits on a human task (docs/design.md, "Limits")
_MAX_DESCRIPTION = 2000
KEY_PREFIX = "langgraph.interrupt/"
# The fields of ctx.ask_human an interrupt's value may set, besides title, description and form.
_TASK_FIELDS = frozenset(
    {
        "task_type",
        "allowed_outcomes",
        "assignees",
        "required_comment",
        "evidence_required",
        "remind_after_seconds",
        "remind_interval_seconds",
        "max_reminders",
        "escalate_to",
        "timeout_seconds",
        "on_timeout",
        "default_outcome",
    }
)


def task_key(interrupt_id: str) -> str:
    """The journal key of an interrupt's answer: its id is stable, stored in the checkpoint."""
    return KEY_PREFIX + interrupt_id


def human_task(value: Any, node: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``ctx.ask_human``'s keyword arguments (all but the key) for an interrupt of ``node``."""
    task: dict[str, Any] = dict(defaults)
    if isinstance(value, Mapping):
        task.update({name: value[name] for name in _TASK_FIELDS if name in value})
        form = value.get("form_schema", value.get("form"))
        if form is not None:
            task["form_schema"] = form
        title, description = value.get("title"), value.get("description")
        if description is None and title is None:
            description = _shown(value)
    elif isinstance(value, str):
        title, description = value, None
    else:
        title, description = None, _shown(value)
    title = str(title or task.pop("title", None) or f"Input needed at {node}")
    if len(title) > _MAX_TITLE:  # the whole question stays readable in the description
        title, description = title[: _MAX_TITLE - 1] + "…", description or title
    task["title"] = title
    if description is not None:
        task["description"] = _clipped(str(description))
    return task


def answer_value(answer: HumanAnswer) -> JSON:
    """What ``interrupt()`` returns on resume: the person's answer as a dict."""
    return {
        "outcome": answer.outcome,
        "approved": answer.approved,
        "comment": answer.comment,
        "data": dict(answer.data),
        "decided_by": answer.decided_by,
        "decided_at": answer.decided_at.isoformat() if answer.decided_at else None,
    }


def _shown(value: Any) -> str:
    return json.dumps(json_safe(value), indent=2, sort_keys=True)


def _clipped(text: str) -> str:
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"
