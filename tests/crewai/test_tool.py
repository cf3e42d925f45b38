"""IntentTool: a crew hands work to another intentd agent through an intent and waits durably."""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Any

from crewai import Agent, Crew, Task

from intentd.adapters.crewai import IntentTool, serve_crew
from intentd.client import Client, Intent
from intentd.worker import Context

from ._scripted import ScriptedLLM, action, final
from ._servers import InProcessWorker


def address(name: str) -> str:
    return f"agent://crewai/test/{name}-{uuid.uuid4().hex[:8]}"


def writer_crew(reviewer: str) -> tuple[Crew, ScriptedLLM]:
    def answer(conversation: str) -> str:
        verdict = re.search(r'"verdict": "([^"]*)"', conversation)
        if verdict is not None:  # the tool's observation: the reviewer's result as JSON
            return final(f"Reviewed: {verdict[1]}")
        return action("ask_reviewer", json.dumps({"request": "check the draft about leases"}))

    llm = ScriptedLLM(model="scripted", respond=answer)
    ask = IntentTool(to_agent=reviewer, name="ask_reviewer", description="Ask the reviewer to check a draft")
    writer = Agent(role="writer", goal="Write well", backstory="Careful", llm=llm, tools=[ask])
    task = Task(
        description="Get the draft about {topic} reviewed", expected_output="the verdict", agent=writer
    )
    return Crew(agents=[writer], tasks=[task]), llm


def reviewer_handler(seen: list[Intent]) -> Any:
    def review(ctx: Context, intent: Intent) -> dict[str, Any]:
        seen.append(intent)
        return {"verdict": f"fine ({intent.payload['request']})"}

    return review


def test_a_served_crews_tool_call_is_a_child_intent_of_one_run(
    worker: InProcessWorker, client: Client
) -> None:
    reviewer, crew_address = address("reviewer"), address("writer")
    reviews: list[Intent] = []
    worker.agent(reviewer)(reviewer_handler(reviews))
    crew, llm = writer_crew(reviewer)
    serve_crew(worker, crew_address, crew)
    worker.start()

    root = client.submit(crew_address, "intent.write.v1", {"topic": "leases"})
    done = client.wait_for(root.intent_id, timeout=60)

    assert done.status == "COMPLETED", done.error
    assert done.result is not None
    assert done.result["raw"] == "Reviewed: fine (check the draft about leases)"
    run = client.tree(root.intent_id)
    assert [i.intent_id for i in run.intents][0] == root.intent_id
    [child] = run.children(root.intent_id)
    assert len(run.intents) == 2
    assert child.to_agent == reviewer and child.parent_intent_id == root.intent_id
    assert child.payload == {"request": "check the draft about leases"}
    assert {i.correlation_id for i in run.intents} == {root.correlation_id}
    assert [r.intent_id for r in reviews] == [child.intent_id]
    # The crew ran twice (parked on the child, then again once it finished), yet the model was
    # asked each question once: the second run replayed the first answer from the journal.
    assert len(llm.asked) == 2
    assert '"verdict":' not in llm.asked[0] and '"verdict":' in llm.asked[1]
    kinds = {entry.key.split("/")[0] for entry in client.journal(root.intent_id)}
    assert kinds == {"crewai.llm", "crewai.tool"}


def test_outside_a_handler_the_tool_submits_a_root_intent_once_and_waits(
    worker: InProcessWorker, client: Client
) -> None:
    reviewer = address("reviewer")
    reviews: list[Intent] = []
    worker.agent(reviewer)(reviewer_handler(reviews))
    worker.start()
    ask = IntentTool(
        to_agent=reviewer, name="ask_reviewer", description="Ask the reviewer", client=client, timeout=60
    )

    answers = [ask.run(request="check the intro"), ask.run(request="check the intro")]

    assert [json.loads(a) for a in answers] == [{"verdict": "fine (check the intro)"}] * 2
    assert len(reviews) == 1  # the same request again is the same intent (its idempotency key)
    assert reviews[0].parent_intent_id is None
    assert threading.current_thread() is threading.main_thread()


def test_a_failed_child_is_told_to_the_agent(worker: InProcessWorker, client: Client) -> None:
    reviewer, crew_address = address("reviewer"), address("writer")

    @worker.agent(reviewer)
    def refuse(ctx: Context, intent: Intent) -> None:
        from intentd.worker import FatalError

        raise FatalError("no reviewers today")

    def answer(conversation: str) -> str:
        told = re.search(r"did not do it: .*", conversation)
        if told is not None:
            return final(told[0])
        return action("ask_reviewer", json.dumps({"request": "check it"}))

    llm = ScriptedLLM(model="scripted", respond=answer)
    ask = IntentTool(to_agent=reviewer, name="ask_reviewer", description="Ask the reviewer")
    writer = Agent(role="writer", goal="Write", backstory="Careful", llm=llm, tools=[ask])
    serve_crew(
        worker,
        crew_address,
        Crew(agents=[writer], tasks=[Task(description="Review", expected_output="x", agent=writer)]),
    )
    worker.start()

    done = client.wait_for(client.submit(crew_address, "intent.write.v1", {}).intent_id, timeout=60)

    assert done.status == "COMPLETED", done.error
    assert done.result is not None
    assert "did not do it" in done.result["raw"] and "no reviewers today" in done.result["raw"]
