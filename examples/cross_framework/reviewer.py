"""The reviewer: an AutoGen team served as an intentd agent.

    reviewer (an AssistantAgent checks the draft) -> publisher (an IntentAgent: an intent to the
    OpenAI Agents publisher) -> the team stops

When the publisher's turn comes, the run stops there: the team's state is journaled on the
reviewer's intent, the publisher's intent is spawned as its child and the reviewer's intent waits
without a lease. Once the publisher has finished, whichever reviewer process takes the intent loads
the state and the publisher's result is that turn's answer (the reviewer's model is not asked again).

Run: ``INTENTD_URL=... INTENTD_API_KEY=... python -m examples.cross_framework.reviewer``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import SourceMatchTermination
from autogen_agentchat.messages import BaseChatMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core.models import CreateResult, LLMMessage, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from intentd.adapters.autogen import IntentAgent, serve_team
from intentd.model import JSON
from intentd.worker import Worker

from .process import PUBLISHER, REVIEWER, note_run, serve

VERDICT = "Accurate and clear; the second sentence says what a lease is for. Approved for publication."


class StandInModel(ReplayChatCompletionClient):
    """A stand-in for a real model, answering the same verdict every time. For a real one:
    ``OpenAIChatCompletionClient(model="gpt-4o")`` (autogen-ext[openai]) in :func:`make_team`."""

    def __init__(self) -> None:
        verdict = CreateResult(
            finish_reason="stop", content=VERDICT, usage=RequestUsage(80, 20), cached=False
        )
        super().__init__([verdict])

    async def create(self, messages: Sequence[LLMMessage], **options: Any) -> CreateResult:
        note_run("reviewer.model")
        return await super().create(messages, **options)


def publish_request(messages: Sequence[BaseChatMessage]) -> JSON:
    """What the publisher is sent: the draft (the team's task) with the reviewer's verdict."""
    draft, verdict = messages[0].to_text(), messages[-1].to_text()
    return {"input": f"Publish this article.\n\n{draft}", "review": verdict}


def make_team() -> RoundRobinGroupChat:
    """A new team per run: AutoGen keeps a team's unfinished turn in memory."""
    reviewer = AssistantAgent(
        "reviewer", model_client=StandInModel(), system_message="Check the draft for accuracy and clarity."
    )
    publisher = IntentAgent(
        "publisher",
        PUBLISHER,
        description="Publishes approved articles",
        intent_type="intent.publish.v1",
        payload=publish_request,
    )
    return RoundRobinGroupChat(
        [reviewer, publisher], termination_condition=SourceMatchTermination(["publisher"])
    )


def register(worker: Worker) -> None:
    serve_team(worker, REVIEWER, make_team, input=lambda payload: str(payload["draft"]))


if __name__ == "__main__":
    serve("reviewer", register)
