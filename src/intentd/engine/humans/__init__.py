"""Human tasks: a person's part in the work, as a durable wait on an intent (docs/humans.md).

``spec`` normalises what is asked, ``outcomes`` says what an answer does, ``answers`` asks and answers
inside a transaction, ``schedule`` computes reminders, escalations and timeouts, ``lifecycle`` keeps the
task in step with its intent's events and fires its timer, and ``service`` is the API's entry."""

from .lifecycle import HumanTasks
from .service import HumanTaskService, TaskView, may_decide

__all__ = ["HumanTaskService", "HumanTasks", "TaskView", "may_decide"]
