"""The API fuzzer's harness (tests/server/test_fuzz.py): Schemathesis set up for intentd, the state it
fuzzes against, and what it checks beyond Schemathesis's own checks.

Schemathesis (4.x) calls the app in this process through its own ASGI client, which runs the app's
lifespan on an event loop in a thread of its own (so the tests stay synchronous) and keeps it running
until :func:`stop` ends it. Every request carries the test API key.

- :func:`fuzz_config`: the seed, the example budget, the generation modes and the checks.
- :class:`ServerWatch`: the app as the fuzzer calls it, noting what the server would have logged: every
  ``intentd`` record at ERROR or above, and every exception that escaped the app. Its check fails the
  case that caused one.
- :func:`event_stream_ends_whole`: an SSE answer must end by itself with a complete frame.
- :func:`seed_state` and :func:`known_path_values`: a few real intents, threads and agents, so that the
  path parameters of the routes that act on one also name existing ones (a random id is a 404 before
  the body is ever used).
- :func:`fuzz_settings` and :func:`shorten_waits`: streams and claims wait :data:`SHORT_WAIT` at most,
  so each ends at once.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote

import orjson
import schemathesis
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, CheckContext, HookContext, Response
from schemathesis.python import asgi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intentd.model import TERMINAL
from intentd.settings import Settings
from tests._support.http_api import REVIEWER, WRITER, intent_body
from tests._support.servers import API_KEY, app_settings, build_app

# A fixed seed: each run sends the same requests (Schemathesis mixes it with each operation's name).
# Change it to explore other inputs; the test prints it.
SEED = 1729
# Generated cases per operation (positive and negative mixed), besides Schemathesis's coverage cases
# (boundary values of each parameter, derived from the schema, a fixed set) and the schema's examples.
EXAMPLES_PER_OPERATION = 25  # bounded: the API has ~110 operations, each fuzzed on both backends
SHORT_WAIT = 0.1  # seconds a stream or a claim's long poll may stay idle in a fuzzed request
REQUEST_TIMEOUT = 5  # seconds; a stream still open then is cut, and a cut stream fails its case
# Schemathesis cuts an event stream after this many events; none of ours should come near it.
MAX_STREAM_EVENTS = 10_000
TERMINAL_STATUSES = frozenset(status.value for status in TERMINAL)


def fuzz_settings(database_url: str) -> Settings:
    """The app's settings: the ``api`` fixture's, with every SSE stream held :data:`SHORT_WAIT` at
    most whatever its ``wait_seconds`` (the server caps it), so an idle stream ends at once."""
    return app_settings(database_url, max_stream_wait_seconds=SHORT_WAIT)


# Schemathesis's checks of an answer against what the schema documents: the API's answers are JSON
# described in /openapi.json. (The dashboard's are HTML pages and its forms are lenient: it keeps
# only not_a_server_error, tests/ui/test_fuzz.py.)
API_CHECKS = {
    "status_code_conformance": {"enabled": True},  # every status is documented
    "content_type_conformance": {"enabled": True},  # so is every content type
    "response_schema_conformance": {"enabled": True},  # every body matches its schema
    "negative_data_rejection": {"enabled": True, "expected-statuses": ["4XX"]},
}


def fuzz_config(
    seed: int = SEED,
    examples: int = EXAMPLES_PER_OPERATION,
    api_key: str = API_KEY,
    *,
    headers: Mapping[str, str] | None = None,
    checks: Mapping[str, Any] = API_CHECKS,
) -> schemathesis.Config:
    """The run's configuration: positive and negative cases, and the checks that judge the answers
    (no 5xx, and ``checks``); every request carries ``api_key``, or ``headers`` when given."""
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            # Hypothesis's timing check would make a slow machine fail a run; the budget bounds it.
            "suppress-health-check": ["too_slow"],
            "headers": dict(headers) if headers is not None else {"x-api-key": api_key},
            "request-timeout": REQUEST_TIMEOUT,
            "max-stream-events": MAX_STREAM_EVENTS,
            "generation": {
                # Negative cases break the schema in one place each and must get a 4xx.
                "mode": "all",
                "max-examples": examples,
                "database": "none",  # the same cases every run, nothing kept between runs
                # The key is a header of the config; a generated Authorization would replace it.
                "with-security-parameters": False,
            },
            # The key is the suite's own; a reproduction needs every header as it was sent.
            "output": {"sanitization": {"enabled": False}},
            "checks": {
                "enabled": False,
                "not_a_server_error": {"enabled": True},  # no 5xx
                **checks,
            },
        }
    )


@contextmanager
def watched_app(database_url: str) -> Iterator[ServerWatch]:
    """The app as the fuzzer calls it (built like the ``api`` fixture's, streams capped short), with
    the server's log watched; after the run, nothing may have been logged that no case was blamed for."""
    watch = ServerWatch(build_app(fuzz_settings(database_url)))
    with watch.listening():
        yield watch
        late = watch.take()
    assert not late, "The server logged an error after the last request:\n\n" + "\n\n".join(late)


def load_schema(app: ASGIApp, config: schemathesis.Config) -> schemathesis.BaseSchema:
    """The app's own ``/openapi.json``, loaded through the app; this starts its lifespan."""
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def stop() -> None:
    """End the lifespans Schemathesis started in this process (the store closed, the scheduler
    stopped); raises what one raised."""
    asgi.shutdown_lifespans()


# --- what the server would have logged -----------------------------------------------------------


class ServerWatch:
    """``app`` as the fuzzer calls it. Notes every record of an ``intentd`` logger at ERROR or above
    (while :meth:`listening`), and every exception that escapes the app: Starlette answers 500 and
    re-raises for the server to log, and an exception inside a streamed body cuts the stream. Like
    uvicorn, an exception before the answer started is answered 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()  # the app runs in Schemathesis's thread, checks in the test's
        self._problems: list[str] = []
        self._seen: set[BaseException] = set()  # already noted (logged, then re-raised)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def watched_send(message: Message) -> None:
            nonlocal started, finished
            started = started or message["type"] == "http.response.start"
            finished = finished or (message["type"] == "http.response.body" and not message.get("more_body"))
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            where = "after answering" if finished else "while answering" if started else "before answering"
            self._note_exception(exc, f"{scope['method']} {scope['path']}: exception escaped the app {where}")
            if not started:
                await _answer_500(send)

    @contextmanager
    def listening(self) -> Iterator[None]:
        handler = _Collector(self._note_record)
        logger = logging.getLogger("intentd")
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)

    def take(self) -> list[str]:
        """What was noted since the last call."""
        with self._lock:
            problems, self._problems = self._problems, []
            return problems

    def server_logged_no_error(self, ctx: CheckContext, response: Response, case: Case[Any]) -> None:
        """A Schemathesis check: nothing was logged at ERROR, nothing escaped, while answering ``case``
        (or since the previous case: a background task's error is blamed on the next request)."""
        problems = self.take()
        if problems:
            raise AssertionError("The server logged an error:\n\n" + "\n\n".join(problems))

    def _note_record(self, record: logging.LogRecord, text: str) -> None:
        with self._lock:
            if record.exc_info and record.exc_info[1] is not None:
                self._seen.add(record.exc_info[1])
            self._problems.append(text)

    def _note_exception(self, exc: BaseException, headline: str) -> None:
        with self._lock:
            if exc in self._seen:
                return
            self._seen.add(exc)
            trace = _formatter.formatException((type(exc), exc, exc.__traceback__))
            self._problems.append(f"{headline}\n{trace}")


_formatter = logging.Formatter("%(name)s %(levelname)s: %(message)s")


class _Collector(logging.Handler):
    def __init__(self, note: Callable[[logging.LogRecord, str], None]) -> None:
        super().__init__(logging.ERROR)
        self.note = note

    def emit(self, record: logging.LogRecord) -> None:
        self.note(record, _formatter.format(record))


async def _answer_500(send: Send) -> None:
    body = b"Internal Server Error"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- server-sent events ----------------------------------------------------------------------------


def event_stream_ends_whole(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """A Schemathesis check for the SSE routes: a 200 stream ends by itself, within the request
    timeout, after a complete frame that is either ``stream.timeout`` (data ``{ok, next_seq}``) or an
    intent's terminal event (not ``stream.error``, nor anything else); every frame's data is JSON."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code != 200 or not content_type.startswith("text/event-stream"):
        return
    if response.stream_cut_short:
        raise AssertionError(
            f"The stream was cut: still open after {REQUEST_TIMEOUT}s (the server caps wait_seconds at "
            f"{SHORT_WAIT}s) or past {MAX_STREAM_EVENTS} events"
        )
    body = response.content
    if not body.endswith(b"\n\n"):
        raise AssertionError(f"The stream ended inside a frame: ...{body[-200:]!r}")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise AssertionError(f"The stream is not UTF-8: ...{body[-200:]!r}") from None
    # The SSE spec ends a line at CRLF, CR or LF (and nothing else); a blank line ends a frame.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    frames = [_frame(block) for block in text.split("\n\n") if block.strip()]
    events = [(name, data) for name, data in frames if name is not None]
    if not events:
        raise AssertionError(f"The stream ended without a frame: {body[-200:]!r}")
    name, data = events[-1]
    if name == "stream.error":  # the server's way to end a stream it could not go on with
        raise AssertionError(f"The stream ended with stream.error: {data!r}")
    if name == "stream.timeout":
        if not (isinstance(data, dict) and data.get("ok") is True and type(data.get("next_seq")) is int):
            raise AssertionError(f"stream.timeout carries {data!r}, not {{ok: true, next_seq: <int>}}")
    elif not (isinstance(data, dict) and data.get("status") in TERMINAL_STATUSES):
        raise AssertionError(f"The stream ended after {name!r}, neither stream.timeout nor a terminal event")


def _frame(block: str) -> tuple[str | None, Any]:
    """(event name, parsed data) of one SSE block (lines ended by LF); (None, None) for a comment."""
    fields: dict[str, str] = {}
    for line in block.split("\n"):
        if line and not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
    if not fields:
        return None, None
    if "event" not in fields or "data" not in fields:
        raise AssertionError(f"A frame without event: or data: {block!r}")
    data = fields["data"]
    if separators := sorted({f"U+{ord(c):04X}" for c in data if c in _OTHER_LINE_BREAKS}):
        # The SSE spec ends lines at CR and LF only, but httpx's iter_lines, which both the official
        # AXP SDK and intentd's SDK read streams with, also ends them at these: the data line splits.
        raise AssertionError(f"A frame's data holds {', '.join(separators)}: the SDKs split it: {block!r}")
    try:
        return fields["event"], orjson.loads(data)
    except orjson.JSONDecodeError:
        raise AssertionError(f"A frame whose data is not JSON: {block!r}") from None


# Line breaks to str.splitlines (and so to httpx) that JSON leaves unescaped (it escapes < U+0020).
_OTHER_LINE_BREAKS = frozenset("\x85\u2028\u2029")


# --- requests that end at once -----------------------------------------------------------------------


def shorten_waits(case: Case[Any]) -> None:
    """A long poll's ``wait_seconds`` (a claim's body), when valid, becomes at most
    :data:`SHORT_WAIT`: still valid, so a positive case stays positive and a negative case keeps the
    violation it was generated for (a value past the documented maximum is left as it is). Streams
    need none of this: the app caps them at :data:`SHORT_WAIT` (:func:`fuzz_settings`)."""
    for body in case.operation.body:
        properties = body.definition.get("schema", {}).get("properties", {})
        if "wait_seconds" in properties and isinstance(case.body, dict):
            _shorten(case.body, properties["wait_seconds"])


def _shorten(values: dict[str, Any], schema: Mapping[str, Any]) -> None:
    wait = values.get("wait_seconds")
    if not isinstance(wait, int | float) or isinstance(wait, bool):
        return
    if 0 <= wait <= schema.get("maximum", math.inf):  # false for NaN
        values["wait_seconds"] = type(wait)(min(wait, SHORT_WAIT))


# --- state to fuzz against ---------------------------------------------------------------------------


# Valid text that trips readers splitting lines or strings too eagerly: line and paragraph separators,
# NEL, a quote, a backslash, a character outside the BMP. One seeded intent carries it.
UNUSUAL_TEXT = 'line\u2028paragraph\u2029next\x85 "quoted" \\ \U0001f600'


class Seeder:
    """Seeding through the API with one client: every POST must answer 200."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, path: str, body: Mapping[str, Any], **params: str) -> dict[str, Any]:
        response = self.client.post(path, json=body, params=params, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, f"seeding: POST {path} answered {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    def submit_and_claim(self, lease_seconds: float | None) -> tuple[str, str]:
        intent_id = self.call("/v1/intents", intent_body(WRITER))["intent_id"]
        claim: dict[str, Any] = {"worker_id": "seed"}
        if lease_seconds is not None:
            claim["lease_seconds"] = lease_seconds
        claimed = self.call(f"/v1/agents/{WRITER.removeprefix('agent://')}/claims", claim)
        (delivery,) = claimed["deliveries"]
        assert delivery["intent"]["intent_id"] == intent_id, "seeding: claimed another intent"
        return intent_id, delivery["lease"]["token"]

    def lifecycle(self, lease_seconds: float | None = None) -> tuple[str, str, str]:
        """Three intents of :data:`WRITER`: one waiting for a human, one leased, one completed."""
        waiting, token = self.submit_and_claim(lease_seconds)
        self.call(f"/v1/intents/{waiting}/wait", {"lease_token": token, "reason": "WAITING_FOR_HUMAN"})
        leased, _ = self.submit_and_claim(lease_seconds)
        completed, token = self.submit_and_claim(lease_seconds)
        self.call(f"/v1/intents/{completed}/complete", {"lease_token": token, "result": {"ok": True}})
        return waiting, leased, completed


def seed_state(app: ASGIApp) -> dict[str, list[str]]:
    """Intents in several states (one with :data:`UNUSUAL_TEXT`), an inbox thread and a mesh agent,
    made through the API; returns the values of each path parameter that name one of them."""
    with asgi.get_client(app) as client:  # type: ignore[arg-type]  # ASGI's own app type
        client.headers["x-api-key"] = API_KEY
        seeder = Seeder(client)
        waiting, leased, completed = seeder.lifecycle()
        unusual = {"correlation_id": UNUSUAL_TEXT, "payload": {"note": UNUSUAL_TEXT}}
        body = intent_body(WRITER, reply_to=REVIEWER, **unusual)
        submitted = seeder.call("/v1/intents", body)["intent_id"]
        seeder.call("/v1/mesh/heartbeat", {"metrics": {"load": 0.5}}, owner_agent=WRITER)
    address = WRITER.removeprefix("agent://")
    return {  # percent-encoded, as Schemathesis gives path parameters (a raw "//" would be collapsed)
        "intent_id": [submitted, leased, waiting, completed],
        "thread_id": [submitted],
        "approval_id": [waiting],
        "address": [address, quote(WRITER, safe="")],
        "address_id": [address],
    }


def known_path_values(known: Mapping[str, Sequence[str]]) -> Callable[..., SearchStrategy[Any]]:
    """A Schemathesis ``flatmap_path_parameters`` hook: each path parameter named in ``known`` keeps
    its generated value or takes one of the known values, drawn by Hypothesis (so it shrinks to the
    generated value and the reproduction shows what was sent). A generated value that breaks the
    limits every id of the API has (a negative case's broken parameter) is kept as it is."""

    def choices(name: str, value: Any) -> SearchStrategy[Any]:
        if not known.get(name) or not _plausible_id(value):
            return st.just(value)
        return st.one_of(st.just(value), st.sampled_from(known[name]))

    def flatmap_path_parameters(ctx: HookContext, parameters: dict[str, Any] | None) -> SearchStrategy[Any]:
        if not parameters:
            return st.just(parameters)
        return st.fixed_dictionaries({name: choices(name, value) for name, value in parameters.items()})

    return flatmap_path_parameters


def _plausible_id(value: Any) -> bool:
    # Path parameters come percent-encoded.
    return isinstance(value, str) and 1 <= len(text := unquote(value)) <= 255 and "\x00" not in text
