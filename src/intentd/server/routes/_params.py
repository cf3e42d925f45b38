"""What the routes share: their router (authenticated and parsed first, see ``server/parsing.py``,
with the error answers documented) and the path, query and header parameters several routes take,
each with the limits of ``wire/limits.py`` so ``/openapi.json`` states them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query

from intentd.wire.limits import INT64_MAX, MAX_SEQ, NO_NUL

from ..openapi import ERRORS
from ..parsing import IntentdRoute


def v1_router(prefix: str, tag: str) -> APIRouter:
    return APIRouter(prefix=prefix, tags=[tag], responses=ERRORS, route_class=IntentdRoute)


IntentId = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL, description="an intent's id")]
Since = Annotated[int, Query(ge=0, le=MAX_SEQ, description="events with a greater seq (exclusive)")]
FeedSince = Annotated[int, Query(ge=0, le=INT64_MAX, description="feed entries with a greater cursor")]
WaitSeconds = Annotated[
    float,
    Query(
        ge=0,
        le=86400,
        allow_inf_nan=False,
        description="how long an idle stream stays open (capped by INTENTD_MAX_STREAM_WAIT_SECONDS)",
    ),
]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=20, pattern=r"^[0-9]*$")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=NO_NUL,
        description="a repeated request with this key answers what the first one did",
    ),
]
