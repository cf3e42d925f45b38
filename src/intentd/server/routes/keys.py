"""API keys (docs/security.md): created, listed, revoked and rotated by an admin of the namespace,
read by an auditor. A key's secret appears once, in the answer that created it; nothing returns it
(or its hash) again."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from intentd.engine import ApiKeyRecord
from intentd.engine.keys import key_status
from intentd.model import JSON, Micros, to_micros, to_rfc3339
from intentd.wire import CreatedKey, CreateKeyBody, KeyAnswer, KeyList, RotateKeyBody
from intentd.wire.limits import NO_NUL

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router

router = v1_router("/v1/keys", "keys")
KeyId = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL, description="a key's id")]


@router.post("", summary="Create an API key (its secret is in this answer only)", response_model=CreatedKey)
async def create_key(body: CreateKeyBody, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    record, secret = await engine.keys.create(
        body.name,
        body.role,
        namespace=caller.namespace,
        task_roles=body.task_roles,
        agents=body.agents,
        expires_at=to_micros(body.expires_at) if body.expires_at else None,
    )
    return answer({"ok": True, "key": key_wire(record, engine.keys.now()), "api_key": secret})


@router.get("", summary="The namespace's API keys (never their secrets)", response_model=KeyList)
async def list_keys(caller: Caller, engine: EngineDep) -> FastJSONResponse:
    now = engine.keys.now()
    keys = await engine.keys.list(caller.namespace)
    return answer({"ok": True, "keys": [key_wire(k, now) for k in keys]})


@router.get("/{key_id}", summary="One API key (never its secret)", response_model=KeyAnswer)
async def get_key(key_id: KeyId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    record = await engine.keys.get(caller, key_id)
    return answer({"ok": True, "key": key_wire(record, engine.keys.now())})


@router.post("/{key_id}/revoke", summary="Revoke an API key", response_model=KeyAnswer)
async def revoke_key(key_id: KeyId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    await engine.keys.revoke(key_id, caller)
    record = await engine.keys.get(caller, key_id)
    return answer({"ok": True, "key": key_wire(record, engine.keys.now())})


@router.post(
    "/{key_id}/rotate",
    summary="A new secret for the key's name, role and agents; the old one stops after grace_seconds",
    response_model=CreatedKey,
)
async def rotate_key(
    key_id: KeyId, body: RotateKeyBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    record, secret = await engine.keys.rotate(caller, key_id, body.grace_seconds)
    return answer({"ok": True, "key": key_wire(record, engine.keys.now()), "api_key": secret})


def key_wire(record: ApiKeyRecord, now: Micros) -> JSON:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "role": record.role,
        "namespace": record.namespace,
        "agents": list(record.agents),
        "task_roles": list(record.task_roles),
        "status": key_status(record, now),
        "created_at": to_rfc3339(record.created_at),
        "expires_at": to_rfc3339(record.expires_at),
        "revoked_at": to_rfc3339(record.revoked_at),
        "rotated_to": record.rotated_to,
    }
