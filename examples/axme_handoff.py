"""The researcher → writer → reviewer handoff, driven entirely with the official `axme` SDK.

Each agent is written the AXME way (`listen` → `get_intent` → `resume_intent`) and hands the work on
with `create_intent` under the same correlation id. Nothing here imports intentd: the AXP wire protocol
is the contract. Start a server first (`make serve`), then:
`INTENTD_URL=http://127.0.0.1:8321 INTENTD_API_KEY=$(cat .intentd-key) \
    .venv/bin/python examples/axme_handoff.py`
"""

import os
import threading
import uuid

from axme import AxmeClient, AxmeClientConfig

TERMINAL = {"COMPLETED", "FAILED", "CANCELED", "TIMED_OUT"}


def connect() -> AxmeClient:
    return AxmeClient(
        AxmeClientConfig(base_url=os.environ["INTENTD_URL"], api_key=os.environ["INTENTD_API_KEY"])
    )


def agent(address: str, work, next_agent: str | None) -> None:
    """Serve one delivery: do the work, hand it on (if there is a next agent), complete."""
    client = connect()
    for delivery in client.listen(address, wait_seconds=5, timeout_seconds=60):
        intent = client.get_intent(delivery["intent_id"])["intent"]
        if intent["status"] in TERMINAL:
            continue
        output = work(intent["payload"])
        result = dict(output)
        if next_agent:
            created = client.create_intent(
                {"intent_type": "intent.article.step.v1", "to_agent": next_agent, "payload": output},
                correlation_id=intent["correlation_id"],
            )
            result["next_intent_id"] = created["intent_id"]
        client.resume_intent(intent["intent_id"], {"action": "complete", **result}, owner_agent=address)
        return


AGENTS = [  # (address, work on the payload, next agent)
    (
        "agent://demo/axme/researcher",
        lambda p: {"notes": [f"{p['topic']}: finding {n}" for n in (1, 2)]},
        "agent://demo/axme/writer",
    ),
    ("agent://demo/axme/writer", lambda p: {"draft": " ".join(p["notes"])}, "agent://demo/axme/reviewer"),
    ("agent://demo/axme/reviewer", lambda p: {"approved": True, "final": p["draft"].upper()}, None),
]

if __name__ == "__main__":
    threads = [threading.Thread(target=agent, args=spec, daemon=True) for spec in AGENTS]
    for thread in threads:
        thread.start()
    client = connect()
    step = client.create_intent(
        {
            "intent_type": "intent.article.research.v1",
            "to_agent": AGENTS[0][0],
            "payload": {"topic": "durable agents"},
        },
        correlation_id=str(uuid.uuid4()),
    )["intent_id"]
    while True:  # follow the chain: each completed step names the next one
        client.wait_for(step, wait_seconds=5, timeout_seconds=60)
        result = client.get_intent(step)["intent"]["result"]
        if "next_intent_id" not in result:
            break
        step = result["next_intent_id"]
    print(result)
