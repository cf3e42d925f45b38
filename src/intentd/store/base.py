"""The storage contract. Two backends implement it: ``sqlite`` (embedded default) and ``postgres``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ._hub import Hub
from ._tx import Tx

T = TypeVar("T")


class Store(Protocol):
    """Reads run on a read connection; writes are units of work run in a (batched) transaction."""

    dialect: str
    hub: Hub

    async def read(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``fn`` against a consistent read view."""
        ...

    async def write(self, unit: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``unit`` atomically; it may share its commit with other units (group commit)."""
        ...

    async def close(self) -> None: ...
