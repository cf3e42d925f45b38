"""The worker's AsyncClient when it was given a sync :class:`Client`.

The worker runs on asyncio, so it needs an :class:`AsyncClient`; this one is configured like the given
client in every respect the client holds: base URL, API key, default headers, timeout, retry policy
(``max_retries``, ``backoff``, ``max_backoff``) and transport.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

from intentd.client import AsyncClient, Client


def async_twin(client: Client, *, threads: int) -> AsyncClient:
    """An AsyncClient configured like ``client``; ``threads`` bounds the requests a borrowed sync
    transport serves at once."""
    twin = AsyncClient(
        client.base_url,
        client.api_key or "",  # not None, which would look a key up in the environment again
        timeout=client.timeout,
        headers=client.default_headers,  # the caller's headers, with the API key and User-Agent
        transport=_borrow(client.transport, threads),
    )
    twin.retry = client.retry  # the whole policy: the constructor takes no max_backoff
    return twin


def _borrow(transport: httpx.BaseTransport | None, threads: int) -> httpx.AsyncBaseTransport | None:
    if transport is None or type(transport) is httpx.HTTPTransport:
        # httpx's own network transport (a plain one given by hand is taken as that too). The
        # AsyncClient's is its equivalent, needs no thread per request, and a long poll on it is cut
        # short at shutdown (a poll in a thread runs on and may lease intents nobody handles).
        return None
    return BorrowedTransport(transport, threads)


class BorrowedTransport(httpx.AsyncBaseTransport):
    """The given Client's transport, used from asyncio and never closed here: the Client owns it."""

    def __init__(self, transport: httpx.BaseTransport, threads: int) -> None:
        self._transport = transport
        # Threads of our own, not asyncio's default pool: sync handlers occupy that one, and a
        # handler's ``ctx.progress`` waits for a request that would then wait for a thread.
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="intentd-worker-http")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if isinstance(self._transport, httpx.AsyncBaseTransport):  # both kinds, e.g. MockTransport
            return await self._transport.handle_async_request(request)
        await request.aread()  # the body becomes bytes, which the sync transport can read too
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._send, request)

    def _send(self, request: httpx.Request) -> httpx.Response:
        # The worker's calls are request/response (a long poll at most), never streams, so the
        # body is read here whole. Raw bytes: the answer keeps its Content-Encoding for httpx.
        response = self._transport.handle_request(request)
        try:
            # The stream, not iter_raw(): a response built from bytes counts as read already.
            if not isinstance(response.stream, httpx.SyncByteStream):
                raise TypeError(f"{type(self._transport).__name__} answered with an async stream")
            raw = b"".join(response.stream)
        finally:
            response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=raw, extensions=response.extensions
        )

    async def aclose(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
