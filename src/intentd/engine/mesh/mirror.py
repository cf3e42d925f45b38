"""A Mesh table held in memory by each server process: the kill switches and the version routes are
read on every handoff and change rarely, so the delivery paths look them up in a dictionary instead
of querying.

A process reads the table again only when a row changed: its own writes update the mirror after
their commit (:meth:`Mirror.put`, :meth:`Mirror.drop`), another replica's reach it through the hub
(``MESH_KEY``, relayed by LISTEN/NOTIFY), which wakes :meth:`Mirror.start`'s follower. After every
change the mirror publishes its own key in this process, so what waits on it (a held delivery
stream) wakes once the mirror is current."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from intentd.store import MESH_KEY, Store, Tx

log = logging.getLogger("intentd.mesh")
Row = TypeVar("Row")
_RELOAD_SECONDS = 60.0  # read again this often even without a wake-up (a missed one costs this much)


class Mirror(Generic[Row]):
    def __init__(
        self,
        store: Store,
        read: Callable[[Tx], Awaitable[list[Row]]],
        key: Callable[[Row], tuple[str, str]],
        changed_key: str,
    ) -> None:
        self._store = store
        self._read = read
        self._key = key  # (namespace, the row's key within it)
        self.changed_key = changed_key
        self._rows: dict[str, dict[str, Row]] = {}
        self.generation = 0  # moves on every change: a reader compares it to what it has seen
        self._task: asyncio.Task[None] | None = None

    def get(self, namespace: str, key: str) -> Row | None:
        rows = self._rows.get(namespace)
        return rows.get(key) if rows else None

    def rows(self, namespace: str) -> dict[str, Row] | None:
        """The namespace's rows by key (None or empty: it has none); not to be changed."""
        return self._rows.get(namespace)

    def of(self, namespace: str) -> list[Row]:
        rows = self._rows.get(namespace, {})
        return [rows[key] for key in sorted(rows)]

    def put(self, row: Row) -> None:
        """A row written in this process, committed."""
        namespace, key = self._key(row)
        self._rows.setdefault(namespace, {})[key] = row
        self._changed()

    def drop(self, namespace: str, key: str) -> None:
        """A row deleted in this process, committed."""
        self._rows.get(namespace, {}).pop(key, None)
        self._changed()

    async def load(self) -> None:
        rows: dict[str, dict[str, Row]] = {}
        for row in await self._store.read(self._read):
            namespace, key = self._key(row)
            rows.setdefault(namespace, {})[key] = row
        if rows != self._rows:
            self._rows = rows
            self._changed()

    async def start(self) -> None:
        """Read the table, then follow its changes on other replicas until :meth:`stop`."""
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._follow(ready), name=f"intentd-{self.changed_key}")
        await ready

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _follow(self, ready: asyncio.Future[None]) -> None:
        with self._store.hub.subscribe(MESH_KEY) as changed:  # before the first read: none is lost
            try:
                await self.load()
            except Exception as exc:
                ready.set_exception(exc)
                raise
            ready.set_result(None)
            while not changed.closed:
                await changed.wait(_RELOAD_SECONDS)
                try:
                    await self.load()
                except Exception:  # a database hiccup must not end the following
                    log.exception("reading %s failed; retrying", self.changed_key)

    def _changed(self) -> None:
        self.generation += 1
        self._store.hub.publish([self.changed_key])
