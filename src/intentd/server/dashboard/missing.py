"""Any other request under ``/ui``: a path no page has (404), or a page's path with a method it does not
take (405, with ``Allow``), whatever the method. Answered as the dashboard answers its errors (an error
page with its security headers), not with the API's JSON error. Added last, after the static files'
mount, so it only takes what nothing else did."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from intentd.model import MethodNotAllowed, NotFound

from ._routing import SECURITY_HEADERS, error_page
from .pages import PAGES

PATHS = ("/ui", "/ui/{rest:path}")


class Missing:
    """An ASGI endpoint, so its routes take every method (a function's take GET only)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = answer(Request(scope, receive))
        response.headers.update(SECURITY_HEADERS)
        await response(scope, receive, send)


def answer(request: Request) -> Response:
    allowed = sorted(_methods_for(request.scope))
    if not allowed:
        return error_page(request, NotFound(f"the dashboard has no page at {request.url.path}"))
    refused = MethodNotAllowed(
        f"{request.url.path} does not take {request.method}", details={"allowed": allowed}
    )
    response = error_page(request, refused)
    response.headers["Allow"] = ", ".join(allowed)
    return response


def _methods_for(scope: Scope) -> set[str]:
    """The methods the dashboard's pages take at this path."""
    found: set[str] = set()
    for route in (route for pages in PAGES for route in pages.router.routes):
        match, _ = route.matches(scope)
        if match is not Match.NONE:  # PARTIAL: the path is the route's, the method is not
            found |= getattr(route, "methods", None) or set()
    return found
