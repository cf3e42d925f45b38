"""The kill switches as each server process sees them (ARCHITECTURE.md §13 lesson 13: enforced before
delivery). Every delivery path asks :meth:`KillSwitches.killed` before it leases (a claim, a held
stream, the direct handoff inside the submitting transaction, an HTTP push) and the create route
before it accepts work, so the check is a dictionary lookup, not a query: the rows of
``agent_kills`` are held in memory here.

They change rarely and are read on every handoff, so this process reads them again only when one
changed: its own kills and resumes update it after their commit, another replica's reach it through
the hub (``MESH_KEY``, relayed by LISTEN/NOTIFY), which wakes :meth:`follow`. Once the view has
changed it publishes ``SWITCHES_KEY`` in this process: held delivery streams wake on it, after the
view is current, and tell their workers (docs/mesh.md, "Kill switch")."""

from __future__ import annotations

import asyncio
import logging

from intentd.model import base_address
from intentd.store import MESH_KEY, KillRecord, Store

log = logging.getLogger("intentd.mesh")
SWITCHES_KEY = "mesh:switches"  # published in this process after the view changed
NAMESPACE = "*"  # the target that kills a whole namespace
_RELOAD_SECONDS = 60.0  # read again this often even without a wake-up (a missed one costs this much)


def covers(target: str, address: str) -> bool:
    """Whether a kill of ``target`` stops ``address``: the namespace, the address (every version of
    it when the target names none) or this version."""
    return target in (NAMESPACE, address, base_address(address))


class KillSwitches:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._kills: dict[str, dict[str, KillRecord]] = {}  # namespace -> target -> kill
        self.generation = 0  # moves on every change: a held stream compares it to what it has seen
        self._task: asyncio.Task[None] | None = None

    def killed(self, namespace: str, address: str) -> KillRecord | None:
        """The kill that stops ``address``, if any: its own version's first, then its base's, then the
        namespace's."""
        kills = self._kills.get(namespace)
        if not kills:
            return None
        return kills.get(address) or kills.get(base_address(address)) or kills.get(NAMESPACE)

    def current(self, namespace: str, target: str) -> KillRecord | None:
        """The kill of exactly ``target``, if it is killed."""
        return self._kills.get(namespace, {}).get(target)

    def of(self, namespace: str) -> list[KillRecord]:
        return sorted(self._kills.get(namespace, {}).values(), key=lambda k: k.target)

    def put(self, kill: KillRecord) -> None:
        """A kill committed in this process."""
        self._kills.setdefault(kill.namespace, {})[kill.target] = kill
        self._changed()

    def drop(self, namespace: str, target: str) -> None:
        """A resume committed in this process."""
        self._kills.get(namespace, {}).pop(target, None)
        self._changed()

    async def load(self) -> None:
        rows = await self._store.read(lambda tx: tx.all_kills())
        kills: dict[str, dict[str, KillRecord]] = {}
        for row in rows:
            kills.setdefault(row.namespace, {})[row.target] = row
        if kills != self._kills:
            self._kills = kills
            self._changed()

    async def start(self) -> None:
        """Read the switches, then follow their changes on other replicas until :meth:`stop`."""
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._follow(ready), name="intentd-kill-switches")
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
                    log.exception("reading the kill switches failed; retrying")

    def _changed(self) -> None:
        self.generation += 1
        self._store.hub.publish([SWITCHES_KEY])
