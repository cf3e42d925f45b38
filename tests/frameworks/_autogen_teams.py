"""The teams the AutoGen adapter's tests serve, on AutoGen's own stand-in model
(``ReplayChatCompletionClient``). Every model call and tool run appends a line to a counts file, and a
model answers with the script's next response *after those of its earlier calls in the file*: a turn
that ran again, in this process or another, would take the next response and show in the counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import Handoff
from autogen_agentchat.conditions import HandoffTermination, TextMentionTermination
from autogen_agentchat.teams import RoundRobinGroupChat, Swarm
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, LLMMessage, ModelFamily, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from intentd.adapters.autogen import IntentAgent, intent_tool

TOOLS_MODEL = ModelInfo(
    vision=False,
    function_calling=True,
    json_output=False,
    family=ModelFamily.UNKNOWN,
    structured_output=False,
)


def runs(counts: Path) -> list[str]:
    return counts.read_text().split() if counts.exists() else []


def _ran(counts: Path, name: str) -> None:
    with counts.open("a") as file:
        file.write(name + "\n")


def said(text: str) -> CreateResult:
    return CreateResult(finish_reason="stop", content=text, usage=RequestUsage(10, 3), cached=False)


def calls(call_id: str, name: str, arguments: str = "{}") -> CreateResult:
    call = FunctionCall(id=call_id, name=name, arguments=arguments)
    return CreateResult(
        finish_reason="function_calls", content=[call], usage=RequestUsage(10, 3), cached=False
    )


class CountedReplay(ReplayChatCompletionClient):
    """A replay client whose place in its script is the number of its calls in the counts file; it
    records the types of the messages each call is given (a line in ``<counts>.given``), too."""

    def __init__(self, script: Sequence[CreateResult], counts: Path, label: str) -> None:
        super().__init__(list(script), model_info=TOOLS_MODEL)
        self._counts, self._label = counts, label

    async def create(self, messages: Sequence[LLMMessage], **options: Any) -> CreateResult:
        self._current_index = runs(self._counts).count(self._label)
        _ran(self._counts, self._label)
        _ran(self._counts.with_suffix(".given"), ",".join(type(m).__name__ for m in messages))
        return await super().create(messages, **options)


def answering_team(counts: Path) -> RoundRobinGroupChat:
    writer = AssistantAgent(
        "writer",
        model_client=CountedReplay([said("Leases expire unless renewed. TERMINATE")], counts, "model"),
    )
    return RoundRobinGroupChat([writer], termination_condition=TextMentionTermination("TERMINATE"))


def ops_team(counts: Path) -> Swarm:
    """Looks the service up, asks the person which region (a handoff to ``user``), then deploys."""

    def lookup(service: str) -> str:
        """Look a service's current version up."""
        _ran(counts, "lookup")
        return f"{service} runs v1"

    script = [
        calls("call-lookup", "lookup", '{"service": "api"}'),
        calls("call-ask", "transfer_to_user"),
        said("Deploying api v2 to the region given. TERMINATE"),
    ]
    planner = AssistantAgent(
        "planner",
        model_client=CountedReplay(script, counts, "model"),
        tools=[lookup],
        handoffs=[Handoff(target="user", message="Which region should api v2 go to?")],
    )
    stop = HandoffTermination(target="user") | TextMentionTermination("TERMINATE")
    return Swarm([planner], termination_condition=stop)


def editor_with_writer_agent(counts: Path, writer: str, **options: Any) -> RoundRobinGroupChat:
    """An editor outlines, an intent agent (another intentd agent) writes, the editor approves."""
    script = [said("Outline: why leases matter"), said("Approved. TERMINATE")]
    editor = AssistantAgent("editor", model_client=CountedReplay(script, counts, "model"))
    author = IntentAgent(
        "author", writer, description="Writes a draft", intent_type="intent.draft.v1", **options
    )
    return RoundRobinGroupChat([editor, author], termination_condition=TextMentionTermination("TERMINATE"))


def editor_with_write_tool(counts: Path, writer: str, **options: Any) -> RoundRobinGroupChat:
    """An editor that calls a ``write`` intent tool, then answers from its result."""
    write = intent_tool(
        writer, name="write", description="Have a draft written", intent_type="intent.draft.v1", **options
    )
    script = [calls("call-write", "write", '{"task": "why leases matter"}'), said("Done. TERMINATE")]
    editor = AssistantAgent("editor", model_client=CountedReplay(script, counts, "model"), tools=[write])
    return RoundRobinGroupChat([editor], termination_condition=TextMentionTermination("TERMINATE"))


def texts(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(m["source"], m["text"]) for m in result["messages"]]
