"""A worker process of the kill-switch benchmark (bench/kill.py): an ``intentd.worker.Worker`` whose one
handler runs until it is stopped. It appends ``start <intent> <time>`` when a handler starts and ``stop
<intent> <time>`` when the Worker cancels it (wall-clock seconds: the driver compares them with the
time it sent the kill, on the same machine).

    python -m bench.kill_worker --url URL --api-key KEY --agent agent://bench/kill/busy --marks FILE
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from intentd.client import AsyncClient
from intentd.worker import AsyncContext, Worker


def mark(path: str, what: str, intent_id: str) -> None:
    # One short write with O_APPEND: the lines of the 20 processes never interleave.
    with open(path, "a") as marks:
        marks.write(f"{what} {intent_id} {time.time():.6f}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--marks", required=True)
    args = parser.parse_args()
    worker = Worker(
        client=AsyncClient(args.url, api_key=args.api_key),
        concurrency=1,
        lease_seconds=30.0,
        worker_id=f"kill-bench-{os.getpid()}",
        shutdown_grace_seconds=1.0,
        delivery="stream",
    )

    @worker.agent(args.agent)
    async def busy(ctx: AsyncContext, intent: Any) -> None:
        mark(args.marks, "start", intent.intent_id)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            mark(args.marks, "stop", intent.intent_id)
            raise

    worker.run()


if __name__ == "__main__":
    main()
