"""Namespaces: which tenant the caller's key belongs to, and whether it is a sandbox (a test namespace).
Namespaces are created with their first key or by ``intentd namespaces create``; the API does not
create them (docs/security.md, "Namespaces")."""

from __future__ import annotations

from intentd.model import to_rfc3339
from intentd.wire import NamespaceAnswer

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router

router = v1_router("/v1/namespaces", "namespaces")


@router.get(
    "/current",
    summary="The caller's namespace, and whether it is a sandbox",
    response_model=NamespaceAnswer,
)
async def current_namespace(caller: Caller, engine: EngineDep) -> FastJSONResponse:
    found = await engine.namespaces.current(caller)
    return answer(
        {
            "ok": True,
            "namespace": {
                "name": found.name,
                "sandbox": found.sandbox,
                "created_at": to_rfc3339(found.created_at),
            },
        }
    )
