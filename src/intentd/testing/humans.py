"""People in a test: find the human task a run is waiting on, answer it as the person would (approve,
reject, submit a form), and read who was asked, reminded and escalated to.

The test answers with its own admin key, or as a named person (:meth:`Humans.as_person`: an approver
key with task roles, made through the API), so a flow's assignment rules are exercised as in
production: a person the task is not assigned to is refused (``NotAssignee``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from intentd.client import Client, HumanTask, RunTree
from intentd.client import Intent as IntentRecord

TASK_WAIT_SECONDS = 10.0  # a run's task shows up within this (its agent asks in a thread of its own)
POLL_SECONDS = 0.02
Run = str | IntentRecord | RunTree | HumanTask  # anything that names a run, or the task itself


class Humans:
    """Finds tasks with the test's admin key (an approver may not read runs) and answers them as
    ``person`` (None: the admin key itself)."""

    def __init__(
        self,
        client: Client,
        url: str,
        api_key: str,
        person: Client | None = None,
        people: list[Client] | None = None,
    ) -> None:
        self._client = client
        self._url = url
        self._admin_key = api_key
        self._decider = person or client
        self._people = people if people is not None else []  # every person's client, closed with the test

    def tasks(self, run: Run, *, state: str = "any") -> list[HumanTask]:
        """The human tasks of every intent of ``run``, oldest first (``state``: open, decided,
        timed_out, canceled or any)."""
        if isinstance(run, HumanTask):
            return [self._client.task(run.task_id)]
        found = [
            task
            for intent in self._client.tree(root_id(run)).intents
            for task in self._client.tasks(state=state, intent_id=intent.intent_id)
        ]
        return sorted(found, key=lambda task: task.assigned_at)

    def task(self, run: Run, *, timeout: float = TASK_WAIT_SECONDS) -> HumanTask:
        """The one open task of ``run``, once it is there: an ``AssertionError`` names what was found
        when there are none after ``timeout`` seconds, or several."""
        deadline = time.monotonic() + timeout
        while True:
            open_tasks = self.tasks(run, state="open")
            if len(open_tasks) > 1:
                titles = [t.human_task.get("title") for t in open_tasks]
                raise AssertionError(f"the run waits on {len(open_tasks)} tasks, not one: {titles}")
            if open_tasks:
                return open_tasks[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no open human task in the run after {timeout:g} s")
            time.sleep(POLL_SECONDS)

    def approve(self, run: Run, comment: str | None = None, **data: Any) -> HumanTask:
        return self.decide(run, "approve", comment=comment, data=data or None)

    def reject(self, run: Run, comment: str | None = None) -> HumanTask:
        return self.decide(run, "reject", comment=comment)

    def submit(
        self, run: Run, data: Mapping[str, Any], comment: str | None = None, outcome: str | None = None
    ) -> HumanTask:
        """Fill in the task's form with ``data`` and send it with ``outcome`` (by default the task's
        first allowed outcome: ``approved`` for an approval, ``submitted`` for a form)."""
        task = self._open(run)
        return self.decide(task, outcome or task.allowed_outcomes[0], comment=comment, data=data)

    def decide(
        self, run: Run, outcome: str, *, comment: str | None = None, data: Mapping[str, Any] | None = None
    ) -> HumanTask:
        """Answer the run's open task (or ``run``, a task) with ``outcome``; returns it decided."""
        task = self._open(run)
        return self._decider.decide_task(task.task_id, outcome, comment=comment, data=data).task

    def as_person(self, name: str, *, roles: Sequence[str] = ()) -> Humans:
        """The same, answering as ``name`` (an approver key holding ``roles``: it decides the tasks
        assigned to ``name`` or to ``role:<one of roles>``)."""
        body = {"name": name, "role": "approver", "task_roles": list(roles)}
        made = httpx.post(
            f"{self._url}/v1/keys", json=body, headers={"x-api-key": self._admin_key}, timeout=10
        )
        made.raise_for_status()
        person = Client(self._url, made.json()["api_key"])
        self._people.append(person)
        return Humans(self._client, self._url, self._admin_key, person=person, people=self._people)

    def close(self) -> None:
        for person in self._people:
            person.close()

    def _open(self, run: Run) -> HumanTask:
        return run if isinstance(run, HumanTask) else self.task(run)


def root_id(run: Run) -> str:
    """The id of the intent ``run`` names (a run's root, an intent, or a task's intent)."""
    if isinstance(run, RunTree):
        return run.root_intent_id
    if isinstance(run, str):
        return run
    return run.intent_id
