"""When a task's next reminder, escalation or timeout falls due: a pure function of its spec and
where it stands, so a restart (or another replica) computes the same schedule from the stored task.

Reminders count from the start of the current escalation level: the first ``after_seconds`` after it,
then every ``interval_seconds``, ``max`` of them. The next level starts at its own ``after_seconds``
when it has one, else when the reminders have run out (when the next one would have been due). The
timeout counts from the task's opening, or from the current level's start when it escalates."""

from __future__ import annotations

from enum import IntEnum

from intentd.model import HumanTask, Micros


class Due(IntEnum):  # the order breaks ties: at the same moment, remind before escalating before timing out
    REMIND = 0
    ESCALATE = 1
    TIMEOUT = 2


def seconds(value: float) -> Micros:
    return int(value * 1_000_000)


def next_due(task: HumanTask) -> tuple[Micros, Due] | None:
    spec = task.spec
    start = task.level_started_at
    reminders = spec.get("reminders")
    candidates: list[tuple[Micros, Due]] = []
    if reminders and task.reminders_sent < reminders["max"]:
        after = reminders["after_seconds"] + task.reminders_sent * reminders["interval_seconds"]
        candidates.append((start + seconds(after), Due.REMIND))
    levels = spec.get("levels") or []
    if task.level < len(levels):
        after_seconds = levels[task.level].get("after_seconds")
        if after_seconds is not None:
            candidates.append((start + seconds(after_seconds), Due.ESCALATE))
        elif reminders:
            exhausted = reminders["after_seconds"] + reminders["max"] * reminders["interval_seconds"]
            candidates.append((start + seconds(exhausted), Due.ESCALATE))
    timeout = spec.get("timeout_seconds")
    if timeout:
        base = start if spec.get("on_timeout") == "escalate" else task.created_at
        candidates.append((base + seconds(timeout), Due.TIMEOUT))
    return min(candidates) if candidates else None
