"""Adds the dashboard to the app: its pages under ``/ui`` and its static files under ``/ui/static``."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from . import missing
from .pages import PAGES

STATIC = "/ui/static"


def install(app: FastAPI) -> None:
    """Include the dashboard's pages (out of ``/openapi.json``: they are not the API) after the API's
    routes, so no API request walks past them, and serve its static files from the package; any
    other request under ``/ui`` gets the dashboard's error page (``missing``)."""
    for pages in PAGES:
        app.include_router(pages.router)
    app.mount(STATIC, StaticFiles(packages=[("intentd.server.dashboard", "static")]), name="ui-static")
    for path in missing.PATHS:
        app.router.add_route(path, missing.Missing(), include_in_schema=False)  # type: ignore[arg-type]  # ASGI
