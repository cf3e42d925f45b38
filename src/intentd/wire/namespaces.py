"""Namespaces on the wire: the caller's namespace, and whether it is a sandbox (docs/security.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ._model import WireModel


class Namespace(WireModel):
    name: str = Field(examples=["default"])
    sandbox: bool = Field(description="a test namespace: its work is not production work")
    created_at: datetime


class NamespaceAnswer(WireModel):
    """``GET /v1/namespaces/current``: the namespace of the API key that asks."""

    ok: bool = True
    namespace: Namespace
