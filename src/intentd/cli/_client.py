"""The one way CLI commands reach a server: the SDK's ``Client``, with every error of the SDK's tree
turned into one line on stderr and an exit code, whatever the server (or a proxy in front of it)
answered. Scripts tell the cases apart by the exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from intentd.client import (
    Client,
    ClientTimeout,
    IntentdError,
    TransportError,
    UnexpectedResponse,
    WaitTimeout,
)
from intentd.settings import Settings

from ._output import fail

EXIT_REFUSED = 1  # the server answered with an error; the line says which
EXIT_UNREACHABLE = 2  # no answer at all
EXIT_GAVE_UP = 3  # a wait ran out of time; the intent is still open, so this is not an error

TIMEOUT = 30.0  # seconds per request; generous, as a person is waiting, not a hot loop


@contextmanager
def connect(settings: Settings) -> Iterator[Client]:
    """A client for ``settings.url``; SDK errors raised in the ``with`` body end the command."""
    # An empty key rather than None: the SDK would otherwise read the environment itself, and the
    # CLI's flags must win over it.
    api_key = settings.resolved_api_key() or ""
    try:
        with Client(settings.url, api_key, timeout=TIMEOUT) as client:
            yield client
    except WaitTimeout as exc:
        fail(f"{exc.code}: {exc.message}", EXIT_GAVE_UP, style="yellow")
    except TransportError as exc:
        fail(unreachable(exc, settings.url), EXIT_UNREACHABLE)
    except UnexpectedResponse as exc:  # a success status, but not the API's answer (a web page)
        fail(f"not an intentd server at {settings.url}: {exc.message}", EXIT_REFUSED)
    except IntentdError as exc:
        fail(refusal(exc), EXIT_REFUSED)


def refusal(exc: IntentdError) -> str:
    """``<status> <code>: <message>``: the status as received (a proxy's 502 is not the class's
    500), and the request id when the server sent one, to find the request in its log."""
    line = f"{exc.status_code or exc.http_status} {exc.code}: {exc.message}"
    return f"{line} (request {exc.request_id})" if exc.request_id else line


def unreachable(exc: TransportError, url: str) -> str:
    # The underlying httpx error says what failed (refused, DNS, TLS); the SDK's message is generic.
    cause = f"{type(exc.__cause__).__name__}: {exc.__cause__}" if exc.__cause__ else exc.message
    if isinstance(exc, ClientTimeout):
        return f"no answer in time from the server at {url} ({cause})"
    return f"cannot reach the server at {url} ({cause})"
