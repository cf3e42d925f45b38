"""Signed approve/reject links (docs/notifications.md): the links a notification mail carries.

``GET /v1/links/{token}`` shows a confirmation page (the task, the answer the link stands for, a
comment box) and decides nothing: mail scanners and link previews open links, and a person must be
the one who answers. ``POST`` to the same URL (the page's form) decides the task with that answer, as
the person the link was made for, and records the link's nonce in the decision's transaction, so a
link decides once.

The token is the credential: these routes take no API key. Browsers (``Accept: text/html``) get HTML
pages, errors included; any other client gets the API's JSON and its error shape. The token is never
logged: the middleware cuts it from the path before an access log can read it
(``server/middleware.py``). Pages are self-contained (no script, no remote content) and sent with a
strict Content-Security-Policy, no caching, no framing and no Referer, so the URL (and its token)
does not travel further.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from intentd.engine import Engine
from intentd.engine.humans import TaskView
from intentd.engine.inputs import Answer, Principal
from intentd.engine.notify import LinkClaims
from intentd.model import IntentdError, TaskClosed, ValidationFailed, to_rfc3339
from intentd.wire import ErrorAnswer, TaskAnswerResponse

from .._responses import answer
from ..auth import EngineDep
from .tasks import task_wire

router = APIRouter(prefix="/v1/links", tags=["links"])
MAX_COMMENT = 5000  # wire/limits.py Comment

Token = Annotated[str, Path(description="the signed token, as the notification gave it")]
_HTML_TEXT = {"text/html": {"schema": {"type": "string"}}}
_COMMENT_SCHEMA = {
    "type": "object",
    "properties": {"comment": {"type": "string", "maxLength": MAX_COMMENT, "pattern": r"^[^\x00]*$"}},
}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorAnswer, "description": description, "content": _HTML_TEXT}


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": _HTML_TEXT},
    403: _error("link_invalid: not signed by this server, or changed"),
    404: _error("task_not_found: the task is gone"),
    409: _error("task_closed: already decided, timed out or canceled; link_used: the link decided once"),
    410: _error("link_expired: past the link's lifetime"),
    413: _error("body larger than INTENTD_MAX_BODY_BYTES"),
    422: _error("invalid comment (or one required and missing); error.details.field names it"),
}
# No API key: the token is the credential (openapi.py keeps an operation's own security).
_NO_KEY: dict[str, Any] = {"security": []}


@router.get(
    "/{token}",
    summary="The confirmation page of a signed link (decides nothing)",
    response_model=TaskAnswerResponse,
    responses=RESPONSES,
    openapi_extra=_NO_KEY,
)
async def show(token: Token, request: Request, engine: EngineDep) -> Response:
    html = wants_html(request)
    try:
        claims = await engine.notifier.links.verify(token)
        view = await engine.tasks.get(link_principal(claims), claims.task_id)
        _still_open(view)
    except IntentdError as err:
        if html:
            return error_page(err)
        raise
    if html:
        return confirmation_page(view, claims)
    return answer({"ok": True, "task": task_wire(view), "intent": view.intent.to_wire()})


@router.post(
    "/{token}",
    summary="Confirm a signed link's answer (once)",
    response_model=TaskAnswerResponse,
    responses=RESPONSES,
    openapi_extra={
        **_NO_KEY,
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _COMMENT_SCHEMA},
                "application/json": {"schema": _COMMENT_SCHEMA},
            },
        },
    },
)
async def confirm(token: Token, request: Request, engine: EngineDep) -> Response:
    html = wants_html(request)
    claims: LinkClaims | None = None
    try:
        claims = await engine.notifier.links.verify(token)
        comment = comment_of(request.headers.get("content-type", ""), await request.body())
        view = await engine.tasks.decide(
            link_principal(claims),
            claims.task_id,
            Answer(claims.outcome, comment, None, via="link"),
            link_nonce=claims.nonce,
        )
    except IntentdError as err:
        if not html:
            raise
        if isinstance(err, ValidationFailed) and claims is not None:
            return await _page_again(engine, claims, err)
        return error_page(err)
    if html:
        return result_page(view, claims)
    return answer({"ok": True, "task": task_wire(view), "intent": view.intent.to_wire()})


def link_principal(claims: LinkClaims) -> Principal:
    """Who decides through a link: the person it was signed for, in the task's namespace."""
    return Principal(
        key_id=f"link:{claims.nonce}", namespace=claims.namespace, name=claims.person, role="link"
    )


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def comment_of(content_type: str, body: bytes) -> str | None:
    """The comment of a form-encoded (the page's form) or JSON body; None when there is none."""
    if not body.strip():
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        value = _json_comment(body)
    elif media in ("application/x-www-form-urlencoded", ""):
        value = _form_comment(body)
    else:
        raise _bad_comment("send the comment form-encoded or as JSON")
    if value is None or not value.strip():
        return None
    if len(value) > MAX_COMMENT or "\x00" in value:
        raise _bad_comment(f"comment must be at most {MAX_COMMENT} characters, without NUL")
    return value.strip()


def _json_comment(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad_comment("the body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise _bad_comment('the body must be an object: {"comment": "..."}')
    value = parsed.get("comment")
    if value is not None and not isinstance(value, str):
        raise _bad_comment("comment must be a string")
    return value


def _form_comment(body: bytes) -> str | None:
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise _bad_comment("the body is not a form (application/x-www-form-urlencoded)") from None
    values = fields.get("comment")
    return values[-1] if values else None


def _bad_comment(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": "comment"})


def _still_open(view: TaskView) -> None:
    task = view.task
    if not task.is_open:
        raise TaskClosed(
            f"human task {task.task_id} is {task.state.value}: it can no longer be decided",
            details={"task_id": task.task_id, "state": task.state.value, "decision": task.decision},
        )


async def _page_again(engine: Engine, claims: LinkClaims, err: ValidationFailed) -> Response:
    """The confirmation page with what was wrong (a missing required comment, say)."""
    try:
        view = await engine.tasks.get(link_principal(claims), claims.task_id)
    except IntentdError as again:
        return error_page(again)
    return confirmation_page(view, claims, problem=err.message, status=err.http_status)


# -- pages -----------------------------------------------------------------------------------------
_HEADERS = {
    # Nothing runs and nothing loads from elsewhere; the form may post only here; no framing.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the URL holds the token
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}"
    ".answer{font-weight:bold}.problem{color:#a00}.small{color:#666;font-size:.875rem}"
    "textarea{width:100%;min-height:6rem}button{padding:.5rem 1.25rem;font-size:1rem}"
    ".desc{white-space:pre-wrap}"
)
_ERROR_TITLES = {
    "link_expired": "This link has expired",
    "link_invalid": "This link is not valid",
    "link_used": "This link was already used",
    "task_closed": "This task is closed",
    "task_not_found": "This task no longer exists",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · intentd</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def confirmation_page(
    view: TaskView, claims: LinkClaims, *, problem: str | None = None, status: int = 200
) -> HTMLResponse:
    spec = view.task.spec
    required = bool(spec.get("required_comment"))
    parts = [_task_summary(spec)]
    parts.append(
        f'<p>Your answer: <span class="answer">{escape(claims.outcome)}</span>'
        f" (as {escape(claims.person)})</p>"
    )
    if problem:
        parts.append(f'<p class="problem">{escape(problem)}</p>')
    label = "Comment (required)" if required else "Comment (optional)"
    parts.append(
        '<form method="post"><p><label for="comment">'
        f"{label}</label><br>"
        f'<textarea id="comment" name="comment" maxlength="{MAX_COMMENT}"'
        f"{' required' if required else ''}></textarea></p>"
        f'<p><button type="submit">Confirm: {escape(claims.outcome)}</button></p></form>'
    )
    parts.append(
        f'<p class="small">Opening this page decided nothing. The link works once, until '
        f"{escape(str(to_rfc3339(claims.expires_at)))}. Task {escape(view.task.task_id)}.</p>"
    )
    return _page(str(spec.get("title") or "A task waits for your answer"), "".join(parts), status)


def result_page(view: TaskView, claims: LinkClaims | None) -> HTMLResponse:
    decision = view.task.decision or {}
    outcome = decision.get("outcome") or (claims.outcome if claims else "")
    body = (
        _task_summary(view.task.spec)
        + f'<p>Recorded: <span class="answer">{escape(str(outcome))}</span>. Thank you.</p>'
        + '<p class="small">You can close this page.</p>'
    )
    return _page("Your answer was recorded", body)


def error_page(err: IntentdError) -> HTMLResponse:
    title = _ERROR_TITLES.get(err.code, "This link cannot be used")
    parts = [f"<p>{escape(err.message)}</p>"]
    decision = err.details.get("decision") if isinstance(err.details, dict) else None
    if isinstance(decision, dict) and decision.get("outcome"):
        by = f" by {decision['decided_by']}" if decision.get("decided_by") else ""
        outcome = escape(str(decision["outcome"]))
        parts.append(f'<p>It was answered <span class="answer">{outcome}</span>{escape(by)}.</p>')
    parts.append(f'<p class="small">Error code: {escape(err.code)}.</p>')
    return _page(title, "".join(parts), err.http_status)


def _task_summary(spec: dict[str, Any]) -> str:
    parts = []
    if spec.get("description"):
        parts.append(f'<p class="desc">{escape(str(spec["description"]))}</p>')
    outcomes = spec.get("allowed_outcomes") or []
    if outcomes:
        parts.append(f"<p>Possible answers: {escape(', '.join(str(o) for o in outcomes))}</p>")
    return "".join(parts)
