"""What every part of a transaction shares: the backend's four primitives, its named queries, and the
bookkeeping the writer reads when the transaction ends. ``Tx`` (``_tx.py``) is this base with the
runtime's core and one mixin per other area of the store, each in a module of its own, so a new area
adds a module and a line to ``Tx``'s bases rather than growing one class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ._sql import Query


class Executor(Protocol):
    async def fetch(self, query: Query, values: dict[str, Any]) -> list[Any]: ...
    async def execute(self, query: Query, values: dict[str, Any]) -> int: ...
    async def executemany(self, query: Query, rows: list[dict[str, Any]]) -> None: ...


class TxBase:
    """Reads and writes of one transaction. ``writes`` counts statements that changed data, so the
    writer can tell whether a failed unit left anything behind; ``changes`` are the hub keys to wake."""

    def __init__(self, executor: Executor, queries: dict[str, Query]) -> None:
        self._ex = executor
        self._q = queries
        self.writes = 0
        self.changes: set[str] = set()
        # Set by the writer for a transaction of several units: a row lock another transaction holds
        # then fails at once (PostgreSQL NOWAIT) instead of waiting, and the writer runs the units one
        # by one. Units of one batch lock rows in no global order (a step's end locks the step, then
        # its run), so two batches waiting on each other's rows would deadlock, and PostgreSQL would
        # take a second (deadlock_timeout) to say so.
        self.batched = False
        # Callbacks the writer runs once the outcome is known (e.g. hand a lease to a waiting claim).
        self.after_commit: list[Callable[[], None]] = []
        self.after_rollback: list[Callable[[], None]] = []
        # Who asked for the unit being run (``_writer.WRITE_ORIGIN``; None for the runtime's own work).
        self.origin: object | None = None

    async def _rows(self, name: str, /, **values: Any) -> list[Any]:
        return await self._ex.fetch(self._q[name], values)

    async def _one(self, name: str, /, **values: Any) -> Any | None:
        rows = await self._ex.fetch(self._q[name], values)
        return rows[0] if rows else None

    async def _write(self, name: str, /, **values: Any) -> int:
        self.writes += 1
        return await self._ex.execute(self._q[name], values)
