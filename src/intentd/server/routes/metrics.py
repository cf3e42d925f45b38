"""``GET /metrics``: Prometheus's text format (docs/operations.md, "Metrics").

Who may scrape, as for any other read of a tenant's data: an API key whose role may read the fleet's
figures (``admin`` or ``auditor``: give Prometheus an auditor key, which can change nothing), sent as
``Authorization: Bearer`` (Prometheus's ``authorization`` setting) or ``x-api-key``; it sees its own
namespace's series and the process's own. ``INTENTD_METRICS_PUBLIC=true`` serves every namespace's
series without a key, for a scrape over a private network only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from intentd.engine import Principal
from intentd.engine.metrics import CONTENT_TYPE

from ..auth import EngineDep, authenticate
from ..openapi import ERRORS
from ..parsing import IntentdRoute

router = APIRouter(tags=["meta"], route_class=IntentdRoute)

_EXPOSITION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the metrics, in Prometheus's text exposition format 0.0.4",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    401: ERRORS[401],
    403: ERRORS[403],
}


async def scraper(request: Request) -> Principal | None:
    """The key that scrapes, or None when the settings make the metrics public."""
    if request.app.state.settings.metrics_public:
        return None
    return await authenticate(request)


@router.get(
    "/metrics",
    summary="Prometheus metrics (a key that may read the fleet, unless INTENTD_METRICS_PUBLIC)",
    response_class=Response,
    responses=_EXPOSITION,
    openapi_extra={"security": [{"ApiKeyHeader": []}, {"BearerKey": []}]},
)
async def metrics(caller: Annotated[Principal | None, Depends(scraper)], engine: EngineDep) -> Response:
    body = await engine.metrics.exposition(caller.namespace if caller is not None else None)
    return Response(body, media_type=CONTENT_TYPE)
