"""The browser's side of a dashboard session: the cookie that carries the session id, and the check of
every request against it.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it),
``Secure`` when the request came over https, and scoped to ``/ui``, so the API never sees it. A session
is read from the database on each request (engine/sessions.py), so any replica serves it and a revoked
key ends it at once.

Every POST carries the session's CSRF token, in the form (``csrf_token``) or, from htmx, in the
``X-CSRF-Token`` header (``hx-headers`` on the page's body); without it, 403 ``forbidden``. The token is
derived from the session id, so nothing more is stored, and it cannot be derived from the stored hash.
A request that a browser marks as sent from another site (``Sec-Fetch-Site: cross-site``) is refused
too, sign-in included.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response

from intentd.engine import Principal
from intentd.engine.audit import acting_as
from intentd.engine.sessions import SESSION_ENDED
from intentd.model import Forbidden, Unauthorized, ValidationFailed

from ..auth import app_engine
from .access import Viewer

COOKIE = "intentd_ui"
COOKIE_PATH = "/ui"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 200  # a posted form's fields, at most
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_id: str) -> str:
    digest = hashlib.sha256(b"intentd-ui-csrf\x00" + session_id.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def viewer(request: Request) -> Viewer:
    """The signed-in person (``Unauthorized`` when there is no live session); for a POST, only with
    the session's CSRF token."""
    state = request.scope.setdefault("state", {})
    found: Viewer | None = state.get("viewer")
    if found is not None:
        return found
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        raise Unauthorized(SESSION_ENDED)
    principal = await app_engine(request).sessions.principal(session_id)
    found = Viewer(principal, csrf_token(session_id), session_id)
    if request.method not in _SAFE:
        refuse_cross_site(request)
        if not hmac.compare_digest((await _sent_token(request)).encode(), found.csrf_token.encode()):
            raise Forbidden(
                "this form's CSRF token is missing or wrong: reload the page", details={"field": CSRF_FIELD}
            )
    _act_as(request, principal)
    state["viewer"] = found
    return found


def _act_as(request: Request, principal: Principal) -> None:
    """What ``auth.authenticate`` does for an API request: the audit trail's "who", and the key's
    rate limit."""
    acting_as(principal)
    if (limiter := request.app.state.rate_limiter) is not None:
        limiter.check(principal.key_id)


async def _sent_token(request: Request) -> str:
    """The CSRF token the request carries: htmx's header, else the form's field."""
    if header := request.headers.get(CSRF_HEADER):
        return header
    if _content_type(request) != FORM:
        return ""
    return (await posted(request)).get(CSRF_FIELD, "")


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def refuse_cross_site(request: Request) -> None:
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("the dashboard takes no form sent from another site")


async def posted(request: Request) -> dict[str, str]:
    """A form post's fields (``application/x-www-form-urlencoded``, what browsers and htmx send); a
    repeated field keeps its last value."""
    if _content_type(request) != FORM:
        raise ValidationFailed("the dashboard takes url-encoded forms", details={"field": "content-type"})
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        fields = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise ValidationFailed(f"a form has at most {MAX_FIELDS} fields", details={"field": "body"}) from None
    return {name: value.replace("\x00", "") for name, value in fields}


def set_cookie(request: Request, response: Response, session_id: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )


ViewerDep = Annotated[Viewer, Depends(viewer)]
