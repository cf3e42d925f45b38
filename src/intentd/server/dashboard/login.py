"""Signing in and out (``/ui/login``, ``/ui/logout``). The key is posted in a form, never put in a URL;
a key that does not pass gets the form again with a 401 and nothing that says why beyond "not
accepted" (revoked, expired and unknown keys look alike to whoever is guessing)."""

from __future__ import annotations

from fastapi import Request, Response

from intentd.engine.sessions import SESSION_SECONDS
from intentd.model import Unauthorized

from ..auth import app_engine
from ._routing import LOGIN, form, page_router, redirect
from .access import Viewer
from .session import ViewerDep, clear_cookie, csrf_token, posted, refuse_cross_site, set_cookie, viewer
from .templating import render

router = page_router()
API_KEY_FIELD = "api_key"


@router.get("")
async def home(request: Request) -> Response:
    try:
        signed_in = await viewer(request)
    except Unauthorized:
        return redirect(request, LOGIN)
    return redirect(request, signed_in.home)


@router.get("/login")
async def login_form(request: Request) -> Response:
    return render(request, None, "login.html")


@router.post("/login", openapi_extra=form(API_KEY_FIELD))
async def login(request: Request) -> Response:
    refuse_cross_site(request)
    key = (await posted(request)).get(API_KEY_FIELD, "").strip()
    try:
        opened = await app_engine(request).sessions.open(key)
    except Unauthorized:
        return render(request, None, "login.html", {"refused": True}, status_code=401)
    signed_in = Viewer(opened.principal, csrf_token(opened.session_id), opened.session_id)
    response = redirect(request, signed_in.home)
    set_cookie(request, response, opened.session_id, SESSION_SECONDS)
    return response


@router.post("/logout")
async def logout(request: Request, signed_in: ViewerDep) -> Response:
    await app_engine(request).sessions.close(signed_in.session_id, signed_in.principal)
    response = redirect(request, LOGIN)
    clear_cookie(request, response)
    return response
