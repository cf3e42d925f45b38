"""The permission matrix (server/permissions.py) against the running app: every operation has an entry
and every entry an operation, and every cell (operation × role), with keys of every role in two
namespaces, is allowed or refused with 403 ``role_not_allowed`` exactly as the table declares."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from scripts.gen_permissions import DOC, rendered

from intentd.engine.keys import ROLES
from intentd.server.permissions import PERMISSIONS, allowed
from intentd.settings import Settings
from tests._support import servers
from tests._support.servers import AppClient

NAMESPACES = ("default", "team-b")
AGENT = "agent://org/env/a"
# A value for every path parameter: nothing by these ids exists, which is fine: a refused cell is
# refused before anything is looked up, an allowed one gets past the key and the role.
PATH_VALUES = {
    "intent_id": "it-none",
    "address": "org/env/a",
    "address_id": "org/env/a",
    "thread_id": "th-none",
    "task_id": "task-none",
    "approval_id": "ap-none",
    "key_id": "key-none",
    "token": "tok-none",
}
# Requests an allowed caller would otherwise wait on: answered at once.
QUERIES = {
    "/v1/agents/{address:path}/intents/stream": {"wait_seconds": "0"},
    "/v1/deliveries/stream": {"agent": AGENT, "worker_id": "w-matrix"},
    "/v1/intents/{intent_id}/events/stream": {"wait_seconds": "0"},
}
BODIES = {"/v1/agents/{address:path}/claims": {"wait_seconds": 0}}


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A held delivery stream ends at once, so an allowed cell of it answers in the test's time.
    return servers.app_settings(database_url, max_stream_wait_seconds=0.05)


def _operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every operation the app serves, as (method, path template)."""
    return {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}


def _template(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)  # the OpenAPI document drops ``:path``


def test_every_operation_has_an_entry_and_every_entry_an_operation(api: AppClient) -> None:
    served = _operations(api.app)
    declared = {(method, _template(path)) for method, path in PERMISSIONS}

    assert served - declared == set(), "operations without an entry in server/permissions.py"
    assert declared - served == set(), "entries in server/permissions.py for no operation"


def test_the_security_document_prints_the_matrix_of_the_code() -> None:
    current = DOC.read_text()
    assert rendered(current) == current, "run scripts/gen_permissions.py"


@pytest.fixture
async def callers(api: AppClient) -> AsyncIterator[dict[tuple[str, str], AppClient]]:
    """A client per (namespace, role) on the running app."""
    clients: dict[tuple[str, str], AppClient] = {}
    for namespace in NAMESPACES:
        for role in ROLES:
            _, secret = await api.engine.keys.create(
                f"{role}-{namespace}",
                role,
                namespace,
                agents=(AGENT,) if role == "agent" else (),
            )
            clients[namespace, role] = AppClient(api.app, api_key=secret)
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


async def test_every_cell_is_allowed_or_refused_as_declared(
    callers: dict[tuple[str, str], AppClient],
) -> None:
    wrong: list[str] = []
    checked = 0
    for (method, path), roles in PERMISSIONS.items():
        if roles is None:
            continue  # no key asked: nothing for a role to change
        url = path
        for name, value in PATH_VALUES.items():
            url = re.sub(r"\{" + name + r"(:\w+)?\}", value, url)
        for (namespace, role), client in callers.items():
            answer = await _call(client, method, url, path)
            refused = answer[0] == 403 and answer[1] == "role_not_allowed"
            if refused == (role in allowed(method, path)) or answer[0] == 401:
                wrong.append(f"{method} {path} as {role} in {namespace}: {answer}")
            checked += 1

    assert not wrong, "\n".join(wrong)
    assert checked >= 50 * len(ROLES) * len(NAMESPACES)


async def _call(client: AppClient, method: str, url: str, path: str) -> tuple[int, str | None]:
    body: Any = BODIES.get(path, {})
    params = QUERIES.get(path, {})
    if method == "GET":
        response = await client.get(url, params=params)
    else:
        response = await client.request(method, url, params=params, json=body)
    code = None
    if response.headers.get("content-type", "").startswith("application/json"):
        error = response.json().get("error")
        code = error.get("code") if isinstance(error, dict) else None
    return response.status_code, code


async def test_a_refusal_names_the_operation_and_the_role(
    callers: dict[tuple[str, str], AppClient],
) -> None:
    response = await callers["default", "auditor"].post(
        "/v1/intents", json={"intent_type": "x.v1", "to_agent": AGENT, "payload": {}}
    )

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "role_not_allowed"
    assert error["details"] == {"operation": "POST /v1/intents", "role": "auditor"}


async def test_a_lean_route_is_refused_before_its_body_is_read(
    callers: dict[tuple[str, str], AppClient],
) -> None:
    # An approver may not complete work: the refusal comes before the (invalid) body is looked at.
    response = await callers["default", "approver"].post("/v1/intents/it-none/complete", content=b"{not json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "role_not_allowed"
