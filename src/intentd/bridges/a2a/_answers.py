"""An open human task as an A2A question, and an A2A follow-up message as its answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2a.helpers import new_data_part, new_text_part
from a2a.types import Message, Part

from intentd.client import HumanTask

from ._mapping import BadMessage, data_of, text_of


@dataclass(frozen=True)
class Answer:
    outcome: str
    comment: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def question_parts(task: HumanTask) -> list[Part]:
    """What the A2A client is asked: the task's title and description, the outcomes it may answer,
    and the task as data (its id, outcomes, form schema) for clients that answer with data."""
    spec = task.human_task
    lines = [str(spec.get("title") or "Input required")]
    if spec.get("description"):
        lines.append(str(spec["description"]))
    lines.append(f"Answer with one of: {', '.join(task.allowed_outcomes)}")
    data = {
        "human_task_id": task.task_id,
        "allowed_outcomes": list(task.allowed_outcomes),
        "form_schema": spec.get("form_schema"),
    }
    return [new_text_part("\n".join(lines)), new_data_part(data)]


def answer_of(message: Message, task: HumanTask) -> Answer:
    """The answer a follow-up gives: a data part ``{"outcome", "comment"?, "data"?}``, or text whose
    first word is the outcome and whose rest is the comment (``"approved looks good"``). The server
    checks the rest (outcome allowed, comment required, form data)."""
    for data in data_of(message.parts):
        if isinstance(data, dict) and isinstance(data.get("outcome"), str):
            form = data.get("data")
            return Answer(
                data["outcome"], _comment(data.get("comment")), dict(form) if isinstance(form, dict) else {}
            )
    words = text_of(message).strip().split(maxsplit=1)
    if not words:
        raise BadMessage(f"an answer is one of {', '.join(task.allowed_outcomes)}")
    outcome = _outcome(words[0], task.allowed_outcomes)
    return Answer(outcome, words[1].strip() if len(words) > 1 else None)


def _outcome(word: str, allowed: list[str]) -> str:
    """The allowed outcome ``word`` names, case and a trailing period or comma aside; other words go
    to the server as they are (``approve`` stands for ``approved`` there)."""
    bare = word.rstrip(".,:;!").lower()
    return next((outcome for outcome in allowed if outcome.lower() == bare), bare)


def _comment(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
