"""The cross-namespace fuzz run's harness (tests/server/test_fuzz.py, ``test_fuzz_across_namespaces``):
namespace A's state made through the API with A's key, a key of namespace B (an admin, or an agent
bound to A's agent's address) made before the app starts, a snapshot of what A sees of its state,
and the check that no answer to B names an id of A that B did not send itself.

A's state holds no lease or timer that could move while the fuzzer runs (a lease for an hour, no
deadlines), so any difference between A's snapshots before and after the run is B's doing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from schemathesis import Case, CheckContext, Response
from schemathesis.python import asgi
from starlette.types import ASGIApp

from intentd.engine import Engine
from intentd.store import open_store
from tests._support.fuzz import Seeder, ServerWatch
from tests._support.http_api import REVIEWER, WRITER, intent_body
from tests._support.servers import API_KEY

OTHER_NAMESPACE = "fuzz-b"
REQUEST_TIMEOUT = 5


def other_namespace_key(database_url: str, role: str = "admin") -> str:
    """A key of :data:`OTHER_NAMESPACE`, made on the database before the app opens it: an admin, or an
    agent key bound to the very address namespace A's work goes to (the closest B can come)."""

    async def make() -> str:
        store = await open_store(database_url)
        try:
            agents = (WRITER,) if role == "agent" else ()
            _, secret = await Engine(store).keys.create(
                "fuzzer", role, namespace=OTHER_NAMESPACE, agents=agents
            )
            return secret
        finally:
            await store.close()

    return asyncio.run(make())


def seed_namespace(app: ASGIApp) -> dict[str, list[str]]:
    """Namespace A's intents (submitted, leased for an hour, waiting, completed, one with a thread, one
    with a human task) and a mesh agent, made with A's key; the path values that name them."""
    with asgi.get_client(app) as client:  # type: ignore[arg-type]  # ASGI's own app type
        client.headers["x-api-key"] = API_KEY
        seeder = Seeder(client)
        waiting, leased, completed = seeder.lifecycle(lease_seconds=3600)  # no lease ends in the run
        threaded = seeder.call("/v1/intents", intent_body(WRITER, reply_to=REVIEWER))["intent_id"]
        human = intent_body(REVIEWER, human_task={"title": "Approve"})
        gated = seeder.call("/v1/intents", human)["intent_id"]
        tasks = client.get("/v1/tasks", params={"intent_id": gated}, timeout=REQUEST_TIMEOUT).json()["tasks"]
        seeder.call("/v1/mesh/heartbeat", {"metrics": {"load": 0.5}}, owner_agent=WRITER)
    address = WRITER.removeprefix("agent://")
    return {
        "intent_id": [threaded, leased, waiting, completed, gated],
        "thread_id": [threaded, gated],
        "approval_id": [waiting, gated],
        "task_id": [tasks[0]["task_id"]],
        "address": [address, quote(WRITER, safe="")],
        "address_id": [address],
    }


def snapshot(app: ASGIApp, intent_ids: list[str]) -> dict[str, Any]:
    """What A sees of its state: its intents with their events, tasks, threads and agents."""
    with asgi.get_client(app) as client:  # type: ignore[arg-type]
        client.headers["x-api-key"] = API_KEY

        def get(path: str) -> Any:
            response = client.get(path, timeout=REQUEST_TIMEOUT)
            assert response.status_code == 200, f"snapshot: GET {path} answered {response.text}"
            return response.json()

        agents = get("/v1/mesh/agents")["agents"]
        return {
            "intents": get("/v1/intents?limit=500")["intents"],
            "events": {i: get(f"/v1/intents/{i}/events")["events"] for i in intent_ids},
            "tasks": get("/v1/tasks")["tasks"],
            "inbox": get("/v1/inbox")["threads"],
            "agents": [{k: v for k, v in a.items() if k not in ("status", "health_status")} for a in agents],
        }


@dataclass
class TenantRun:
    """One cross-namespace run: the app as the fuzzer calls it and B's key; :meth:`seed` makes A's
    state and notes what A sees of it, :meth:`check_unchanged` compares after the run."""

    watch: ServerWatch
    key: str
    known: dict[str, list[str]] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)

    def seed(self) -> dict[str, list[str]]:
        self.known = seed_namespace(self.watch)
        self.before = snapshot(self.watch, self.known["intent_id"])
        return self.known

    def check_unchanged(self) -> None:
        after = snapshot(self.watch, self.known["intent_id"])
        assert after == self.before, "fuzzing with another namespace's key changed this namespace's state"

    def names_none_of_its_ids(self, ctx: CheckContext, response: Response, case: Case[Any]) -> None:
        """A Schemathesis check: an answer to B names none of A's ids, unless B's request held it (a
        path parameter echoed back, a free-standing approval B recorded under that id in its own
        namespace)."""
        sent = f"{response.request.url} {response.request.body!r}"
        ids = {*self.known.get("intent_id", ()), *self.known.get("task_id", ())}
        shown = [i for i in ids if i in response.text and i not in sent]
        if shown:
            raise AssertionError(f"An answer to another namespace's key names this namespace's {shown}")
