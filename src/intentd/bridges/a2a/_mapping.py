"""Translations between A2A's protobuf types and intentd's JSON: message parts to an intent payload,
an intent's status to a task state, a result to an artifact and back. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from a2a.helpers import get_data_parts, new_data_part, new_text_part
from a2a.types import Artifact, Message, Part, TaskState

from intentd.client import Intent, Status
from intentd.model import JSON

RESULT_ARTIFACT = "result"

# A2A's terminal and interrupted states (the SDK keeps its own sets private).
TERMINAL_STATES = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)
INTERRUPTED_STATES = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})


class BadMessage(ValueError):
    """An A2A message the bridge cannot turn into an intent payload or a human answer."""


def payload_of(message: Message) -> JSON:
    """An intent payload from a message: its data parts (objects) merged in order, and its text parts
    joined under ``"text"``. A message with neither is refused: there is nothing to work on."""
    payload: dict[str, Any] = {}
    for data in data_of(message.parts):
        if not isinstance(data, dict):
            raise BadMessage("a data part of the message must be a JSON object")
        payload.update(data)
    text = text_of(message)
    if text:
        payload["text"] = text
    if not payload:
        raise BadMessage("the message has no text or data part")
    return payload


def text_of(message: Message) -> str:
    return "\n".join(part.text for part in message.parts if part.HasField("text") and part.text)


def state_of(intent: Intent) -> TaskState:
    return state_for(intent.status, intent.waiting_reason)


def state_for(status: Status, waiting_reason: str | None) -> TaskState:
    """The A2A state of an intent status: WAITING on a person is INPUT_REQUIRED; waiting on anything
    else (children, time) is still WORKING from the A2A client's point of view."""
    if status == Status.COMPLETED:
        return TaskState.TASK_STATE_COMPLETED
    if status in (Status.FAILED, Status.TIMED_OUT):
        return TaskState.TASK_STATE_FAILED
    if status == Status.CANCELED:
        return TaskState.TASK_STATE_CANCELED
    if status == Status.WAITING and waiting_reason == "WAITING_FOR_HUMAN":
        return TaskState.TASK_STATE_INPUT_REQUIRED
    if status in (Status.CREATED, Status.SUBMITTED):
        return TaskState.TASK_STATE_SUBMITTED
    return TaskState.TASK_STATE_WORKING


def result_parts(result: JSON | None) -> list[Part]:
    """The result as artifact parts: the JSON as a data part, and its ``"text"`` (if a string) as a
    text part too, for clients that only show text."""
    parts = [new_data_part(dict(result or {}))]
    text = (result or {}).get("text")
    if isinstance(text, str) and text:
        parts.append(new_text_part(text))
    return parts


def result_of(artifacts: list[Artifact]) -> JSON:
    """An intent result from a remote task's artifacts: one data object is the result itself;
    otherwise ``{"text": ..., "data": [...], "artifacts": [names]}`` with what there is."""
    datas: list[Any] = []
    texts: list[str] = []
    for artifact in artifacts:
        datas.extend(data_of(artifact.parts))
        texts.extend(p.text for p in artifact.parts if p.HasField("text") and p.text)
    if len(datas) == 1 and isinstance(datas[0], dict):
        return dict(datas[0])
    result: dict[str, Any] = {"artifacts": [a.name for a in artifacts]}
    if texts:
        result["text"] = "\n".join(texts)
    if datas:
        result["data"] = datas
    return result


def data_of(parts: Sequence[Part]) -> list[Any]:
    """The data parts' values, numbers as JSON would carry them (see :func:`_integral`)."""
    return [_integral(data) for data in get_data_parts(parts)]


def error_text(intent: Intent) -> str:
    error = intent.error
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)
    return str(error or intent.reason or intent.status.value)


def _integral(value: Any) -> Any:
    """protobuf's Value keeps every number as a double: 3 comes back as 3.0. Whole floats become
    ints again, so a payload survives the trip the way JSON would carry it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value
