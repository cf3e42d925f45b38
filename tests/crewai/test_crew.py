"""A crew served as an intentd agent: its output is the intent's result, its tokens the intent's
usage, and a payload it cannot run on fails the intent at once."""

from __future__ import annotations

import json
import uuid

from crewai import Agent, Crew, Task
from pydantic import BaseModel

from intentd.adapters.crewai import serve_crew
from intentd.client import Client

from ._scripted import ScriptedLLM, final
from ._servers import InProcessWorker


class Summary(BaseModel):
    topic: str
    points: int


def answer(conversation: str) -> str:
    if "Summarize" in conversation:
        return final(json.dumps({"topic": "leases", "points": 2}))
    return final("Leases expire. Heartbeats extend them.")


def research_crew() -> tuple[Crew, ScriptedLLM]:
    llm = ScriptedLLM(model="scripted", respond=answer)
    researcher = Agent(role="researcher", goal="Know {topic} well", backstory="Reads a lot", llm=llm)
    notes = Task(
        name="notes", description="Collect facts about {topic}", expected_output="facts", agent=researcher
    )
    summary = Task(
        name="summary",
        description="Summarize the facts about {topic} as JSON",
        expected_output="a summary",
        agent=researcher,
        output_pydantic=Summary,
    )
    return Crew(agents=[researcher], tasks=[notes, summary]), llm


def address(name: str) -> str:
    return f"agent://crewai/test/{name}-{uuid.uuid4().hex[:8]}"


def test_a_served_crew_answers_with_its_output_and_reports_its_tokens(
    worker: InProcessWorker, client: Client
) -> None:
    crew, llm = research_crew()
    crew_address = address("research")
    serve_crew(worker, crew_address, crew)
    worker.start()

    intent = client.submit(crew_address, "intent.research.v1", {"topic": "leases"})
    done = client.wait_for(intent.intent_id, timeout=60)

    assert done.status == "COMPLETED", done.error
    result = done.result or {}
    assert result["pydantic"] == {"topic": "leases", "points": 2}
    assert [task["name"] for task in result["tasks"]] == ["notes", "summary"]
    assert result["tasks"][0]["raw"] == "Leases expire. Heartbeats extend them."
    assert result["tasks"][0]["agent"] == "researcher"
    assert json.loads(result["raw"]) == {"topic": "leases", "points": 2}
    assert "Collect facts about leases" in llm.asked[0]  # the payload filled the crew's placeholders
    # What the model counted for this intent is the intent's usage, and the result says the same.
    spent_in = sum(len(text) // 4 for text in llm.asked)
    assert result["usage"]["tokens_in"] == spent_in > 0
    assert done.usage["tokens_in"] == spent_in
    assert done.usage["tokens_out"] == result["usage"]["tokens_out"] > 0
    # Each LLM answer is journaled on the intent (what a run again replays).
    keys = [entry.key for entry in client.journal(intent.intent_id)]
    assert keys == [f"crewai.llm/{n}" for n in range(len(llm.asked))]


def test_a_payload_without_the_crews_placeholders_fails_at_once_saying_what_is_missing(
    worker: InProcessWorker, client: Client
) -> None:
    crew, llm = research_crew()
    crew_address = address("research")
    serve_crew(worker, crew_address, crew)
    worker.start()

    intent = client.submit(crew_address, "intent.research.v1", {"subject": "leases"})
    done = client.wait_for(intent.intent_id, timeout=60)

    assert done.status == "FAILED"
    assert done.error["code"] == "FatalError"
    assert "'topic'" in done.error["message"] and "subject" in done.error["message"]
    assert done.delivery_attempt == 1  # not retried: the same payload would fail the same way
    assert llm.asked == []
