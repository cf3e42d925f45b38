"""The CLI's connection to a running server (until the SDK of issue 3 takes this over)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import typer

from intentd.settings import Settings

from ._output import errors


class Remote:
    def __init__(self, settings: Settings) -> None:
        headers = {"x-api-key": settings.resolved_api_key() or ""}
        self._http = httpx.Client(base_url=settings.url, headers=headers, timeout=30.0)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            errors.print(f"[red]cannot reach the server at {self._http.base_url}: {exc}[/red]")
            raise typer.Exit(2) from None
        body: dict[str, Any] = response.json()
        if response.status_code >= 400:
            error = body.get("error", {})
            errors.print(f"[red]{response.status_code} {error.get('code')}: "
                         f"{error.get('message')}[/red]")
            raise typer.Exit(1)
        return body

    def stream(self, path: str, params: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (event name, data) from an SSE endpoint until the server closes the segment."""
        with self._http.stream("GET", path, params=params, timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                self.call("GET", path.removesuffix("/stream"))  # reports the error and exits
            name, data = "", ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif not line and name:
                    yield name, orjson.loads(data) if data else {}
                    name, data = "", ""
