"""Hierarchy: an editor hands each section of a report to a section lead, who hands the research and
the writing to sub-workers. The run's tree has children (the sections) and grandchildren (their steps).

Declared: a ``parallel`` step whose branches are ``subflow`` steps; each subflow is a child run with
steps of its own, where ``${run.payload.topic}`` is the subflow's input. Code-first: the editor agent
spawns a section lead per section, and each lead (a supervisor too) spawns a researcher and a writer.
Every intent belongs to the one run: ``client.tree(id)`` reads all of it from any of its members.

Start a server first (`make serve`), then: `.venv/bin/python examples/patterns/hierarchy.py`.
"""

from styles import run

from intentd.client import Client, RunTree
from intentd.worker import Worker

RESEARCHER = "agent://demo/hierarchy/researcher"
WRITER = "agent://demo/hierarchy/writer"
EDITOR = "agent://demo/hierarchy/editor"  # code-first supervisors: the editor and its section leads
SECTION_LEAD = "agent://demo/hierarchy/section-lead"
SECTIONS = ["leases", "journals"]

worker = Worker(concurrency=8)


@worker.agent(RESEARCHER)
def research(ctx, intent):
    return {"facts": [f"{intent.payload['topic']} fact {n}" for n in (1, 2)]}


@worker.agent(WRITER)
def write(ctx, intent):
    return {"text": f"{intent.payload['topic'].title()}: {' and '.join(intent.payload['facts'])}."}


SECTION = {  # a subflow: its own steps, run as a child run of the report
    "steps": [
        {
            "step_id": "research",
            "assigned_to": "researcher",
            "input": {"topic": "${run.payload.topic}"},
            "on_success": "write",
        },
        {
            "step_id": "write",
            "assigned_to": "writer",
            "input": {"topic": "${run.payload.topic}", "facts": "${steps.research.output.facts}"},
        },
    ]
}
BUNDLE = {
    "scenario_id": "demo.hierarchy",
    "agents": [{"role": "researcher", "address": RESEARCHER}, {"role": "writer", "address": WRITER}],
    "workflow": {
        "steps": [
            {
                "step_id": "sections",
                "branches": [{"step_id": s, "workflow": SECTION, "input": {"topic": s}} for s in SECTIONS],
                "join": {"policy": "all"},
            }
        ]
    },
    "intent": {"type": "intent.demo.report.v1", "payload": {"title": "Durable agents"}},
}


def shape(tree: RunTree, root: str) -> str:
    """How many intents the run has at each depth below its root."""
    level, counts = [root], []
    while level := [child.intent_id for parent in level for child in tree.children(parent)]:
        counts.append(len(level))
    return f"{counts[0]} children, {counts[1]} grandchildren"


def declared(client: Client) -> str:
    run_id = client.apply_scenario(BUNDLE).run_id
    tree = client.wait_for_run(run_id, timeout=30)
    branches = client.get(run_id).result["output"]["branches"]
    # A subflow's output is its child run's result: {"output": <its last step's>, "steps": {...}}.
    texts = [branches[s]["output"]["text"] for s in SECTIONS]
    return f"{shape(tree, run_id)}: {' '.join(texts)}"


@worker.agent(EDITOR)
def edit(ctx, intent):
    sections = ctx.gather(*(ctx.spawn(SECTION_LEAD, {"topic": s}, key=s) for s in SECTIONS))
    return {"report": " ".join(section["text"] for section in sections)}


@worker.agent(SECTION_LEAD)
def lead(ctx, intent):
    topic = intent.payload["topic"]
    facts = ctx.spawn(RESEARCHER, {"topic": topic}, key="research").result()["facts"]
    return ctx.spawn(WRITER, {"topic": topic, "facts": facts}, key="write").result()


def code_first(client: Client) -> str:
    editor = client.submit(EDITOR, "intent.demo.report.v1", {"title": "Durable agents"})
    tree = client.wait_for_run(editor.intent_id, timeout=30)
    return f"{shape(tree, editor.intent_id)}: {client.get(editor.intent_id).result['report']}"


if __name__ == "__main__":
    run([worker], declared, code_first)
