"""The researcher: a LangGraph graph served as an intentd agent.

    research (a chat model takes notes) -> hand_to_writer (an intent to the CrewAI writer) -> END

The graph's checkpointer is a SQLite file in the work directory, and the thread is the intent: when
the writer's intent has finished, the graph goes on from its last checkpoint (``research`` does not
run again) and ``hand_to_writer`` returns the writer's result.

Run: ``INTENTD_URL=... INTENTD_API_KEY=... python -m examples.cross_framework.researcher``
"""

from __future__ import annotations

import itertools
import sqlite3
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from intentd.adapters.langgraph import intent_node, serve_graph
from intentd.worker import Worker

from .process import RESEARCHER, WRITER, note_run, progress, serve, workdir

NOTES = (
    "- An intent is one unit of work with one id, persisted before anyone works on it.\n"
    "- A worker holds a lease while it works; a crashed worker's lease runs out and another takes over.\n"
    "- Waiting for a person or another agent holds no lease, so the wait survives restarts."
)


class Research(TypedDict, total=False):
    topic: str
    notes: str
    article: dict[str, Any]  # what the writer (and the agents after it) made of the notes


def stand_in_model() -> BaseChatModel:
    """A stand-in for a real chat model, answering the same notes every time. For a real one:
    ``return ChatOpenAI(model="gpt-4o")`` (langchain-openai)."""
    usage = {"input_tokens": 40, "output_tokens": 60, "total_tokens": 100}
    return GenericFakeChatModel(messages=itertools.cycle([AIMessage(NOTES, usage_metadata=usage)]))


def build_graph(checkpoints: str) -> CompiledStateGraph[Any, Any, Any, Any]:
    model = stand_in_model()

    def research(state: Research) -> Research:
        note_run("researcher.research")
        answer = model.invoke([HumanMessage(f"Take short notes for an article about {state['topic']}.")])
        notes = str(answer.content)
        progress(f"took {len(notes.splitlines())} notes on {state['topic']}")
        return {"notes": notes}

    hand_to_writer = intent_node(
        WRITER,
        intent_type="intent.draft.v1",
        payload=lambda state: {"topic": state["topic"], "notes": state["notes"]},
        update=lambda result: {"article": result},
    )
    builder = StateGraph(Research)
    builder.add_node("research", research)
    builder.add_node("hand_to_writer", hand_to_writer)
    builder.add_edge(START, "research")
    builder.add_edge("research", "hand_to_writer")
    builder.add_edge("hand_to_writer", END)
    return builder.compile(checkpointer=SqliteSaver(sqlite3.connect(checkpoints, check_same_thread=False)))


def register(worker: Worker) -> None:
    serve_graph(worker, RESEARCHER, build_graph(str(workdir() / "researcher.db")))


if __name__ == "__main__":
    serve("researcher", register)
