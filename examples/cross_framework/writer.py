"""The writer: a CrewAI Flow served as an intentd agent (it runs in CrewAI's own environment).

    draft (a crew writes from the researcher's notes) -> a person approves (an intentd human task)
    -> send_for_review (an intent to the AutoGen reviewer)

``@human_feedback(provider=IntentdFeedback(...))`` turns the pause into a human task of the writer's
intent: the intent waits without a lease, and the flow's pending state is journaled on it, so the
process may die meanwhile. After the answer, whichever writer process takes the intent resumes the
flow from the journal (``draft`` does not run again) and ``send_for_review`` hands the draft on with
an ``IntentTool``, a child intent of the writer's.

Run: ``INTENTD_URL=... INTENTD_API_KEY=... .venvs/crewai/bin/python -m examples.cross_framework.writer``
(with ``CREWAI_DISABLE_TELEMETRY=true OTEL_SDK_DISABLED=true CREWAI_TRACING_ENABLED=false``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from crewai import Agent, BaseLLM, Crew, Task
from crewai.flow.flow import Flow, listen, start
from crewai.flow.human_feedback import HumanFeedbackResult, human_feedback
from pydantic import BaseModel, Field

from intentd.adapters.crewai import IntentdFeedback, IntentTool, serve_flow
from intentd.worker import Worker

from .process import REVIEWER, WRITER, note_run, progress, serve


class StandInLLM(BaseLLM):  # type: ignore[misc]  # (CrewAI is Any where mypy runs: not installed)
    """A stand-in for a real model: it answers with an article made of the notes in its prompt.
    For a real one: ``LLM(model="gpt-4o")`` (``from crewai import LLM``) in the agent below."""

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        note_run("writer.model")
        prompt = messages if isinstance(messages, str) else "\n".join(str(m["content"]) for m in messages)
        notes = re.findall(r"^- (.+)$", prompt, re.MULTILINE)
        return "Thought: I can write it now.\nFinal Answer: " + " ".join(dict.fromkeys(notes))

    def supports_function_calling(self) -> bool:
        return False  # CrewAI's text loop: Thought / Final Answer


class ReviewRequest(BaseModel):
    topic: str = Field(description="what the article is about")
    draft: str = Field(description="the approved draft")


ask_reviewer = IntentTool(
    to_agent=REVIEWER,
    name="ask_reviewer",
    description="Have the reviewer check an approved draft and get it published",
    intent_type="intent.review.v1",
    args_schema=ReviewRequest,
)


def drafting_crew() -> Crew:
    writer = Agent(
        role="Writer",
        goal="Turn research notes into a short, clear article",
        backstory="You write for engineers.",
        llm=StandInLLM(model="stand-in"),
    )
    task = Task(
        description="Write a short article about {topic} from these notes:\n{notes}",
        expected_output="One paragraph",
        agent=writer,
    )
    return Crew(agents=[writer], tasks=[task])


class WriterFlow(Flow[dict[str, Any]]):  # type: ignore[misc]
    _skip_auto_memory = True  # no CrewAI memory store (LanceDB files, seconds of start-up)

    @start()  # type: ignore[untyped-decorator]
    @human_feedback(  # type: ignore[untyped-decorator]
        message="Publish this draft?",
        provider=IntentdFeedback(task_type="approval", assignees=["role:editors"]),
    )
    def draft(self) -> str:
        note_run("writer.draft")
        inputs = {"topic": self.state["topic"], "notes": self.state["notes"]}
        draft = str(drafting_crew().kickoff(inputs=inputs).raw)
        progress(f"the crew drafted {len(draft.split())} words")
        return draft

    @listen(draft)  # type: ignore[untyped-decorator]
    def send_for_review(self, approved: HumanFeedbackResult) -> dict[str, Any]:
        # Runs again once the reviewer has finished (the handler re-runs this flow segment): the
        # same call then returns the reviewer's journaled result instead of sending anything.
        note_run("writer.send_for_review")
        review = ask_reviewer.run(topic=self.state["topic"], draft=approved.output)
        verdict = json.loads(review) if review.startswith("{") else review  # else: why it failed
        return {"draft": approved.output, "approval": approved.feedback, "review": verdict}


def register(worker: Worker) -> None:
    serve_flow(worker, WRITER, WriterFlow)


if __name__ == "__main__":
    serve("writer", register)
