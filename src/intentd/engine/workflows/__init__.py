"""Runs: parent intents that delegate to child intents, declared (a compiled ScenarioBundle that the
runtime interprets) or code-first (a supervisor agent journaling its spawns and steps). Both keep a
journal on the parent (``model.JournalEntry``); the effects that move them live with the other
effects (``effects/join.py``, ``effects/cascade.py``, ``timers/step.py``)."""

from .check import Problem, address_of, check_plan
from .declared import DeclaredRun
from .human import HumanAnswers
from .journal import child_entry, outcome, spawn
from .plan import Agent, Join, OnFailure, Plan, Retry, Step, StepKind, Task, infer_kind
from .plans import Plans
from .supervised import entry_ended

__all__ = [
    "Agent",
    "DeclaredRun",
    "HumanAnswers",
    "Join",
    "OnFailure",
    "Plan",
    "Plans",
    "Problem",
    "Retry",
    "Step",
    "StepKind",
    "Task",
    "address_of",
    "check_plan",
    "child_entry",
    "entry_ended",
    "infer_kind",
    "outcome",
    "spawn",
]
