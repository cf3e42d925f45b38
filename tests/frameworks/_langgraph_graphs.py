"""The graphs the LangGraph tests serve: a chat on a stand-in model, a review that pauses for a
person, and an editor that hands the writing to another agent. Each node notes its runs in a file,
so a test sees (across processes) which nodes ran again."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

from intentd.adapters.langgraph import intent_node


class Article(TypedDict, total=False):
    topic: str
    outline: str
    draft: str
    verdict: dict[str, Any]
    published: bool


def saver(path: Path) -> SqliteSaver:
    """A checkpointer on a file: what survives the worker process."""
    return SqliteSaver(sqlite3.connect(path, check_same_thread=False))


def note(counts: Path, node: str) -> None:
    with counts.open("a") as file:
        file.write(node + "\n")


def runs(counts: Path) -> list[str]:
    return counts.read_text().split() if counts.exists() else []


def scripted(text: str, tokens_in: int, tokens_out: int) -> GenericFakeChatModel:
    usage = {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
    return GenericFakeChatModel(messages=iter([AIMessage(text, usage_metadata=usage)]))


def chat_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Two model calls (12 + 20 tokens in, 5 + 7 out), each model scripted for one call only."""
    answer, polish = scripted("Leases expire.", 12, 5), scripted("Leases expire; renew them.", 20, 7)

    def answer_node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [answer.invoke(state["messages"])]}

    def polish_node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [polish.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("answer", answer_node)
    builder.add_node("polish", polish_node)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", "polish")
    builder.add_edge("polish", END)
    return builder.compile(checkpointer=checkpointer)


def review_graph(
    checkpointer: BaseCheckpointSaver[Any] | None, counts: Path
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """draft -> review (interrupt: a person approves) -> publish."""

    def draft(state: Article) -> Article:
        note(counts, "draft")
        return {"draft": f"A short piece about {state['topic']}"}

    def review(state: Article) -> Article:
        note(counts, "review")
        answer = interrupt(
            {
                "title": "Publish this draft?",
                "description": state["draft"],
                "assignees": ["role:editors"],
                "form": {"type": "object", "properties": {"headline": {"type": "string"}}},
            }
        )
        return {"verdict": answer}

    def publish(state: Article) -> Article:
        note(counts, "publish")
        return {"published": bool(state["verdict"]["approved"])}

    builder = StateGraph(Article)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_node("publish", publish)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "publish")
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=checkpointer)


def editor_graph(
    checkpointer: BaseCheckpointSaver[Any] | None, counts: Path, writer: str
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """plan -> write (an intent to ``writer``) -> finish."""

    def plan(state: Article) -> Article:
        note(counts, "plan")
        return {"outline": f"Why {state['topic']} matter"}

    def finish(state: Article) -> Article:
        note(counts, "finish")
        return {"published": True}

    builder = StateGraph(Article)
    builder.add_node("plan", plan)
    builder.add_node(
        "write",
        intent_node(
            writer,
            intent_type="intent.draft.v1",
            payload=lambda state: {"topic": state["topic"], "outline": state["outline"]},
            update=lambda result: {"draft": result["draft"]},
        ),
    )
    builder.add_node("finish", finish)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "write")
    builder.add_edge("write", "finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer)
