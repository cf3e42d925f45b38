"""What the MCP tools answer: small typed models, so each tool declares an ``outputSchema`` and its
result carries ``structuredContent`` (a bare ``dict`` return would give neither). They are views of
the SDK's wire models, cut to what a model reading them needs: ids, states, results and what to do
next, not lease tokens or policy generations."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from intentd.client import Event, HumanTask, Intent, MeshAgent, TaskAnswerResponse


class IntentView(BaseModel):
    """One intent: where it is, and its outcome once it has one."""

    intent_id: str
    intent_type: str
    to_agent: str
    status: str
    done: bool = Field(description="true once the intent is COMPLETED, FAILED, CANCELED or TIMED_OUT")
    waiting_reason: str | None = Field(
        None, description="what a WAITING intent waits for, e.g. WAITING_FOR_HUMAN (see list_human_tasks)"
    )
    result: dict[str, Any] | None = None
    error: Any = None
    reason: str | None = None
    correlation_id: str
    parent_intent_id: str | None = None
    created_at: datetime
    updated_at: datetime
    last_seq: int = Field(description="the seq of its latest event (list_intent_events since=)")

    @classmethod
    def of(cls, intent: Intent) -> IntentView:
        return cls(
            intent_id=intent.intent_id,
            intent_type=intent.intent_type,
            to_agent=intent.to_agent,
            status=intent.status.value,
            done=intent.is_terminal,
            waiting_reason=intent.waiting_reason,
            result=intent.result,
            error=intent.error,
            reason=intent.reason,
            correlation_id=intent.correlation_id,
            parent_intent_id=intent.parent_intent_id,
            created_at=intent.created_at,
            updated_at=intent.updated_at,
            last_seq=intent.last_seq,
        )


class WaitAnswer(BaseModel):
    """The intent after a bounded wait: ``done`` false means it is still running, not that
    anything failed; call ``wait_for_intent`` again with the same id (it is a durable handle)."""

    intent: IntentView
    done: bool
    waited_seconds: float
    next: str = Field(description="what to do next")


class EventView(BaseModel):
    seq: int
    event_type: str
    status: str
    at: datetime
    actor: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, event: Event) -> EventView:
        return cls(
            seq=event.seq,
            event_type=event.event_type,
            status=event.status.value,
            at=event.at,
            actor=event.actor,
            details=event.details,
        )


class EventList(BaseModel):
    """An intent's events after ``since``, in order (its audit trail)."""

    intent_id: str
    events: list[EventView]


class TaskView(BaseModel):
    """A question put to a person (or to whoever holds the key): answer it with
    ``answer_human_task`` and one of ``allowed_outcomes``."""

    task_id: str
    intent_id: str
    state: str
    title: str | None = None
    description: str | None = None
    task_type: str | None = None
    allowed_outcomes: list[str]
    assignees: list[str]
    form_schema: dict[str, Any] | None = None
    assigned_at: datetime
    due_at: datetime | None = None
    decided_outcome: str | None = None
    decided_by: str | None = None
    comment: str | None = None

    @classmethod
    def of(cls, task: HumanTask) -> TaskView:
        spec = task.human_task
        decision = task.decision
        return cls(
            task_id=task.task_id,
            intent_id=task.intent_id,
            state=task.state,
            title=spec.get("title"),
            description=spec.get("description"),
            task_type=spec.get("task_type"),
            allowed_outcomes=task.allowed_outcomes,
            assignees=task.assignees,
            form_schema=spec.get("form_schema"),
            assigned_at=task.assigned_at,
            due_at=task.due_at,
            decided_outcome=decision.outcome if decision else None,
            decided_by=decision.decided_by if decision else None,
            comment=decision.comment if decision else None,
        )


class TaskList(BaseModel):
    tasks: list[TaskView]


class TaskAnswerView(BaseModel):
    """The decided task, and the intent it moved on."""

    task: TaskView
    intent: IntentView

    @classmethod
    def of(cls, answer: TaskAnswerResponse) -> TaskAnswerView:
        return cls(task=TaskView.of(answer.task), intent=IntentView.of(answer.intent))


class AgentView(BaseModel):
    """One agent of the fleet, as the Mesh sees it (docs/mesh.md)."""

    address: str
    health: str = Field(description="healthy, degraded, unreachable, killed or unknown")
    last_seen_at: datetime | None = None
    workers: int
    in_flight: int
    open_work: dict[str, int] = Field(description="open intents by status")
    error_rate: float | None = None
    intents_period: int = Field(description="intents it finished in the last 24 hours")
    cost_period: float = Field(description="cost_usd reported this UTC day")

    @classmethod
    def of(cls, agent: MeshAgent) -> AgentView:
        return cls(
            address=agent.address,
            health=agent.health_status,
            last_seen_at=agent.last_seen_at,
            workers=len(agent.workers),
            in_flight=agent.in_flight,
            open_work=agent.open_work,
            error_rate=agent.error_rate,
            intents_period=agent.intents_period,
            cost_period=agent.cost_period,
        )


class FleetView(BaseModel):
    """The agents and how many are in each state of health."""

    agents: list[AgentView]
    by_health: dict[str, int]

    @classmethod
    def of(cls, agents: list[MeshAgent]) -> FleetView:
        views = [AgentView.of(agent) for agent in agents]
        return cls(agents=views, by_health=dict(Counter(view.health for view in views)))
