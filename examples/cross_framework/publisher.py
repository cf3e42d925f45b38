"""The publisher: an OpenAI Agents SDK agent served as an intentd agent, the end of the chain.

Its ``publish`` tool writes the article into the work directory (``published/``): the side effect
the whole run exists for, which must happen exactly once.

Run: ``INTENTD_URL=... INTENTD_API_KEY=... OPENAI_AGENTS_DISABLE_TRACING=1
python -m examples.cross_framework.publisher``
"""

from __future__ import annotations

from typing import Any

from agents import Agent, Usage, function_tool, set_tracing_disabled
from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call

from intentd.adapters.openai_agents import serve_agent
from intentd.worker import Worker

from .process import PUBLISHER, note_run, serve, workdir

set_tracing_disabled(True)  # no trace export, whatever the environment holds


@function_tool
def publish(title: str, body: str) -> str:
    """Publish an article; returns where it went."""
    note_run("publisher.publish")
    folder = workdir() / "published"
    folder.mkdir(exist_ok=True)
    path = folder / f"{title.lower().replace(' ', '-')}.md"
    with path.open("a") as file:  # "a": a second publication would show as a second copy
        file.write(f"# {title}\n\n{body}\n")
    return f"published as {path.name}"


def _answer(call: ModelCall) -> ModelStep:
    """First turn: publish the article the input carries; next turn: say where it went."""
    note_run("publisher.model")
    items = call.input if isinstance(call.input, list) else [{"role": "user", "content": call.input}]
    published = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
    tokens = Usage(requests=1, input_tokens=50, output_tokens=10, total_tokens=60)
    if published:
        return ModelStep(output=[assistant_message(f"Done: {published[-1]['output']}")], usage=tokens)
    article = str(items[0]["content"]).split("\n\n", 1)[-1]
    arguments = {"title": "Durable agents", "body": article}
    return ModelStep(output=[function_call("publish", arguments, call_id="call-publish")], usage=tokens)


def stand_in_model() -> ScriptedModel:
    """A stand-in for a real model (the SDK's own ``ScriptedModel``). For a real one: pass
    ``model="gpt-4o"`` to the Agent instead."""
    return ScriptedModel([ModelStep.respond(_answer)] * 10_000)  # a list: one step per model turn


def register(worker: Worker) -> None:
    agent: Agent[Any] = Agent(
        name="publisher",
        instructions="Publish the article you are given.",
        tools=[publish],
        model=stand_in_model(),
    )
    serve_agent(worker, PUBLISHER, agent)


if __name__ == "__main__":
    serve("publisher", register)
