"""AXP's mesh family through the official ``axme`` SDK, unmodified, against a real ``intentd serve``
on both backends: heartbeat (with and without metrics), agents list and get, kill, resume and the
mesh events get the answers its docs describe (PROTOCOL.md §5.2), and a killed agent is refused work
with 403."""

from __future__ import annotations

import pytest
from axme import AxmeClient
from axme_sdk.exceptions import AxmeHttpError

from tests.compat import test_axme_sdk
from tests.compat.test_axme_sdk import create, intent

pytestmark = pytest.mark.slow
server, connect, axme = test_axme_sdk.server, test_axme_sdk.connect, test_axme_sdk.axme


def test_kill_refuses_work_reports_killed_and_resume_restores(axme: AxmeClient) -> None:
    beat = axme.mesh.heartbeat(metrics={"intents_total": 1})
    address_id, address = beat["address_id"], beat["address"]
    create(axme, intent(address))

    killed = axme.mesh.kill(address_id)

    assert killed["ok"] is True and killed["status"] == "killed"
    with pytest.raises(AxmeHttpError) as refused:
        create(axme, intent(address))
    assert refused.value.status_code == 403
    assert axme.mesh.heartbeat()["health_status"] == "killed"
    listed = axme.mesh.list_agents(health="killed")
    assert [a["address_id"] for a in listed["agents"]] == [address_id]
    assert listed["summary"]["killed"] == 1
    assert axme.mesh.get_agent(address_id)["agent"]["health_status"] == "killed"
    events = axme.mesh.list_events(event_type="agent.killed")["events"]
    assert events[0]["address"] == address and events[0]["event_type"] == "agent.killed"
    assert {"event_id", "details", "actor_id", "created_at"} <= events[0].keys()

    resumed = axme.mesh.resume(address_id)

    assert resumed["ok"] is True and resumed["status"] == "active"
    assert axme.mesh.heartbeat()["health_status"] == "healthy"
    create(axme, intent(address))
    kinds = [e["event_type"] for e in axme.mesh.list_events(limit=2)["events"]]
    assert kinds == ["agent.resumed", "agent.killed"]


def test_kill_takes_the_address_as_the_kill_switch_docs_write_it(axme: AxmeClient) -> None:
    """The AXP kill-switch README calls ``mesh.kill("agent://…")``: the full address in the path."""
    address = "agent://acme/prod/doc-style"
    assert axme.mesh.kill(address)["status"] == "killed"
    assert axme.mesh.resume(address)["status"] == "active"
