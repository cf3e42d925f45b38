"""Everything the two clients share and nothing that does I/O (httpx's ``BaseClient`` pattern):
configuration, the :class:`Call` (one request, with the parser of its answer and whether it is safe
to retry), response parsing, error mapping and the retry schedule. The calls of the API are built in
``_calls.py``; followed streams keep their cursors in ``_sse.py``. ``_async.py`` sends; ``_sync.py``
is generated from it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

import httpx

from intentd import __version__
from intentd.model import JSON, IntentdError
from intentd.settings import Settings

from . import _tracing
from ._direct import DirectClient
from ._errors import TransportError, error_from_response, unexpected_response
from ._transport import LeanTransport

T = TypeVar("T")
RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request of the API, built before any I/O, with the parser of its answer."""

    method: str
    path: str
    parse: Callable[[JSON], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Safe to send twice: reads, and writes the server deduplicates (an Idempotency-Key, a lease
    # token). Anything else could apply twice when only the response was lost.
    retry_safe: bool = False
    read_timeout: float | None = None  # for long polls and streams; None = the client's timeout


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    backoff: float = 0.2  # seconds before the first retry; doubles each time, with jitter
    max_backoff: float = 10.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``. The server's ``Retry-After`` wins;
        otherwise exponential backoff with "equal jitter" so many clients do not retry in step."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


# httpx's own defaults, spelled out: the pool a client gets unless it passes ``limits``.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


@overload
def http_client(
    kind: type[httpx.AsyncClient],
    base_url: str,
    transport: httpx.AsyncBaseTransport | None,
    *,
    timeout: float,
    limits: httpx.Limits | None,
) -> httpx.AsyncClient: ...
@overload
def http_client(
    kind: type[httpx.Client],
    base_url: str,
    transport: httpx.BaseTransport | None,
    *,
    timeout: float,
    limits: httpx.Limits | None,
) -> httpx.Client: ...
def http_client(
    kind: type[Any], base_url: str, transport: Any, *, timeout: float, limits: httpx.Limits | None
) -> Any:
    """The httpx client a shell sends through; ``kind`` is the shell's (``httpx.AsyncClient`` or
    ``httpx.Client``), so the one line in ``_async.py`` serves both shells.

    Without a ``transport``, an ``AsyncClient`` with an ``http://`` base URL gets
    :class:`LeanTransport`, which costs about half of httpx's transport in client CPU per request
    (docs/benchmarks.md, "Agent-side transport"); https:// and the sync ``Client`` keep httpx's. A
    caller who wants httpx's everywhere passes it: ``AsyncClient(url, key,
    transport=httpx.AsyncHTTPTransport())``. Over a LeanTransport the calls go straight to it
    (:class:`DirectClient`, docs/benchmarks.md, "Agent CPU per handoff").
    """
    if transport is None and kind is httpx.AsyncClient and base_url.startswith("http://"):
        transport = LeanTransport(limits=limits or DEFAULT_LIMITS)
    if isinstance(transport, LeanTransport):
        return DirectClient(
            base_url=base_url, transport=transport, timeout=timeout, limits=limits or DEFAULT_LIMITS
        )
    return kind(base_url=base_url, transport=transport, timeout=timeout, limits=limits or DEFAULT_LIMITS)


class BaseClient:
    """Configuration and the request/response logic shared by ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 15.0,
        max_retries: int = 2,
        backoff: float = 0.2,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        settings = Settings() if base_url is None or api_key is None else None
        self.base_url = (base_url or (settings.url if settings else "")).rstrip("/")
        self.api_key = api_key if api_key is not None else configured_key(settings)
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries=max_retries, backoff=backoff)
        self._default_headers = {"User-Agent": f"intentd-client/{__version__}", **(headers or {})}
        if self.api_key:
            self._default_headers["x-api-key"] = self.api_key

    @property
    def default_headers(self) -> dict[str, str]:
        """The headers sent with every request: the caller's, the API key and the User-Agent."""
        return dict(self._default_headers)

    def _headers(self, call: Call[Any], trace_id: str) -> dict[str, str]:
        # One trace id per call, the same on every retry, so the server log ties them together; and,
        # sent from inside an OpenTelemetry span, its W3C context (_tracing.py).
        headers = {**self._default_headers, **call.headers, "X-Trace-Id": trace_id}
        _tracing.inject(headers)
        return headers

    def _timeout(self, call: Call[Any]) -> httpx.Timeout:
        if call.read_timeout is None:
            return httpx.Timeout(self.timeout)
        return httpx.Timeout(self.timeout, read=call.read_timeout + self.timeout)

    def _retry_delay(
        self, call: Call[Any], attempt: int, outcome: httpx.Response | TransportError
    ) -> float | None:
        """Seconds to wait before sending ``call`` again, or None to stop here."""
        if not call.retry_safe or attempt >= self.retry.max_retries:
            return None
        if isinstance(outcome, TransportError):
            return self.retry.delay(attempt)
        if outcome.status_code not in RETRY_STATUSES:
            return None
        return self.retry.delay(attempt, error_from_response(outcome, "").retry_after)

    def _parse(self, call: Call[T], response: httpx.Response, trace_id: str) -> T:
        if response.status_code >= 400:
            raise error_from_response(response, trace_id)
        try:
            return call.parse(response.json())
        except (ValueError, KeyError, TypeError) as problem:  # not JSON, or not this API's JSON
            raise unexpected_response(response, trace_id, problem) from None

    def _stream_refusal(self, response: httpx.Response, trace_id: str) -> Exception:
        """Why a stream request gave no stream: the server's error, or StreamUnavailable when the
        server (or a proxy in front of it) does not stream, so the caller may poll instead."""
        error = error_from_response(response, trace_id)
        if response.status_code < 400:
            return StreamUnavailable(error)  # e.g. a proxy that answers JSON or HTML
        if response.status_code in (404, 405, 501) and error.code != "intent_not_found":
            return StreamUnavailable(error)
        return error


def configured_key(settings: Settings | None) -> str | None:
    return settings.resolved_api_key() if settings is not None else None


class StreamUnavailable(Exception):
    """The stream endpoint is missing or does not stream; ``error`` says what the server answered."""

    def __init__(self, error: IntentdError) -> None:
        super().__init__(error.message)
        self.error = error


def new_trace_id() -> str:
    return uuid.uuid4().hex


def is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("text/event-stream")


def ignore(_: JSON) -> None:
    """The parser of stream calls, whose body is read as events instead."""
