"""The LISTEN connection (store/postgres.py ``_Listener``). A replica whose LISTEN connection is lost
opens it again, wakes every waiter so it re-reads what the lost NOTIFYs would have told it, and relays
the other replicas' changes again afterwards. Two ``PostgresStore`` on one database are two replicas;
the connection is killed from the database side, as an administrator or a failover would."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from intentd.store import Hub, Tx, agent_key
from intentd.store.postgres import PostgresStore

KEY = agent_key("default", "agent://acme/prod/worker")
QUIET = agent_key("default", "agent://acme/prod/idle")  # no test changes it: only a catch-up wakes it
BOUND = 10.0  # seconds any awaited condition may take before the test fails


class LogWatch(logging.Handler):
    """The postgres store's log records, with a way to await one. Records are emitted on the event
    loop's thread (the listener is a task), so an ``asyncio.Event`` can signal them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self._arrived.set()

    def count(self, level: int, text: str) -> int:
        return sum(r.levelno == level and text in r.getMessage() for r in self.records)

    def failed_reconnects(self) -> int:
        return self.count(logging.DEBUG, "reopening the LISTEN connection failed")

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(BOUND):
            while not condition():
                self._arrived.clear()
                await self._arrived.wait()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[LogWatch]:
    caplog.set_level(logging.DEBUG, logger="intentd.store.postgres")
    watch = LogWatch()
    logger = logging.getLogger("intentd.store.postgres")
    logger.addHandler(watch)
    yield watch
    logger.removeHandler(watch)


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The administrator: connected to the server's maintenance database, since a database cannot
    refuse connections to itself from inside (pg_stat_activity is server-wide)."""
    conn = await asyncpg.connect(urlsplit(pg_url)._replace(path="/postgres").geturl())
    yield conn
    await conn.close()


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """(writer, listener): the test commits on the first and waits on the second."""
    writer = await PostgresStore.open(pg_url)
    listener = await PostgresStore.open(pg_url)
    yield writer, listener
    await listener.close()
    await writer.close()


async def listener_pids(admin: asyncpg.Connection, store: PostgresStore) -> list[int]:
    sql = "SELECT pid FROM pg_stat_activity WHERE application_name = $1"
    return [r["pid"] for r in await admin.fetch(sql, store._listener.name)]


async def kill_listener(admin: asyncpg.Connection, store: PostgresStore) -> int:
    [pid] = await listener_pids(admin, store)
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    return pid


async def allow_connections(admin: asyncpg.Connection, url: str, allowed: bool) -> None:
    """Refuse (or accept again) new connections to the test database; open ones stay."""
    database = urlsplit(url).path.lstrip("/")
    await admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS {str(allowed).lower()}")


async def commit_touching(store: PostgresStore, key: str) -> None:
    """Commit a transaction that changed ``key``: the store NOTIFYs it to the other replicas."""

    async def unit(tx: Tx) -> None:
        tx.changes.add(key)

    await store.write(unit)


def listener_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "intentd-listener" and not t.done()]


@pytest.mark.postgres
async def test_a_killed_listener_reconnects_and_relays_the_other_replicas_changes_again(
    replicas: tuple[PostgresStore, PostgresStore], admin: asyncpg.Connection, logs: LogWatch
) -> None:
    writer, listener = replicas
    with listener.hub.subscribe(QUIET) as waiting:
        killed = await kill_listener(admin, listener)
        # Nothing changes QUIET: only the catch-up after the reconnect can wake this waiter.
        assert await waiting.wait(BOUND), "the waiter was not woken after the reconnect"
    # The catch-up runs once LISTEN is back, so the new connection is up by now.
    [reopened] = await listener_pids(admin, listener)
    assert reopened != killed

    with listener.hub.subscribe(KEY) as wake, listener.hub.subscribe(QUIET) as unrelated:
        await commit_touching(writer, KEY)
        assert await wake.wait(BOUND), "a change on the other replica no longer wakes this one"
        assert not await unrelated.wait(0), "a relayed NOTIFY must wake only its own keys"
    assert logs.count(logging.WARNING, "LISTEN connection lost") == 1
    assert logs.count(logging.INFO, "LISTEN connection reopened") == 1


@pytest.mark.postgres
async def test_a_change_notified_while_the_listener_was_down_is_caught_up(
    replicas: tuple[PostgresStore, PostgresStore],
    admin: asyncpg.Connection,
    pg_url: str,
    logs: LogWatch,
) -> None:
    writer, listener = replicas
    with listener.hub.subscribe(KEY) as waiting:
        await allow_connections(admin, pg_url, False)
        try:
            await kill_listener(admin, listener)
            await logs.until(lambda: logs.failed_reconnects() >= 3)  # retrying, with backoff, and still down
            await commit_touching(writer, KEY)  # its NOTIFY reaches no listener of this replica
            assert not await waiting.wait(0)
        finally:
            await allow_connections(admin, pg_url, True)
        assert await waiting.wait(BOUND), "the change made during the outage was never caught up"
    assert logs.count(logging.WARNING, "LISTEN connection lost") == 1, "warn once per outage"
    assert logs.count(logging.INFO, "LISTEN connection reopened") == 1


@pytest.mark.postgres
async def test_closing_the_store_during_an_outage_stops_the_reconnect_loop(
    pg_url: str, admin: asyncpg.Connection, logs: LogWatch
) -> None:
    store = await PostgresStore.open(pg_url)
    try:
        await allow_connections(admin, pg_url, False)
        await kill_listener(admin, store)
        await logs.until(lambda: logs.failed_reconnects() >= 1)
        async with asyncio.timeout(BOUND):
            await store.close()  # while the database still refuses the listener
        assert listener_tasks() == []
    finally:
        await allow_connections(admin, pg_url, True)
        await store.close()  # a no-op unless an assertion above failed first


async def test_a_waiter_cancelled_as_it_is_woken_stays_cancelled() -> None:
    """A stopping task (the scheduler, the LISTEN supervisor) must stop even when a wake-up (a
    catch-up, a shutdown) lands in the same instant; asyncio.wait_for on 3.11 swallowed that."""
    hub = Hub()
    with hub.subscribe(KEY) as subscription:
        waiting = asyncio.create_task(subscription.wait(BOUND))
        await asyncio.sleep(0)  # one loop turn: the task is now waiting on the flag
        hub.wake_all()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting


@pytest.mark.postgres
async def test_closing_the_store_is_not_taken_for_a_lost_connection(pg_url: str, logs: LogWatch) -> None:
    store = await PostgresStore.open(pg_url)
    assert len(listener_tasks()) == 1
    await store.close()
    assert listener_tasks() == []
    assert [r for r in logs.records if r.levelno >= logging.WARNING] == []


# -- a connection that stays open but carries nothing -----------------------------------------


class FreezingProxy:
    """A TCP relay to PostgreSQL whose open connections can be frozen: they stay open and carry
    nothing, like a half-open connection after a network failover (no FIN, no RST). Connections
    made later pass as usual."""

    def __init__(self, url: str) -> None:
        self._target = urlsplit(url)
        self._gates: list[asyncio.Event] = []
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen; returns the URL of the target database through the proxy."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = self._target.netloc.rpartition("@")[0]
        return f"{self._target.scheme}://{user}@127.0.0.1:{port}{self._target.path}"

    def freeze(self) -> None:
        for gate in self._gates:
            gate.clear()

    async def _accept(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection(self._target.hostname, self._target.port)
        gate = asyncio.Event()
        gate.set()
        self._gates.append(gate)
        self._writers += [client_out, server_out]
        for source, sink in ((client_in, server_out), (server_in, client_out)):
            task = asyncio.create_task(self._pipe(source, sink, gate))
            self._pipes.add(task)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, gate: asyncio.Event) -> None:
        while data := await source.read(65536):
            await gate.wait()
            sink.write(data)
        sink.close()

    async def close(self) -> None:
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in self._writers), return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.mark.postgres
async def test_a_listener_that_silently_stops_answering_is_replaced(pg_url: str, logs: LogWatch) -> None:
    proxy = FreezingProxy(pg_url)
    writer = await PostgresStore.open(pg_url)
    listener = await PostgresStore.open(await proxy.start(), listener_probe=0.2)
    try:
        with listener.hub.subscribe(QUIET) as waiting:
            proxy.freeze()  # no close reaches the client: only the liveness probe can notice
            assert await waiting.wait(BOUND), "the frozen LISTEN connection was never replaced"
        with listener.hub.subscribe(KEY) as wake:
            await commit_touching(writer, KEY)
            assert await wake.wait(BOUND), "changes on the other replica no longer wake this one"
        assert logs.count(logging.WARNING, "LISTEN connection lost") == 1
    finally:
        await proxy.close()  # first: the frozen pool connections could not close gracefully
        await listener.close()
        await writer.close()
