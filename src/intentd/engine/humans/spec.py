"""A ``human_task`` as the engine keeps it: the wire's spelling normalised once, when the task opens,
into one shape (outcomes resolved from the task type, escalation levels as a list, reminder defaults
filled in). Tasks store this shape, so reading one never guesses."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from intentd.model import JSON, ValidationFailed

from .outcomes import DEFAULT_OUTCOMES, spelled

DEFAULT_MAX_REMINDERS = 3  # reminders configured without a count: three, then escalate (or stop)
TIMEOUT_FALLBACKS = ("cancel", "fail", "default_outcome", "escalate")


def normalise(raw: JSON, *, default_title: str, default_assignees: tuple[str, ...] = ()) -> JSON:
    """The stored spec of a task; ``ValidationFailed`` names the field (under ``human_task.``)."""
    task_type = str(raw.get("task_type") or "approval")
    if task_type not in DEFAULT_OUTCOMES:
        _invalid("task_type", f"task_type must be one of {', '.join(DEFAULT_OUTCOMES)}")
    outcomes = [spelled(o) for o in raw.get("allowed_outcomes") or DEFAULT_OUTCOMES[task_type]]
    spec: JSON = {
        "title": raw.get("title") or default_title,
        "description": raw.get("description"),
        "task_type": task_type,
        "allowed_outcomes": list(dict.fromkeys(outcomes)),
        "required_comment": bool(raw.get("required_comment")),
        "evidence_required": bool(raw.get("evidence_required")),
        "form_schema": _form_schema(raw.get("form_schema")),
        "assignees": list(raw.get("assignees") or default_assignees),
        "reminders": _reminders(raw),
        "levels": _levels(raw.get("escalate_to")),
        "timeout_seconds": raw.get("timeout_seconds"),
        "on_timeout": raw.get("on_timeout") or "cancel",
        "default_outcome": spelled(raw["default_outcome"]) if raw.get("default_outcome") else None,
        "notify_email": raw.get("notify_email"),
    }
    _check_fallback(spec)
    return spec


def _reminders(raw: JSON) -> JSON | None:
    after = raw.get("remind_after_seconds")
    if after is None:
        return None
    count = raw.get("max_reminders")
    return {
        "after_seconds": after,
        "interval_seconds": raw.get("remind_interval_seconds") or after,
        "max": DEFAULT_MAX_REMINDERS if count is None else count,
    }


def _levels(escalate_to: Any) -> list[JSON]:
    """``escalate_to`` as levels: one assignee, a list of assignees (one level each) or levels."""
    if escalate_to is None:
        return []
    items = escalate_to if isinstance(escalate_to, list) else [escalate_to]
    levels = []
    for item in items:
        if isinstance(item, dict):
            levels.append({"assignees": list(item["assignees"]), "after_seconds": item.get("after_seconds")})
        else:
            levels.append({"assignees": [str(item)], "after_seconds": None})
    return levels


def _form_schema(schema: Any) -> JSON | None:
    if schema is None:
        return None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        _invalid("form_schema", f"form_schema is not a valid JSON Schema: {exc.message}")
    return dict(schema)


def _check_fallback(spec: JSON) -> None:
    if spec["on_timeout"] not in TIMEOUT_FALLBACKS:
        _invalid("on_timeout", f"on_timeout must be one of {', '.join(TIMEOUT_FALLBACKS)}")
    default = spec["default_outcome"]
    if spec["on_timeout"] == "default_outcome" and default is None:
        _invalid("default_outcome", "on_timeout default_outcome needs a default_outcome")
    if default is not None and default not in spec["allowed_outcomes"]:
        _invalid("default_outcome", f"default_outcome must be one of {', '.join(spec['allowed_outcomes'])}")


def _invalid(field: str, message: str) -> None:
    raise ValidationFailed(message, details={"field": f"human_task.{field}"})


def as_asked(spec: JSON) -> JSON:
    """The stored spec in AXP's spelling (``wire.HumanTaskSpec``), as the API shows a task."""
    reminders = spec.get("reminders") or {}
    levels = spec.get("levels") or []
    shown: JSON = {
        "title": spec["title"],
        "description": spec.get("description"),
        "task_type": spec["task_type"],
        "allowed_outcomes": spec["allowed_outcomes"],
        "required_comment": spec["required_comment"],
        "evidence_required": spec["evidence_required"],
        "form_schema": spec.get("form_schema"),
        "assignees": spec["assignees"],
        "remind_after_seconds": reminders.get("after_seconds"),
        "remind_interval_seconds": reminders.get("interval_seconds"),
        "max_reminders": reminders.get("max"),
        "escalate_to": [{k: v for k, v in level.items() if v is not None} for level in levels] or None,
        "timeout_seconds": spec.get("timeout_seconds"),
        "on_timeout": spec["on_timeout"],
        "default_outcome": spec.get("default_outcome"),
        "notify_email": spec.get("notify_email"),
    }
    return {k: v for k, v in shown.items() if v is not None}
