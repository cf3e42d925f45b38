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
        """Run ``fn`` on a read connection, outside any transaction: each statement sees what was
        committed when it ran, and two statements of one ``fn`` may see different commits (a
        snapshot per ``fn`` would cost a BEGIN and a COMMIT on every read, and the SQLite backend
        shares one reader connection between concurrent reads). A decision that needs a stable view
        belongs in a write unit, which is a transaction."""
        ...

    async def write(self, unit: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``unit`` atomically; it may share its commit with other units (group commit)."""
        ...

    async def close(self) -> None: ...
