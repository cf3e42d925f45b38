"""Namespaces: the tenants. Every row carries one, and every read, stream, claim and handoff is scoped
to the caller's (the principal's); this service only names them and keeps their sandbox flag, which
marks a namespace for tests (docs/security.md, "Namespaces").

A namespace is created explicitly (:meth:`NamespaceService.create`, ``intentd namespaces create``) or
implicitly by its first API key (:func:`ensure_namespace`, in the key's own transaction), as a
production namespace."""

from __future__ import annotations

import re
from collections.abc import Callable

from intentd.model import Conflict, Micros, NotFound, ValidationFailed
from intentd.store import NamespaceRecord, Store, Tx

from .inputs import Principal

Clock = Callable[[], Micros]
# Letters, digits, ``. _ -``, starting with a letter or digit: safe in a path, a log line and a URL.
NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_namespace_name(name: str) -> str:
    if not NAMESPACE_PATTERN.fullmatch(name):
        raise ValidationFailed(
            "a namespace name is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            details={"field": "name"},
        )
    return name


async def ensure_namespace(tx: Tx, name: str, now: Micros) -> None:
    """The namespace exists after this (a production one, if this call made it)."""
    await tx.insert_namespace(NamespaceRecord(name, False, now))


class NamespaceService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(self, name: str, *, sandbox: bool = False) -> NamespaceRecord:
        """A new namespace; :class:`Conflict` if one of that name exists (its flag is not changed:
        a production namespace never becomes a sandbox by a typo, nor the other way)."""
        record = NamespaceRecord(check_namespace_name(name), sandbox, self._clock())

        async def unit(tx: Tx) -> NamespaceRecord:
            if not await tx.insert_namespace(record):
                raise Conflict(f"namespace {name!r} exists already", details={"field": "name"})
            return record

        return await self._store.write(unit)

    async def list(self) -> list[NamespaceRecord]:
        return await self._store.read(lambda tx: tx.list_namespaces())

    async def current(self, principal: Principal) -> NamespaceRecord:
        """The caller's namespace (a key's namespace always exists: it was made with the key)."""
        found = await self._store.read(lambda tx: tx.get_namespace(principal.namespace))
        if found is None:
            raise NotFound(
                f"namespace {principal.namespace!r} is not recorded", details={"field": "namespace"}
            )
        return found
