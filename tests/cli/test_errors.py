"""Whatever answers at the URL, a failed command prints one line on stderr and exits non-zero; no
traceback reaches the user."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli._run import intentd, remote
from tests.e2e._server import TEST_KEY, Server, free_port

pytestmark = pytest.mark.slow
PROXY_PAGE = b"<html><body><h1>502 Bad Gateway</h1><p>upstream [down]</p></body></html>"


def test_wrong_key_is_a_clear_error(server: Server, tmp_path: Path) -> None:
    result = remote(server, tmp_path, "intents", "list", api_key="itd_wrong")
    assert result.returncode == 1
    assert "401 invalid_api_key" in result.stderr
    assert result.stdout == ""


def test_unknown_intent_is_a_clear_error(server: Server, tmp_path: Path) -> None:
    result = remote(server, tmp_path, "intents", "show", "no-such-intent")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("404 intent_not_found: ")
    assert "(request " in line  # to find it in the server's log


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = intentd(tmp_path, "--url", nowhere, "--api-key", TEST_KEY, "intents", "list")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"cannot reach the server at {nowhere} (ConnectError")


def test_an_invalid_variable_is_named(tmp_path: Path) -> None:
    result = intentd(tmp_path, "intents", "list", port="eighty")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("invalid settings: INTENTD_PORT: ")


class _WebPage(BaseHTTPRequestHandler):
    """An HTML page with ``status``: a reverse proxy whose upstream is down (502), or some web
    server at a mistyped URL (200). Not intentd's JSON either way."""

    status = 502

    def _answer(self) -> None:
        self.send_response(self.status)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(PROXY_PAGE)))
        self.end_headers()
        self.wfile.write(PROXY_PAGE)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


class _Ok(_WebPage):
    status = 200


@pytest.fixture(scope="module")
def bad_gateway() -> Iterator[str]:
    yield from _serve(_WebPage)


@pytest.fixture(scope="module")
def web_page() -> Iterator[str]:
    yield from _serve(_Ok)


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    "args",
    [
        ("intents", "list"),  # a read: the SDK retries a 502 first, then gives up
        ("submit", "--to", "agent://acme/cli/writer", "--type", "intent.cli.v1"),  # a write, sent once
        ("intents", "watch", "some-intent"),  # a stream
    ],
)
def test_a_proxy_error_page_is_one_line(bad_gateway: str, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = intentd(tmp_path, *args, url=bad_gateway, api_key=TEST_KEY)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["502 internal_error: HTTP 502 Bad Gateway"]
    assert result.stdout == ""


def test_a_web_page_at_the_url_is_one_line(web_page: str, tmp_path: Path) -> None:
    result = intentd(tmp_path, "intents", "list", url=web_page, api_key=TEST_KEY)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"not an intentd server at {web_page}: ")
    assert "text/html" in line
