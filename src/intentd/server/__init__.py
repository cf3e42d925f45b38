"""The HTTP server: AXP routes, SSE, auth, errors."""

from .app import create_app

__all__ = ["create_app"]
