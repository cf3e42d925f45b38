"""Group commit. Concurrent writes queue up; each writer task takes everything queued (up to
``max_batch``), runs the units in ONE transaction and commits once, so under load one fsync serves many
state changes. Each unit is still atomic: units check before they write, a unit that fails without
writing is simply left out, and anything unexpected re-runs the batch one unit per transaction. A batch
does not wait for a row another transaction holds (``Tx.batched``): it re-runs unit by unit at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from intentd import logs
from intentd.model import IntentdError

from ._tx import Tx

T = TypeVar("T")
Unit = Callable[[Tx], Awaitable[T]]
# Who asked for the writes of this task (the server sets it to the request's principal): the writer
# runs units in its own tasks, so it hands each unit's transaction its caller's value as ``tx.origin``
# (the audit trail's "who"). Opaque to the store.
WRITE_ORIGIN: contextvars.ContextVar[object | None] = contextvars.ContextVar("write_origin", default=None)
Queued = tuple[Unit[Any], asyncio.Future[Any], object | None]
log = logging.getLogger("intentd.store.writer")


class _PartialWrite(Exception):
    """A unit failed after writing: the whole batch must be rolled back and re-run unit by unit."""


class BatchWriter:
    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[Tx]],
        on_commit: Callable[[set[str]], None],
        is_retryable: Callable[[BaseException], bool],
        *,
        max_batch: int = 128,
    ) -> None:
        self._transaction = transaction
        self._on_commit = on_commit
        self._is_retryable = is_retryable
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Queued | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, workers: int) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"intentd-writer-{i}") for i in range(workers)]

    async def stop(self) -> None:
        for _ in self._tasks:
            self._queue.put_nowait(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def run(self, unit: Unit[T]) -> T:
        if not self._tasks:
            raise RuntimeError("store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # The unit runs in a writer task: it takes the caller's log context along (a no-op without
        # one), so the intent it names stamps the caller's log lines (intentd/logs.py).
        self._queue.put_nowait((logs.carried(unit), future, WRITE_ORIGIN.get()))
        return await future

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    self._queue.put_nowait(None)  # leave the stop signal for this loop's next turn
                    break
                batch.append(nxt)
            await self._commit(batch)

    async def _commit(self, batch: list[Queued]) -> None:
        if len(batch) > 1:
            try:
                self._settle(await self._attempt(batch))
                return
            except Exception as exc:  # noqa: BLE001 - any failure: fall back to one unit per tx
                log.debug("batch of %d rolled back (%r); retrying unit by unit", len(batch), exc)
        for queued in batch:
            await self._run_alone(queued)

    async def _run_alone(self, queued: Queued) -> None:
        future = queued[1]
        for attempt in range(3):
            try:
                self._settle(await self._attempt([queued], alone=True))
                return
            except Exception as exc:  # noqa: BLE001 - delivered to the caller below
                if attempt < 2 and self._is_retryable(exc):
                    continue  # e.g. a concurrent insert won a unique key: re-run sees its row
                if not future.done():
                    future.set_exception(exc)
                return

    async def _attempt(
        self, batch: list[Queued], *, alone: bool = False
    ) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        opened: list[Tx] = []
        try:
            async with self._transaction() as tx:
                opened.append(tx)
                tx.batched = len(batch) > 1  # see Tx.batched
                for unit, future, origin in batch:
                    tx.origin = origin
                    before = tx.writes
                    try:
                        outcomes.append((future, True, await unit(tx)))
                    except IntentdError as err:
                        if alone or tx.writes != before:
                            raise
                        outcomes.append((future, False, err))
                    except Exception as exc:
                        if alone:
                            raise
                        raise _PartialWrite(f"{type(exc).__name__}: {exc}") from None
                await tx.flush()  # last: see Tx.flush
        except BaseException:
            for tx in opened:
                for undo in tx.after_rollback:
                    undo()
            raise
        tx = opened[0]
        for done in tx.after_commit:
            done()
        self._on_commit(tx.changes)
        return outcomes

    @staticmethod
    def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
        for future, ok, value in outcomes:
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
