"""The dashboard's templates (``templates/``, partials in ``templates/partials/``), read from the
package with autoescaping on, and the filters they share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from intentd import __version__
from intentd.model import Micros, Status

from .access import Viewer

LARGE_JSON_CHARS = 600  # a payload or result past this is shown collapsed (<details>)
_US = 1_000_000


def when(micros: Micros | None) -> str:
    """A stored time as people read it, in UTC to the second."""
    if micros is None:
        return "—"
    return datetime.fromtimestamp(micros / _US, UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(micros: Micros | None) -> str:
    """For a ``<time datetime>`` attribute."""
    if micros is None:
        return ""
    return datetime.fromtimestamp(micros / _US, UTC).isoformat(timespec="milliseconds")


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def is_large(value: Any) -> bool:
    return len(pretty(value)) > LARGE_JSON_CHARS


def status_class(status: Status | str) -> str:
    """The CSS class of a status badge: its lifecycle phase."""
    value = Status(status)
    if value is Status.COMPLETED:
        return "ok"
    if value.is_terminal:
        return "bad"
    return "wait" if value is Status.WAITING else "live"


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}".rstrip("0").rstrip(".")


_environment = Environment(
    loader=PackageLoader("intentd.server.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(
    when=when, iso=iso, pretty=pretty, is_large=is_large, status_class=status_class, money=money
)
templates = Jinja2Templates(env=_environment)


def render(
    request: Request,
    viewer: Viewer | None,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """``name`` rendered for ``viewer`` (None: signed out), with what every page's layout shows."""
    shared = {"viewer": viewer, "version": __version__, "path": request.url.path, "statuses": list(Status)}
    return templates.TemplateResponse(request, name, {**shared, **(context or {})}, status_code=status_code)
