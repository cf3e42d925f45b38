"""A flow with a ``@human_feedback`` pause, for the served-flow tests (in this process and in a
worker subprocess). Each method appends its name to the file ``state["counts"]`` names, so a test
sees how often each ran, across processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crewai.flow.flow import Flow, listen, start
from crewai.flow.human_feedback import human_feedback

from intentd.adapters.crewai import IntentdFeedback


def ran(counts: str, method: str) -> None:
    with Path(counts).open("a") as file:
        file.write(method + "\n")


def runs(counts: Path) -> list[str]:
    return counts.read_text().split() if counts.exists() else []


class ReviewFlow(Flow):  # type: ignore[type-arg]  # (a dict state)
    _skip_auto_memory = True  # no LanceDB memory (research notes: private, but 3 s and files saved)

    @start()
    def draft(self) -> str:
        ran(self.state["counts"], "draft")
        return f"A short piece about {self.state['topic']}"

    @listen(draft)
    @human_feedback(message="Publish this draft?", provider=IntentdFeedback(assignees=["role:editors"]))
    def review(self, draft: str) -> dict[str, Any]:
        ran(self.state["counts"], "review")
        return {"draft": draft, "words": len(draft.split())}

    @listen(review)
    def publish(self, reviewed: Any) -> dict[str, Any]:
        ran(self.state["counts"], "publish")
        return {"published": reviewed.output["draft"], "feedback": reviewed.feedback}
