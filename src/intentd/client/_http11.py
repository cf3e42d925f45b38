"""HTTP/1.1 framing for the AsyncClient's direct calls (``_direct.py``): a request with its whole body,
an answer read whole. No I/O here; ``_transport.py`` feeds the bytes.

h11 frames the lean transport's other exchanges (httpx's requests, streams). For the direct calls
its generality cost more than the rest of the transport: an event object per part of an exchange, a
state machine stepped per event, every header validated twice. These are the few rules those calls
need, with h11's own checks on what goes out (header names and values: no CR, LF or NUL can be
smuggled into a request) and what comes in (a status line, well-formed headers, one Content-Length,
chunked the only transfer coding).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import httpx
from h11._abnf import field_name, field_value  # the grammar h11 checks headers with

Headers = list[tuple[bytes, bytes]]
_NAME = re.compile(field_name.encode())
_VALUE = re.compile(field_value.encode())
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\r\n]*))?")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*)?")
MAX_HEAD = 64 * 1024  # bytes of status line and headers at most, as h11's default


class Answer(NamedTuple):
    """An answer read whole."""

    status_code: int
    reason: bytes
    headers: Headers
    content: bytes


class Head(NamedTuple):
    status_code: int
    reason: bytes
    headers: Headers
    length: int | None  # the body's Content-Length; None: chunked, or until the connection closes
    chunked: bool
    keep_alive: bool  # the connection may carry another exchange after this one


def request(method: bytes, target: bytes, headers: Headers, body: bytes) -> bytes:
    """The request's bytes; ``headers`` name the body's Content-Length themselves."""
    lines = [method + b" " + target + b" HTTP/1.1"]
    for name, value in headers:
        if not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
            raise httpx.LocalProtocolError(f"Illegal header {name!r}: {value!r}")
        lines.append(name + b": " + value)
    lines.append(b"\r\n")
    return b"\r\n".join(lines) + body


def head(buffer: bytearray, method: bytes) -> tuple[Head, int] | None:
    """The answer's head at the start of ``buffer`` and its size in bytes, or None while incomplete.
    1xx answers are the caller's to skip."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise httpx.RemoteProtocolError("the answer's head is too large")
        return None
    status_line, *lines = bytes(buffer[:end]).split(b"\r\n")
    matched = _STATUS_LINE.fullmatch(status_line)
    if matched is None:
        raise httpx.RemoteProtocolError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
    minor, status, reason = matched.groups()
    headers: Headers = []
    length: int | None = None
    chunked = False
    close = minor == b"0"
    for line in lines:
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
            raise httpx.RemoteProtocolError(f"malformed header line {line[:80]!r}")
        headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            length = _content_length(value, length)
        elif lowered == b"transfer-encoding":
            if chunked or value.lower() != b"chunked":
                raise httpx.RemoteProtocolError("only one Transfer-Encoding, chunked, is supported")
            chunked = True
        elif lowered == b"connection":
            tokens = {token.strip().lower() for token in value.split(b",")}
            close = b"close" in tokens or (close and b"keep-alive" not in tokens)
    code = int(status)
    if chunked:
        length = None
    elif code in (204, 304) or code < 200 or method == b"HEAD":
        length = 0
    elif length is None:
        close = True  # the body ends when the server closes the connection
    return Head(code, reason or b"", headers, length, chunked, not close), end + 4


def _content_length(value: bytes, seen: int | None) -> int:
    lengths = {part.strip() for part in value.split(b",")}
    if len(lengths) != 1 or not next(iter(lengths)).isdigit() or len(next(iter(lengths))) > 20:
        raise httpx.RemoteProtocolError("bad Content-Length")
    length = int(lengths.pop())
    if seen is not None and seen != length:
        raise httpx.RemoteProtocolError("conflicting Content-Length headers")
    return length


class Chunks:
    """A chunked body, decoded as its bytes arrive: :meth:`feed` takes what it can from ``buffer``."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.done = False
        self._left = -1  # bytes of the current chunk still to come; -1: a chunk-size line is next
        self._trailers = False

    def feed(self, buffer: bytearray) -> None:
        while not self.done:
            if self._left > 0:
                take = min(self._left, len(buffer))
                if take == 0:
                    return
                self.body += buffer[:take]
                del buffer[:take]
                self._left -= take
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise httpx.RemoteProtocolError("a chunk's size line is too long")
                return
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            self._line(line)

    def _line(self, line: bytes) -> None:
        if self._left == 0:  # the CRLF that ends a chunk's data
            if line:
                raise httpx.RemoteProtocolError("a chunk is longer than its size")
            self._left = -1
        elif self._trailers:
            self.done = not line  # trailer fields are read past, as httpx drops them
        else:
            matched = _CHUNK_SIZE.fullmatch(line.strip(b" \t"))
            if matched is None:
                raise httpx.RemoteProtocolError(f"bad chunk size line {line[:40]!r}")
            size = int(matched.group(1), 16)
            self._left, self._trailers = (size, False) if size else (-1, True)
