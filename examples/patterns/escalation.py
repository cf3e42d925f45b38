"""Escalation to a human: an import fails on a bad row; a person decides to retry it or to skip it.

Declared: ``on_failure: escalate`` turns the step's final failure into a human step for
``escalate_to`` (outcomes ``retry``, ``skip``, ``abort``); the run waits WAITING_FOR_HUMAN until it is
answered with ``POST /v1/intents/{run}/resume {"task_result": {"outcome": ...}}``. ``retry`` starts a
fresh round of the step, ``skip`` goes on without its output, ``abort`` fails the run. Code-first: the
supervisor catches ``ChildFailed`` and spawns a question to the operators' queue, an address no
worker serves; a person completes that intent with the decision.

This script plays the person: it follows the run's events until the question is asked, and answers.
Start a server first (`make serve`), then: `.venv/bin/python examples/patterns/escalation.py`.
"""

from collections import Counter
from itertools import count

from styles import run

from intentd.client import Client
from intentd.worker import ChildFailed, FatalError, Worker

IMPORTER = "agent://demo/escalation/importer"
PUBLISHER = "agent://demo/escalation/publisher"
OPS_DESK = "agent://demo/escalation/ops-desk"  # code-first: people answer what is sent here
LOADER = "agent://demo/escalation/loader"  # the code-first supervisor

worker = Worker(concurrency=4)
calls: Counter[str] = Counter()  # per run: the first import hits a bad row


class BadRow(FatalError):
    """Fails the import for good (no redelivery): the failure is a person's to decide."""


@worker.agent(IMPORTER)
def load_rows(ctx, intent):
    calls[intent.root_intent_id] += 1
    if calls[intent.root_intent_id] == 1:
        raise BadRow(f"{intent.payload['file']}: row 17 has no price")
    return {"rows": 3}


@worker.agent(PUBLISHER)
def publish(ctx, intent):
    return {"published": intent.payload["rows"] or 0}


BUNDLE = {
    "scenario_id": "demo.escalation",
    "agents": [{"role": "importer", "address": IMPORTER}, {"role": "publisher", "address": PUBLISHER}],
    "humans": [{"role": "ops"}],
    "workflow": {
        "steps": [
            {
                "step_id": "import",
                "assigned_to": "importer",
                "input": {"file": "${run.payload.file}"},
                "on_failure": "escalate",
                "escalate_to": "ops",
                "on_success": "publish",
            },
            {
                "step_id": "publish",
                "assigned_to": "publisher",
                "input": {"rows": "${steps.import.output.rows}"},  # null once the import is skipped
            },
        ]
    },
    "intent": {"type": "intent.demo.import.v1", "payload": {"file": "prices.csv"}},
}


def entries(client: Client, run_id: str) -> str:
    """The run's journal: each key and how it ended."""
    return " ".join(f"{entry.key}={entry.status}" for entry in client.journal(run_id))


def declared(client: Client) -> str:
    outcomes = []
    for decision in ("retry", "skip"):
        run_id = client.apply_scenario(BUNDLE).run_id
        for event in client.observe(run_id, timeout=30):
            if event.event_type == "intent.step_escalated":  # the run now waits for a person
                break
        # On the run: forwarded to its one pending human step (or answer the step's own intent,
        # event.details["escalation_intent_id"]).
        client.resume(run_id, {"task_result": {"outcome": decision, "comment": "checked the file"}})
        done = client.wait_for(run_id, timeout=30)
        outcomes.append(f"{decision}: {done.status} {entries(client, run_id)} -> {done.result['output']}")
    return " | ".join(outcomes)


@worker.agent(LOADER)
def load(ctx, intent):
    rows = import_rows(ctx, intent.payload["file"])
    return ctx.spawn(PUBLISHER, {"rows": rows}, key="publish").result()


def import_rows(ctx, file: str) -> int | None:
    """The imported rows, asking ops after each failure; None when they skip the import. The keys
    count the rounds, so a replay of the handler finds each child and answer it had."""
    for attempt in count(1):
        try:
            return ctx.spawn(IMPORTER, {"file": file}, key=f"import-{attempt}").result()["rows"]
        except ChildFailed as failed:
            question = {"asks": "retry, skip or abort?", "error": failed.error}
            decision = ctx.spawn(OPS_DESK, question, key=f"escalation-{attempt}").result()["outcome"]
            if decision == "skip":
                return None
            if decision == "abort":
                raise FatalError(f"aborted by ops: {failed.error['message']}") from failed
    return None  # not reached: count() never ends


def code_first(client: Client) -> str:
    outcomes = []
    for decision in ("retry", "skip"):
        loader = client.submit(LOADER, "intent.demo.import.v1", {"file": "prices.csv"})
        for event in client.observe(loader.intent_id, timeout=30):
            if event.event_type == "intent.step_started" and event.details["to"] == OPS_DESK:
                question = event.details["child_intent_id"]
                break
        client.resolve(question, "COMPLETED", result={"outcome": decision})  # the person's answer
        done = client.wait_for(loader.intent_id, timeout=30)
        outcomes.append(f"{decision}: {done.status} {entries(client, loader.intent_id)} -> {done.result}")
    return " | ".join(outcomes)


if __name__ == "__main__":
    run([worker], declared, code_first)
