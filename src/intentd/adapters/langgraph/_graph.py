"""What the adapter reads of a compiled graph: whether it keeps checkpoints, which input it takes,
and from a thread's snapshot, what the next run of it must do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import StateSnapshot
from pydantic import BaseModel, ValidationError

from intentd.worker import FatalError


def durable(graph: Any) -> bool:
    """Whether ``graph`` was compiled with a checkpointer of its own (a run can resume from it)."""
    return isinstance(getattr(graph, "checkpointer", None), BaseCheckpointSaver)


def check_input(graph: Any, given: Any) -> None:
    """Refuse an input the graph would misread. LangGraph drops keys its input schema lacks without a
    word (the run then starts from an empty state), and checks a pydantic state only once a node
    reads it, as a retryable error: both are a payload that will never fit, so the intent fails now."""
    schema = _input_schema(graph)
    if schema is None or not isinstance(given, Mapping):
        return
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(dict(given))
        except ValidationError as exc:
            raise FatalError(
                f"the payload does not fit the graph's input ({schema.__name__}): {exc}"
            ) from None
    taken = _input_keys(graph, schema)
    unknown = sorted(str(key) for key in given if key not in taken)
    if taken and unknown:
        raise FatalError(
            f"the payload has {', '.join(map(repr, unknown))}, which the graph's input does not take "
            f"(it takes: {', '.join(sorted(taken))}); map the payload with input=..."
        )


def _input_schema(graph: Any) -> Any:
    builder = getattr(graph, "builder", None)  # a StateGraph's; the functional API's graphs have none
    return getattr(builder, "input_schema", None)


def _input_keys(graph: Any, schema: Any) -> set[str]:
    channels = getattr(graph.builder, "schemas", {}).get(schema, {})
    return set(channels)


@dataclass(frozen=True)
class Pause:
    """An interrupt waiting for an answer: its id, its value, and the node that raised it."""

    interrupt_id: str
    value: Any
    node: str


@dataclass(frozen=True)
class NextMove:
    """What a handler run does with the intent's thread: ``start`` it from the payload, ``ask`` a
    person each pause and resume with the answers, ``finish`` (the thread ended: its values are the
    result), or continue from the last checkpoint (a run stopped by a park or a crash)."""

    start: bool = False
    pauses: list[Pause] = field(default_factory=list)
    finished: bool = False
    values: dict[str, Any] = field(default_factory=dict)


def next_move(snapshot: StateSnapshot | None) -> NextMove:
    if snapshot is None or snapshot.created_at is None:
        return NextMove(start=True)  # no checkpointer, or nothing checkpointed for the thread yet
    nodes = {i.id: task.name for task in snapshot.tasks for i in task.interrupts}
    pauses = [Pause(i.id, i.value, nodes.get(i.id, "?")) for i in snapshot.interrupts]
    if pauses:
        return NextMove(pauses=pauses)
    if not snapshot.next:
        return NextMove(finished=True, values=dict(snapshot.values))
    return NextMove()
