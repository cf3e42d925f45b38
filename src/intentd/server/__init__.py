"""The HTTP server: AXP routes, SSE, auth, errors."""

from .app import create_app
from .runner import run_server

__all__ = ["create_app", "run_server"]
