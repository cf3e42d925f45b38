"""Serving the app with uvicorn (what ``intentd serve`` runs)."""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from intentd.settings import Settings

from .access import AccessLog
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
    of uvicorn's (writing a line per request costs about as much as serving it; with JSON logs
    ``AccessLog`` writes one, with the request's ids)."""
    app = app or create_app(settings)
    # JSON logs: each request's log context and access line, around the whole app (access.py)
    served = AccessLog(app) if settings.log_format == "json" else app
    config = uvicorn.Config(
        served,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        access_log=False,
        timeout_graceful_shutdown=10,
        # JSON logs: uvicorn's lines go to the handler intentd installed (its own config would add
        # a text handler of its own); the access lines come from AccessLog.
        log_config=None if settings.log_format == "json" else LOGGING_CONFIG,
    )
    _DrainingServer(app, config).run()
