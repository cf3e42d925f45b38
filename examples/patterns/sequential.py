"""Sequential chain: researcher → writer → reviewer, each step's input built from the earlier outputs.

Declared: a three-step workflow; ``${steps.research.output.notes}`` hands one step's output to the
next, and the runtime runs the steps one after another as child intents of the run. Code-first: an
editor agent spawns the three in turn, parking (holding no worker) while each one runs.

Start a server first (`make serve`), then: `.venv/bin/python examples/patterns/sequential.py`
(add `declared` or `code-first` to run one style). See docs/patterns.md.
"""

from styles import run

from intentd.client import Client
from intentd.worker import Worker

RESEARCHER = "agent://demo/sequential/researcher"
WRITER = "agent://demo/sequential/writer"
REVIEWER = "agent://demo/sequential/reviewer"
EDITOR = "agent://demo/sequential/editor"  # the code-first supervisor

worker = Worker(concurrency=8)


@worker.agent(RESEARCHER)
def research(ctx, intent):
    return {"notes": [f"{intent.payload['topic']}: finding {n}" for n in (1, 2)]}


@worker.agent(WRITER)
def write(ctx, intent):
    return {"text": "; ".join(intent.payload["notes"])}


@worker.agent(REVIEWER)
def review(ctx, intent):
    return {"final": intent.payload["draft"].upper(), "title": intent.payload["title"]}


BUNDLE = {
    "scenario_id": "demo.sequential",
    "agents": [
        {"role": "researcher", "address": RESEARCHER},
        {"role": "writer", "address": WRITER},
        {"role": "reviewer", "address": REVIEWER},
    ],
    "workflow": {
        "steps": [
            {
                "step_id": "research",
                "assigned_to": "researcher",
                "input": {"topic": "${run.payload.topic}"},
                "on_success": "draft",
            },
            {
                "step_id": "draft",
                "assigned_to": "writer",
                "input": {"notes": "${steps.research.output.notes}"},
                "on_success": "review",
            },
            {
                "step_id": "review",
                "assigned_to": "reviewer",
                "input": {"draft": "${steps.draft.output.text}", "title": "On ${run.payload.topic}"},
            },
        ]
    },
    "intent": {"type": "intent.demo.article.v1", "payload": {"topic": "leases"}},
}


def declared(client: Client) -> str:
    run_id = client.apply_scenario(BUNDLE).run_id
    tree = client.wait_for_run(run_id, timeout=30)
    done = client.get(run_id)  # result: {"output": <the last step's output>, "steps": {...}}
    steps = " -> ".join(str(step.step_key) for step in tree.children(run_id))
    return f"{done.status} {steps}: {done.result['output']}"


@worker.agent(EDITOR)
def edit(ctx, intent):
    topic = intent.payload["topic"]
    notes = ctx.spawn(RESEARCHER, {"topic": topic}, key="research").result()["notes"]
    text = ctx.spawn(WRITER, {"notes": notes}, key="draft").result()["text"]
    return ctx.spawn(REVIEWER, {"draft": text, "title": f"On {topic}"}, key="review").result()


def code_first(client: Client) -> str:
    editor = client.submit(EDITOR, "intent.demo.article.v1", {"topic": "leases"})
    tree = client.wait_for_run(editor.intent_id, timeout=30)
    done = client.get(editor.intent_id)
    steps = " -> ".join(str(step.step_key) for step in tree.children(editor.intent_id))
    return f"{done.status} {steps}: {done.result}"


if __name__ == "__main__":
    run([worker], declared, code_first)
