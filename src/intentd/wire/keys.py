"""API keys on the wire (admin only; docs/security.md): ``POST /v1/keys`` creates one and shows its
secret once, ``GET /v1/keys`` and ``GET /v1/keys/{key_id}`` describe keys (never a secret nor its hash),
``POST /v1/keys/{key_id}/revoke`` ends one, ``POST /v1/keys/{key_id}/rotate`` replaces its secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ._model import WireModel
from .limits import Address, Name, Seconds, Time

Role = Literal["admin", "submitter", "agent", "approver", "auditor"]
KeyStatus = Literal["active", "expired", "revoked", "rotated"]
MAX_KEY_AGENTS = 100
THIRTY_DAYS = 30 * 24 * 3600.0


class CreateKeyBody(BaseModel):
    """``POST /v1/keys``: a key in the caller's namespace."""

    name: Name = Field(description="a label; for an approver, the person's name")
    role: Role = Field(description="what the key may do (docs/security.md, the permission matrix)")
    agents: Annotated[list[Address], Field(max_length=MAX_KEY_AGENTS)] = Field(
        default_factory=list, description="an agent key's addresses: the only ones it acts for"
    )
    task_roles: Annotated[list[Name], Field(max_length=50)] = Field(
        default_factory=list, description="an approver's roles: it decides tasks assigned to role:<name>"
    )
    expires_at: Time | None = Field(None, description="when the key stops working; never if absent")


class RotateKeyBody(BaseModel):
    """``POST /v1/keys/{key_id}/rotate``: a new secret for the same name, role, agents and namespace."""

    grace_seconds: Annotated[Seconds, Field(le=THIRTY_DAYS)] = Field(
        0.0, description="how long the old secret keeps working (0: it stops now)"
    )


class ApiKey(WireModel):
    """A key as the API shows it: never its secret. ``status``: active; expired; revoked; rotated
    (replaced by ``rotated_to``: it works until ``expires_at``, the rotation's grace)."""

    key_id: str
    name: str
    role: Role
    namespace: str
    agents: list[str] = []
    task_roles: list[str] = []
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_to: str | None = None


class KeyAnswer(WireModel):
    ok: bool = True
    key: ApiKey


class CreatedKey(WireModel):
    """A new key: ``api_key`` is its secret, shown this once."""

    ok: bool = True
    key: ApiKey
    api_key: str


class KeyList(WireModel):
    ok: bool = True
    keys: list[ApiKey]
