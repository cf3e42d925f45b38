"""The dashboard's routes: out of ``/openapi.json``, HTML answers, and errors as pages.

An error a page raises (``IntentdError``, or a parameter FastAPI refuses) is answered as HTML with its
status: a session that is over sends the browser to the sign-in page (htmx follows ``HX-Redirect``), an
htmx request gets the message in the page's flash area, any other an error page. Every answer carries
the headers that keep the dashboard's pages to themselves: a content security policy allowing only
this origin's scripts and styles (so no inline script runs: htmx is configured not to evaluate any),
no framing, no caching of pages that show data.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, RedirectResponse

from intentd.model import IntentdError, Unauthorized, ValidationFailed

from ..errors import retry_after
from .session import COOKIE, FORM, clear_cookie
from .templating import render

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
LOGIN = "/ui/login"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class DashboardRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def answered(request: Request) -> Response:
            try:
                response = await handle(request)
            except IntentdError as err:
                response = error_page(request, err)
            except RequestValidationError as err:
                response = error_page(request, _invalid(err))
            response.headers.update(SECURITY_HEADERS)
            return response

        return answered


def form(*fields: str, more: bool = False, **choices: Sequence[str]) -> dict[str, Any]:
    """A POST's form, as its route declares it (``openapi_extra``): url-encoded text ``fields`` (the
    CSRF token aside), fields that take one of their ``choices`` (a select), and any others when
    ``more``. The handler reads the fields itself (``posted``, after the CSRF check), so this is the
    form's one description: the dashboard's routes are out of ``/openapi.json``, and
    tests/ui/test_fuzz.py fuzzes each form from it."""
    properties: dict[str, Any] = {name: {"type": "string"} for name in fields}
    properties |= {name: {"type": "string", "enum": list(values)} for name, values in choices.items()}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": {"type": "string"} if more else False,
    }
    return {"requestBody": {"required": True, "content": {FORM: {"schema": schema}}}}


def page_router() -> APIRouter:
    return APIRouter(
        prefix="/ui", include_in_schema=False, route_class=DashboardRoute, default_response_class=HTMLResponse
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def redirect(request: Request, to: str) -> Response:
    """To another page: for htmx, ``HX-Redirect`` (it would otherwise swap the page into a part)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": to})
    return RedirectResponse(to, status_code=303)


def error_page(request: Request, err: IntentdError) -> Response:
    if isinstance(err, Unauthorized):
        response = redirect(request, LOGIN)
        if COOKIE in request.cookies:
            clear_cookie(request, response)
        return response
    if is_htmx(request):
        response = render(request, None, "partials/flash.html", {"error": err}, status_code=err.http_status)
        response.headers.update({"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    else:
        viewer = request.scope.get("state", {}).get("viewer")
        response = render(request, viewer, "error.html", {"error": err}, status_code=err.http_status)
    response.headers.update(retry_after(err))  # as the API's answer says it
    return response


def _invalid(err: RequestValidationError) -> ValidationFailed:
    first = err.errors()[0] if err.errors() else {"loc": ("query",), "msg": "invalid"}
    field = ".".join(str(p) for p in first["loc"] if p not in ("query", "path", "body"))
    return ValidationFailed(f"{field}: {first['msg']}", details={"field": field})
