"""SQLite backend: the embedded default. WAL, ``synchronous=FULL`` (a commit survives power loss), one
writer. Statements run inline on the event loop (a local SQLite statement takes microseconds, less than
a thread hop); only COMMIT, which waits for fsync, runs in a thread, and the loop serves requests
meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from intentd.model import now_us

from ._hub import Hub
from ._migrate import CREATE_TABLE, migrations_for
from ._sql import Query, load_queries
from ._tx import Tx
from ._writer import BatchWriter

T = TypeVar("T")


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or a bare path."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url.startswith("sqlite://"):
        return url[len("sqlite://") :]
    return url


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations; returns the versions applied."""
    conn.execute(CREATE_TABLE)
    applied: list[int] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for m in migrations_for("sqlite"):
            if m.version in done:
                continue
            for statement in _statements(m.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, now_us()),
            )
            applied.append(m.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied


def _statements(script: str) -> list[str]:
    lines = [ln for ln in script.splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class _Executor:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch(self, query: Query, values: dict[str, Any]) -> list[Any]:
        return self._conn.execute(query.text, values).fetchall()

    async def execute(self, query: Query, values: dict[str, Any]) -> int:
        return self._conn.execute(query.text, values).rowcount

    async def executemany(self, query: Query, rows: list[dict[str, Any]]) -> None:
        self._conn.executemany(query.text, rows)


class _Committer:
    """Runs COMMIT, which waits for fsync, on a thread of its own, so the event loop serves meanwhile.

    One thread, fed by a queue and answering through ``call_soon_threadsafe``: the least a hop off the
    loop costs. ``asyncio.to_thread`` did the same through the loop's default executor, with a context
    copy, two chained futures and the pool's idle semaphore per commit, which cost about as much CPU
    as the commit's own statements (issue 16).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._jobs: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="intentd-sqlite-commit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def commit(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._jobs.put((loop, done))
        return done

    def stop(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, done = job
            error: BaseException | None = None
            try:
                self._conn.execute("COMMIT")
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting transaction
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody awaits it
                loop.call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class SQLiteStore:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.hub = Hub()
        self._queries = load_queries("sqlite")
        self._lock_fd: int | None = None
        self._writer_conn = connect(path)
        self._committer = _Committer(self._writer_conn)
        self._reader = Tx(_Executor(connect(path)), self._queries)
        self._writer = BatchWriter(self._transaction, self.hub.publish, lambda exc: False)

    @classmethod
    async def open(cls, url: str, *, migrate_schema: bool = True, exclusive: bool = False) -> SQLiteStore:
        path = path_from_url(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        if exclusive:
            store._take_process_lock()
        if migrate_schema:
            migrate(store._writer_conn)
        store._committer.start()
        store._writer.start(1)  # SQLite has one writer
        return store

    def _take_process_lock(self) -> None:
        """SQLite serves from one process: a second ``serve`` on the same file is refused clearly."""
        fd = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"another intentd server is already using {self.path}; SQLite serves from one "
                "process (use PostgreSQL for several replicas)"
            ) from None
        self._lock_fd = fd

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Tx]:
        conn = self._writer_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            tx = Tx(_Executor(conn), self._queries)
            yield tx
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            await self._committer.commit()
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def read(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        return await fn(self._reader)

    async def write(self, unit: Callable[[Tx], Awaitable[T]]) -> T:
        return await self._writer.run(unit)

    async def close(self) -> None:
        await self._writer.stop()
        self._committer.stop()
        self._writer_conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
