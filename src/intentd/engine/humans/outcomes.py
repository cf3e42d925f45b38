"""What a person's answer does: which outcomes a task type offers, what makes an answer valid (the
outcome, a required comment, evidence, the form), and how the answer moves the intent on.

Where the intent goes depends on what the task is attached to (docs/humans.md, "What an answer does"):

- **an agent's own question** (``ctx.ask_human``: the task has a journal key): every outcome goes back
  to the agent, which reads the answer from its journal and decides;
- **a person's work** (the intent is addressed to ``human://…``: a workflow's human step, approval or
  escalation, or an intent sent to a person): the answer is the result — COMPLETED with it, or FAILED
  (``rejected``) for a rejection, so a workflow's ``on_failure`` applies;
- **a gate** (an intent created with a ``human_task`` for an agent): the agent gets the intent only
  when a person lets it through; a rejection CANCELS it, as in AXP's lifecycle diagrams.

``delegated`` and ``escalated`` keep the task open: it moves to other people.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from intentd.model import JSON, EventType, HumanTask, Intent, Micros, Status, ValidationFailed, WaitingReason

from .._change import Change

DEFAULT_OUTCOMES: dict[str, tuple[str, ...]] = {
    "approval": ("approved", "rejected"),
    "review": ("approved", "changes_requested", "rejected"),
    "clarification": ("provided", "rejected"),
    "provide_data": ("provided", "rejected"),
    "attach_file": ("provided", "rejected"),
    "manual_action": ("completed", "failed"),
    "confirmation": ("confirmed", "rejected"),
    "validate_real_world": ("validated", "rejected"),
    "validate_output": ("validated", "changes_requested", "rejected"),
    "assignment": ("assigned", "declined"),
    "delegation": ("delegated", "declined"),
    "reroute": ("rerouted", "rejected"),
    "override": ("override_approved", "rejected"),
    "escalate": ("escalated", "rejected"),
    "form": ("submitted", "rejected"),
}
# Outcomes that say no: the work does not go on as asked.
REJECTIONS = frozenset({"rejected", "declined", "failed", "abort"})
CHANGES_REQUESTED = "changes_requested"
DELEGATED = "delegated"
ESCALATED = "escalated"
_SPELLINGS = {"approve": "approved", "reject": "rejected", "decline": "declined", "confirm": "confirmed"}
HUMAN_SCHEME = "human://"


def spelled(outcome: str) -> str:
    """One spelling per outcome: lower case, ``approve`` is ``approved`` (the AXP docs use both)."""
    text = outcome.strip().lower()
    return _SPELLINGS.get(text, text)


def is_rejection(outcome: str) -> bool:
    return outcome in REJECTIONS


def checked(task: HumanTask, outcome: str, comment: str | None, data: JSON | None) -> tuple[str, JSON]:
    """The answer's outcome and data, or ``ValidationFailed`` naming the field that is wrong."""
    spec = task.spec
    outcome = spelled(outcome)
    allowed = spec["allowed_outcomes"]
    if outcome not in allowed:
        raise ValidationFailed(
            f"outcome must be one of {', '.join(allowed)}", details={"field": "outcome", "allowed": allowed}
        )
    if spec["required_comment"] and not (comment or "").strip():
        raise ValidationFailed("this task requires a comment", details={"field": "comment"})
    data = data or {}
    if not is_rejection(outcome):
        if spec["evidence_required"] and not data.get("evidence"):
            raise ValidationFailed("this task requires evidence", details={"field": "data.evidence"})
        if spec["form_schema"] is not None:
            _check_form(spec["form_schema"], data)
    return outcome, data


def _check_form(schema: JSON, data: JSON) -> None:
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if not errors:
        return
    listed = [{"field": _field_of(e), "message": e.message} for e in errors]
    first = listed[0]
    raise ValidationFailed(
        f"{first['field']}: {first['message']}", details={"field": first["field"], "errors": listed}
    )


def _field_of(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    required = error.validator_value
    if error.validator == "required" and isinstance(error.instance, dict) and isinstance(required, list):
        missing = [p for p in required if p not in error.instance]
        path += missing[:1]
    return ".".join(["data", *path])


def record_of(
    task: HumanTask, outcome: str, comment: str | None, data: JSON, actor: str, now: Micros, via: str
) -> JSON:
    """The decision as the event log and the task keep it."""
    return {
        "task_id": task.task_id,
        "outcome": outcome,
        "comment": comment,
        "data": data,
        "decided_by": actor,
        "decided_at": now,
        "via": via,
    }


def task_result(decision: JSON) -> JSON:
    """What an agent or a workflow reads: AXP's ``task_result``."""
    return {"outcome": decision["outcome"], "comment": decision["comment"], "data": decision["data"]}


def conclude(
    intent: Intent, task: HumanTask, decision: JSON, actor: str, now: Micros, extra: JSON | None = None
) -> Change:
    """The change a closing decision makes to the waiting intent (see the module's docstring)."""
    change = Change(intent)
    result = task_result(decision)
    details: JSON = {**(extra or {}), "decision": decision, "task_result": result}
    outcome = decision["outcome"]
    if task.journal_key is None and intent.to_agent.startswith(HUMAN_SCHEME):  # a person's work
        if is_rejection(outcome):
            error = {
                "code": "rejected",
                "message": decision["comment"] or f"{outcome} by {actor}",
                "outcome": outcome,
            }
            change.step(EventType.FAILED, Status.FAILED, actor, now, details={**details, "error": error})
        else:
            change.step(
                EventType.COMPLETED, Status.COMPLETED, actor, now, details={**details, "result": result}
            )
    elif task.journal_key is None and is_rejection(outcome):  # a gate that says no
        reason = f"{outcome} by {actor}" + (f": {decision['comment']}" if decision["comment"] else "")
        change.step(EventType.CANCELED, Status.CANCELED, actor, now, details={**details, "reason": reason})
    else:  # through the gate, or back to the agent that asked
        input_: JSON = {"task_result": result, "decision": decision}
        change.step(EventType.RESUMED, Status.SUBMITTED, actor, now, details={**details, "input": input_})
    return change


def reassign(
    intent: Intent, task: HumanTask, assignees: list[str], decision: JSON, actor: str, now: Micros
) -> Change:
    """``delegated``: the task stays open, with other people to decide it."""
    change = Change(intent)
    change.step(
        EventType.HUMAN_TASK_ASSIGNED,
        Status.WAITING,
        actor,
        now,
        waiting_reason=WaitingReason.HUMAN,
        details={"task_id": task.task_id, "assignees": assignees, "delegated": decision},
    )
    return change


def delegates(data: JSON) -> list[str]:
    target: Any = data.get("delegate_to") or data.get("assignee") or data.get("assignees")
    people = [target] if isinstance(target, str) else target
    if not isinstance(people, list) or not people or not all(isinstance(p, str) and p for p in people):
        raise ValidationFailed(
            "delegated needs data.delegate_to: who takes the task", details={"field": "data.delegate_to"}
        )
    return people


def escalation(intent: Intent, task: HumanTask, actor: str, now: Micros) -> Change | None:
    """The task moves to its next level (the people there join those who may decide); None when
    there is no level left."""
    levels = task.spec.get("levels") or []
    if task.level >= len(levels):
        return None
    added = levels[task.level]["assignees"]
    change = Change(intent)
    details = {
        "task_id": task.task_id,
        "level": task.level + 1,
        "escalated_to": added,
        "assignees": list(dict.fromkeys([*task.assignees, *added])),
    }
    change.step(EventType.ESCALATED, Status.WAITING, actor, now, details=details)
    return change
