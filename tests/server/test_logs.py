"""JSON logs of a real ``intentd serve`` (``INTENTD_LOG_FORMAT=json``), on both backends: every line
the server writes, uvicorn's and its start-up note included, is one JSON object with an RFC 3339 UTC
time; each request has one access line with the ``x-request-id`` its answer carried; the lines of the
requests that acted on an intent (its submit, a read, the claim that leased it, its completion over
the lean hot routes) name the intent, its correlation id and its agent, and the others name none; a
signed link's token, the API key and a wrong key appear nowhere. And in this process, a route that
crashes after reading an intent: the error line with the traceback names the request and the intent,
and the access line after it says 500."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace

from intentd.logs import ContextFilter, JsonFormatter
from intentd.server.access import AccessLog
from intentd.server.auth import Caller, EngineDep
from tests._support import traces
from tests._support.http_api import WRITER, create, intent_body
from tests._support.servers import API_KEY, BASE_URL, Server, Servers, app_settings, build_app, serving

CORRELATION = "corr-logs-" + uuid.uuid4().hex[:8]
HARNESS_MARK = "--- start "  # the line Server.start writes before each start (tests/_support/servers.py)
Line = dict[str, Any]


class JsonLogServer(Server):
    def environment(self) -> dict[str, str]:
        return {**super().environment(), "INTENTD_LOG_FORMAT": "json"}


def log_lines(server: Server) -> list[Line]:
    """Every line the server wrote, parsed: a line that is not JSON fails the test here."""
    text = server.log_path.read_text()
    return [json.loads(line) for line in text.splitlines() if not line.startswith(HARNESS_MARK)]


def access_lines(lines: list[Line]) -> dict[str, Line]:
    by_request: dict[str, Line] = {}
    for line in lines:
        if line["logger"] == "intentd.access":
            assert line["request_id"] not in by_request, f"two access lines for one request: {line}"
            by_request[line["request_id"]] = line
    return by_request


def run_requests(server: Server, wrong_key: str, link_token: str) -> dict[str, httpx.Response]:
    """A whole delivery through the lean hot routes, and requests that act on no intent."""
    sent: dict[str, httpx.Response] = {}
    with server.client() as http:
        sent["submit"] = http.post("/v1/intents", json=intent_body(WRITER, correlation_id=CORRELATION))
        intent_id = sent["submit"].json()["intent_id"]
        sent["read"] = http.get(f"/v1/intents/{intent_id}")
        sent["claim"] = http.post(
            f"/v1/agents/{WRITER.removeprefix('agent://')}/claims", json={"worker_id": "w", "wait_seconds": 5}
        )
        [delivery] = sent["claim"].json()["deliveries"]
        token = delivery["lease"]["token"]
        sent["complete"] = http.post(
            f"/v1/intents/{intent_id}/complete", json={"lease_token": token, "result": {"ok": True}}
        )
        sent["missing"] = http.get(f"/v1/intents/{uuid.uuid4()}")
        sent["link"] = http.get(f"/v1/links/{link_token}")
        # Past INTENTD_MAX_BODY_BYTES (1 MiB): refused by the middleware before any route.
        too_large = b"[" + b"0," * (1024 * 1024) + b"0]"
        sent["too large"] = http.post(
            "/v1/intents", content=too_large, headers={"content-type": "application/json"}
        )
    with server.client(api_key=wrong_key) as stranger:
        sent["wrong key"] = stranger.get("/v1/intents")
    return sent


@pytest.mark.slow
def test_every_line_is_json_with_the_ids_of_its_request_and_intent(database_url: str, tmp_path: Path) -> None:
    wrong_key = "itd_" + uuid.uuid4().hex + uuid.uuid4().hex
    link_token = "link-" + uuid.uuid4().hex + "." + uuid.uuid4().hex
    with Servers(tmp_path) as servers:
        server = JsonLogServer(tmp_path, database_url, name="json")
        servers.started.append(server)
        server.start()
        sent = run_requests(server, wrong_key, link_token)
        server.stop()  # everything it would write is written
        raw = server.log_path.read_text()
        lines = log_lines(server)

    statuses = {what: response.status_code for what, response in sent.items()}
    assert statuses == {
        "submit": 200,
        "read": 200,
        "claim": 200,
        "complete": 200,
        "missing": 404,
        "link": statuses["link"],  # refused one way or another: the token is made up
        "too large": 413,
        "wrong key": 401,
    }
    assert statuses["link"] >= 400
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= line.keys(), line
        at = datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
        assert line["ts"].endswith("Z") and at.tzinfo == UTC
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers, "uvicorn's own lines should be JSON lines too"
    assert any(line["message"].startswith("intentd on http://") for line in lines)

    access = access_lines(lines)
    intent_id = sent["submit"].json()["intent_id"]
    for what, response in sent.items():
        line = access[response.headers["x-request-id"]]
        assert (line["method"], line["status"]) == (response.request.method, response.status_code), what
        assert isinstance(line["duration_ms"], float)
        if what in ("submit", "read", "claim", "complete"):
            named = {key: line[key] for key in ("intent_id", "correlation_id", "agent")}
            assert named == {"intent_id": intent_id, "correlation_id": CORRELATION, "agent": WRITER}, what
            assert line["path"] == response.request.url.path
        else:
            assert "intent_id" not in line and "correlation_id" not in line, what
    assert access[sent["link"].headers["x-request-id"]]["path"] == "/v1/links/[redacted]"

    leaked = [name for name, secret in {"API key": API_KEY, "wrong key": wrong_key}.items() if secret in raw]
    leaked += ["link token"] if link_token.split(".")[0] in raw or link_token.split(".")[1] in raw else []
    assert not leaked, f"{', '.join(leaked)} found in the server's log"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger gets while the test runs, as ``intentd serve --log-format json`` writes it."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield written
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_an_unhandled_error_is_logged_with_its_request_and_intent(
    database_url: str, json_lines: io.StringIO
) -> None:
    app = build_app(app_settings(database_url, log_format="json"), run_scheduler=False)

    async def crash(intent_id: str, caller: Caller, engine: EngineDep) -> None:
        await engine.intents.get(caller, intent_id)
        raise RuntimeError("failed after reading the intent")

    app.add_api_route("/test-only/crash/{intent_id}", crash)
    async with serving(app) as api:
        intent_id = await create(api)
        # As run_server serves it: AccessLog around the whole app, Starlette's error handling inside.
        transport = httpx.ASGITransport(app=AccessLog(app), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=api.headers) as client:
            crashed = await client.get(f"/test-only/crash/{intent_id}")

    assert crashed.status_code == 500
    request_id = crashed.headers["x-request-id"]
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    [error] = [line for line in lines if line["level"] == "error"]
    [access] = [line for line in lines if line["logger"] == "intentd.access"]
    for line in (error, access):
        assert (line["request_id"], line["intent_id"], line["correlation_id"]) == (
            request_id,
            intent_id,
            "corr-test",
        )
    assert "RuntimeError: failed after reading the intent" in error["exc"]
    assert access["status"] == 500 and access["path"] == f"/test-only/crash/{intent_id}"
    assert lines.index(error) < lines.index(access)


def test_a_line_logged_inside_a_span_names_its_trace(json_lines: io.StringIO) -> None:
    """With OpenTelemetry on, a line leads to its trace (and a trace to its lines); off, it names none."""
    log = logging.getLogger("intentd.test")
    log.info("before tracing")
    with traces.recording():
        with trace.get_tracer("the test").start_as_current_span("work") as span:
            log.info("inside the span")
        log.info("after the span")
    before, inside, after = (json.loads(line) for line in json_lines.getvalue().splitlines())
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert "trace_id" not in before and "trace_id" not in after and "span_id" not in after
