"""A human task: what a person is asked about one WAITING intent, who may answer it, and where its
reminders and escalations stand. The intent's events are the record (``intent.human_task_assigned``,
``intent.reminder``, ``intent.escalated``, and the decision in the details of the event that moves the
intent on); a task is their operational projection, kept so that "what waits for me" is one query."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ._intent import JSON
from ._time import Micros


class TaskState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"  # the intent left its wait some other way (canceled, its deadline passed)


@dataclass(frozen=True, slots=True)
class HumanTask:
    task_id: str
    namespace: str
    intent_id: str
    spec: JSON  # the normalised ``human_task`` (engine/humans/spec.py)
    assignees: tuple[str, ...]  # who may decide now: the first level and every level escalated to
    created_at: Micros
    level_started_at: Micros  # when the current escalation level began (reminders count from it)
    state: TaskState = TaskState.OPEN
    level: int = 0  # escalation levels reached
    reminders_sent: int = 0  # at the current level
    journal_key: str | None = None  # an agent's own question: its answer is journaled under this key
    decision: JSON | None = field(default=None)
    updated_at: Micros = 0

    @property
    def is_open(self) -> bool:
        return self.state is TaskState.OPEN
