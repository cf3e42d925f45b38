"""Workers in the test process against a live server: made quick to retry and to notice work, run for
the length of a ``with``, and the polls a test makes of the server their state lives in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from intentd.client import AsyncClient, HumanTask
from intentd.worker import RetryPolicy, Worker

T = TypeVar("T")


def quick_worker(client: AsyncClient, **options: Any) -> Worker:
    """A Worker whose retries come within a tenth of a second and whose claims wait a second."""
    settings: dict[str, Any] = {
        "concurrency": 4,
        "claim_wait_seconds": 1.0,
        "retry": RetryPolicy(base_seconds=0.05, max_seconds=0.1),
    }
    return Worker(client, **{**settings, **options})


@asynccontextmanager
async def running(worker: Worker, *, stop_timeout: float = 30.0) -> AsyncIterator[Worker]:
    """``worker`` serving its agents in this event loop until the block ends."""
    task = asyncio.create_task(worker.serve())
    await asyncio.sleep(0)
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, stop_timeout)


async def until(check: Callable[[], Awaitable[T]], what: str, timeout: float = 30.0) -> T:
    """Poll until ``check`` gives something truthy, and return it (the state lives in the server)."""
    try:
        async with asyncio.timeout(timeout):
            while not (found := await check()):
                await asyncio.sleep(0.05)
            return found
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


async def open_task(client: AsyncClient, intent_id: str, timeout: float = 30.0) -> HumanTask:
    """The one open human task of ``intent_id``, once its handler has asked."""

    async def asked() -> list[HumanTask]:
        return await client.tasks("open", intent_id=intent_id)

    [task] = await until(asked, f"a human task of {intent_id}", timeout)
    return task
