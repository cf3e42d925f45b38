"""What a human task tells people: the lifecycle's ``announce`` hook, turning each step of a task
into a :class:`~intentd.engine.notify.Notice` for the people concerned (roles resolved to the approver
keys holding them, plus the task's ``notify_email``), queued in the same transaction."""

from __future__ import annotations

from intentd.model import JSON, HumanTask, Intent
from intentd.store import Tx

from ..notify import Notice, Notifier


class Announcer:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def __call__(self, tx: Tx, kind: str, task: HumanTask, intent: Intent, details: JSON) -> None:
        spec = task.spec
        notice = Notice(
            kind=kind,
            namespace=task.namespace,
            task_id=task.task_id,
            intent_id=task.intent_id,
            intent_type=intent.intent_type,
            title=spec["title"],
            description=spec.get("description"),
            task_type=spec["task_type"],
            outcomes=tuple(spec["allowed_outcomes"]),
            recipients=await people(tx, task),
            at=task.updated_at,
            details=details,
            required_comment=spec["required_comment"],
            evidence_required=spec["evidence_required"],
            has_form=spec["form_schema"] is not None,
        )
        await self._notifier.enqueue(tx, notice)


async def people(tx: Tx, task: HumanTask) -> tuple[str, ...]:
    """The task's assignees as people: ``role:<name>`` is every live approver holding that role."""
    named = [a for a in task.assignees if not a.startswith("role:")]
    roles = {a.removeprefix("role:") for a in task.assignees if a.startswith("role:")}
    if roles:
        named += [name for name, held in await tx.approvers(task.namespace) if roles.intersection(held)]
    if task.spec.get("notify_email"):
        named.append(task.spec["notify_email"])
    return tuple(dict.fromkeys(named))
