"""CrewAI's outputs as JSON: what an intent's result holds when a crew or a flow has run."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python

from intentd.model import JSON


def json_safe(value: Any) -> Any:
    """``value`` as JSON: pydantic models dumped, dataclasses and datetimes converted, anything else
    as its text (a flow's state or output may hold objects JSON has no word for)."""
    return to_jsonable_python(value, fallback=str)


def task_result(output: Any) -> JSON:
    """One task's output (a ``crewai.TaskOutput``)."""
    return {
        "name": output.name,
        "description": output.description,
        "agent": output.agent,
        "raw": output.raw,
        "pydantic": json_safe(output.pydantic) if output.pydantic is not None else None,
        "json": json_safe(output.json_dict) if output.json_dict is not None else None,
    }


def crew_result(output: Any, usage: dict[str, float]) -> JSON:
    """The result of a served crew (a ``crewai.CrewOutput``): the final answer as ``raw`` text, as
    ``pydantic`` (dumped) or ``json`` when the last task asked for structured output, every task's
    output in order under ``tasks``, and the tokens this intent used under ``usage``."""
    return {
        "raw": output.raw,
        "pydantic": json_safe(output.pydantic) if output.pydantic is not None else None,
        "json": json_safe(output.json_dict) if output.json_dict is not None else None,
        "tasks": [task_result(task) for task in output.tasks_output],
        "usage": dict(usage),
    }
