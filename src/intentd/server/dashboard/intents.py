"""The intents list (``/ui/intents``): a search of the namespace's intents by id or correlation id,
filtered by status, agent, type and when they were made, newest first. The form is a plain GET (a
filtered list is a link to share; it holds no secret), and the rows refresh every 2 seconds: no
change key covers a whole namespace (one would cost a publish per commit on the hot path), so the
list polls, while one intent's page follows its changes over SSE."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from intentd.engine.search import IntentQuery
from intentd.model import Intent, IntentNotFound, Micros, Status, ValidationFailed, normalize_address

from ..auth import app_engine
from ._routing import page_router
from .access import READ_INTENTS, Viewer
from .session import ViewerDep
from .templating import render

router = page_router()
ROWS = 100
Text = Annotated[str, Query(max_length=383)]


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's form, as sent (echoed back into the form) and as a store query."""

    q: str = ""
    status: str = ""
    agent: str = ""
    type: str = ""
    since: str = ""
    until: str = ""

    def query(self) -> IntentQuery:
        return IntentQuery(
            status=_status(self.status),
            to_agent=_agent(self.agent),
            intent_type=self.type.strip() or None,
            created_from=_time(self.since, "since"),
            created_until=_time(self.until, "until"),
            limit=ROWS,
        )

    @property
    def active(self) -> bool:
        return any((self.q, self.status, self.agent, self.type, self.since, self.until))


def filters(
    q: Text = "", status: Text = "", agent: Text = "", type: Text = "", since: Text = "", until: Text = ""
) -> Filters:
    return Filters(q.strip(), status, agent.strip(), type, since, until)


FiltersDep = Annotated[Filters, Depends(filters)]


@router.get("/intents")
async def intents_page(request: Request, viewer: ViewerDep, chosen: FiltersDep) -> Response:
    viewer.require(READ_INTENTS)
    found = await _search(request, viewer, chosen)
    return render(request, viewer, "intents.html", {"filters": chosen, "intents": found, "rows": ROWS})


@router.get("/intents/rows")
async def intent_rows(request: Request, viewer: ViewerDep, chosen: FiltersDep) -> Response:
    viewer.require(READ_INTENTS)
    found = await _search(request, viewer, chosen)
    return render(request, viewer, "partials/intent_rows.html", {"filters": chosen, "intents": found})


async def _search(request: Request, viewer: Viewer, chosen: Filters) -> list[Intent]:
    engine = app_engine(request)
    query = chosen.query()
    if chosen.q:
        try:  # an intent's id finds that intent; anything else is a correlation id
            return [await engine.intents.get(viewer.principal, chosen.q)]
        except IntentNotFound:
            query = replace(query, correlation_id=chosen.q)
    return await engine.search.search(viewer.principal, query)


def _status(value: str) -> str | None:
    if not value:
        return None
    if value.upper() not in Status.__members__:
        raise ValidationFailed(f"unknown status {value!r}", details={"field": "status"})
    return value.upper()


def _agent(value: str) -> str | None:
    if not value:
        return None
    return value if "://" in value and not value.startswith("agent://") else normalize_address(value, "agent")


def _time(value: str, field: str) -> Micros | None:
    """A ``datetime-local`` input's value (or any ISO 8601 time), in UTC unless it names a zone."""
    if not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            f"{field} is not a time (YYYY-MM-DDTHH:MM)", details={"field": field}
        ) from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1_000_000)
