"""The AsyncClient's httpx client when it sends through the lean transport: its plain requests go
straight to the transport, without httpx's request and response objects.

On an agent's hot path (a completion per handoff) httpx's client layer cost more client CPU than the
transport under it: merging the URL with the base URL (parsed and validated twice), building the
request and its headers, the auth and redirect machinery, wrapping the answer's stream and reading
cookies from every answer through ``http.cookiejar`` (docs/benchmarks.md, "Agent CPU per handoff").
The SDK's calls need none of that: a path of its own, a JSON body, a few headers. So
:meth:`DirectClient.request` builds the request's bytes itself, exactly as httpx would (the same
headers in the same order, the same JSON, the same query string), has the transport read the answer
whole, and gives back an ``httpx.Response`` made from it. Anything it does not handle that way takes
httpx's own path: a request with cookies to send or other arguments, a path that httpx would quote, a
base URL with credentials, and streams. (httpx reads no proxy from the environment for a client given
its transport, so neither path has one.)
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
from typing import Any

import httpx
from httpx._client import USE_CLIENT_DEFAULT, UseClientDefault
from httpx._types import (
    AuthTypes,
    CookieTypes,
    HeaderTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    TimeoutTypes,
)

from . import _http11
from ._transport import LeanTransport

# A path httpx sends as it is: unreserved characters, the delimiters it leaves, percent escapes.
_PLAIN_PATH = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})  # httpx sends Content-Length: 0 without a body
_httpx_log = logging.getLogger("httpx")  # httpx logs each request at INFO; so does this path


class DirectClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` over a :class:`LeanTransport`, plain requests sent directly."""

    def __init__(
        self, *, base_url: str, transport: LeanTransport, timeout: float, limits: httpx.Limits
    ) -> None:
        super().__init__(base_url=base_url, transport=transport, timeout=timeout, limits=limits)
        url = self.base_url
        # Only where httpx itself would hand this URL's requests to this transport, unchanged.
        proxied = self._transport_for_url(url) is not transport
        self._lean = None if proxied or url.userinfo or url.scheme != "http" else transport
        self._origin = (url.host, url.port or 80)
        self._host = url.netloc
        self._prefix = url.raw_path  # httpx's base URLs end with "/"

    async def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> httpx.Response:
        others = (content, data, files, cookies, extensions, auth, follow_redirects)
        raw = self._request_bytes(method.upper(), url, params, headers, json, others)
        if raw is None:
            return await super().request(
                method, url, content=content, data=data, files=files, json=json, params=params,
                headers=headers, cookies=cookies, auth=auth, follow_redirects=follow_redirects,
                timeout=timeout, extensions=extensions,
            )  # fmt: skip
        assert isinstance(url, str) and self._lean is not None
        given = self.timeout if isinstance(timeout, UseClientDefault) else httpx.Timeout(timeout)
        try:
            answer = await self._lean.request_whole(
                self._origin, method.upper().encode(), raw, given.as_dict()
            )
        except httpx.RequestError as exc:
            exc.request = self.build_request(method, url, params=params, headers=headers)
            raise
        return self._response(answer, method, url, params, headers)

    def _response(
        self,
        answer: _http11.Answer,
        method: str,
        url: str,
        params: QueryParamTypes | None,
        headers: HeaderTypes | None,
    ) -> httpx.Response:
        """The answer as httpx's client would give it: decoded, its cookies kept, logged."""
        response = httpx.Response(
            answer.status_code,
            headers=answer.headers,
            stream=httpx.ByteStream(answer.content),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )
        response.read()  # decoded as httpx decodes it (Content-Encoding)
        if "set-cookie" in response.headers:  # rare: let httpx's jar read them, as it would
            response.request = self.build_request(method, url, params=params, headers=headers)
            self.cookies.extract_cookies(response)
        if _httpx_log.isEnabledFor(logging.INFO):
            reason = answer.reason.decode()
            _httpx_log.info('HTTP Request: %s %s "HTTP/1.1 %d %s"', method, url, answer.status_code, reason)
        return response

    def _request_bytes(
        self,
        method: str,
        path: httpx.URL | str,
        params: QueryParamTypes | None,
        headers: HeaderTypes | None,
        json: Any,
        others: tuple[Any, ...],
    ) -> bytes | None:
        """The request as httpx builds it: Host first, then the client's headers updated with the
        request's, then the body's; the body JSON as httpx encodes it (its ValueError for NaN).
        None when httpx's path must send it: anything but a plain path, parameters, headers and a
        JSON body (``others`` are the rest of ``request``'s arguments), cookies to send, hooks, or
        headers that frame a body of their own (Transfer-Encoding)."""
        plain = (
            self._lean is not None
            and isinstance(path, str)
            and _PLAIN_PATH.fullmatch(path)
            and others == (None, None, None, None, None, USE_CLIENT_DEFAULT, USE_CLIENT_DEFAULT)
            and self.auth is None
            and not (self.event_hooks["request"] or self.event_hooks["response"])
            and not self.cookies  # none to send: the jar is empty
        )
        if not plain:
            return None
        assert isinstance(path, str)
        target = self._prefix + path[1:].encode()
        if params:
            target += b"?" + str(httpx.QueryParams(params)).encode()
        merged = httpx.Headers(self.headers)
        merged.update(headers)
        if "Transfer-Encoding" in merged:
            return None
        auto = [] if "Host" in merged else [(b"Host", self._host)]
        body = b""
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            merged.setdefault("Content-Length", str(len(body)))
            merged.setdefault("Content-Type", "application/json")
        elif method in _WITH_BODY and "Content-Length" not in merged:
            auto.append((b"Content-Length", b"0"))
        return _http11.request(method.encode(), target, auto + merged.raw, body)
