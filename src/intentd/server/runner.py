"""Serving the app with uvicorn (what ``intentd serve`` runs)."""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

from intentd.settings import Settings

from .app import create_app


class _DrainingServer(uvicorn.Server):
    """On SIGTERM/SIGINT, first wake the app's long polls and streams (they answer at once), then
    shut down as uvicorn does, which waits for in-flight requests to finish."""

    def __init__(self, app: FastAPI, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        drain = getattr(self.app.state, "begin_drain", None)
        if drain is not None:
            drain()
        super().handle_exit(sig, frame)


def run_server(settings: Settings, app: FastAPI | None = None) -> None:
    """Serve ``app`` (by default ``create_app(settings)``; the CLI passes the app it composed, with
    the MCP server mounted) until a signal: uvloop and httptools for the hot path, and no access log
    (writing a line per request costs about as much as serving it)."""
    app = app or create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    _DrainingServer(app, config).run()
