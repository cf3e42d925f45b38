"""Plain HTTP calls for the CLI: its ``--json`` output is the API's own answer, so most commands
call the routes directly; following a stream goes through the SDK (``intents watch``)."""

from __future__ import annotations

from typing import Any

import httpx
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
            errors.print(f"[red]{response.status_code} {error.get('code')}: {error.get('message')}[/red]")
            raise typer.Exit(1)
        return body
