"""The agents the OpenAI Agents adapter's tests serve, on the SDK's own stand-in model
(``agents.testing.ScriptedModel``). Each model step is a responder that answers from what the model is
given (the tool outputs so far), not from a position in a script, so a run continued from its saved
state in another process gets the same answers. Tools and model calls append their name to a counts
file, so a test sees what ran, in any process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents import Agent, Usage, function_tool, set_tracing_disabled
from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call
from pydantic import BaseModel

from intentd.adapters.openai_agents import intent_tool
from intentd.client import AsyncClient

set_tracing_disabled(True)  # research notes §4: no trace export, whatever the environment holds

TOKENS = Usage(requests=1, input_tokens=10, output_tokens=3, total_tokens=13)


def runs(counts: Path) -> list[str]:
    return counts.read_text().split() if counts.exists() else []


def _ran(counts: Path, name: str) -> None:
    with counts.open("a") as file:
        file.write(name + "\n")


def _outputs(call: ModelCall) -> dict[str, str]:
    """The tool outputs the model is given, by call id."""
    items = call.input if isinstance(call.input, list) else []
    return {
        str(item["call_id"]): str(item.get("output"))
        for item in items
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    }


def _model(counts: Path, reply: Any, turns: int = 6) -> ScriptedModel:
    def step(call: ModelCall) -> ModelStep:
        _ran(counts, "model")
        return ModelStep(output=reply(_outputs(call)), usage=TOKENS)

    return ScriptedModel([ModelStep.respond(step)] * turns)


class Answer(BaseModel):
    text: str
    confidence: float


def answering_agent() -> Agent[Any]:
    """One model turn, a structured final output."""
    answer = Answer(text="Leases expire unless renewed.", confidence=0.9)
    model = ScriptedModel([ModelStep(output=[assistant_message(answer.model_dump_json())], usage=TOKENS)])
    return Agent(name="answerer", instructions="Answer briefly.", model=model, output_type=Answer)


def ops_agent(counts: Path) -> Agent[Any]:
    """Looks a service up, then deploys it: ``deploy`` needs a person's approval."""

    @function_tool
    def lookup(service: str) -> str:
        """Look a service's current version up."""
        _ran(counts, "lookup")
        return f"{service} runs v1"

    @function_tool(needs_approval=True)
    def deploy(service: str, version: str) -> str:
        """Deploy a version of a service."""
        _ran(counts, "deploy")
        return f"deployed {service} {version}"

    def reply(outputs: dict[str, str]) -> list[Any]:
        if "call-lookup" not in outputs:
            return [function_call("lookup", {"service": "api"}, call_id="call-lookup")]
        if "call-deploy" not in outputs:
            return [function_call("deploy", {"service": "api", "version": "v2"}, call_id="call-deploy")]
        return [assistant_message(f"Deploy: {outputs['call-deploy']}")]

    return Agent(
        name="ops", instructions="Deploy what is asked.", tools=[lookup, deploy], model=_model(counts, reply)
    )


class DraftRequest(BaseModel):
    topic: str
    words: int


def editor_agent(
    counts: Path, writer: str, *, words: Any = 300, client: AsyncClient | None = None
) -> Agent[Any]:
    """Outlines (a plain tool), has the writer agent draft ``words`` words (an intent tool), then
    answers with the draft, or with what the tool said instead."""

    @function_tool
    def outline(topic: str) -> str:
        """Outline a piece."""
        _ran(counts, "outline")
        return f"Why {topic} matter"

    write = intent_tool(
        writer,
        name="write",
        description="Have the writer agent draft a piece",
        intent_type="intent.draft.v1",
        params=DraftRequest,
        client=client,
    )

    def reply(outputs: dict[str, str]) -> list[Any]:
        if "call-outline" not in outputs:
            return [function_call("outline", {"topic": "leases"}, call_id="call-outline")]
        if "call-write" not in outputs:
            arguments = {"topic": outputs["call-outline"], "words": words}
            return [function_call("write", arguments, call_id="call-write")]
        try:
            return [assistant_message(f"Done: {json.loads(outputs['call-write'])['draft']}")]
        except ValueError:
            return [assistant_message(f"Failed: {outputs['call-write']}")]

    return Agent(name="editor", tools=[outline, write], model=_model(counts, reply))
