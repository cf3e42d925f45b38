"""What a pooled PostgreSQL transaction costs with asyncpg's default reset on release, against the
store's (``store/postgres.py``, ``_keep_session``): alternating rounds, the same database, one statement
per transaction, the wall time and this process's CPU per transaction (median over rounds).

    .venv/bin/python -m bench.pool_probe [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg

from intentd.store.postgres import _keep_session


async def _round(pool: asyncpg.Pool, transactions: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(transactions):
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchval("SELECT 1")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return 1e6 * wall / transactions, 1e6 * cpu / transactions


async def main(dsn: str, rounds: int, transactions: int) -> None:
    pools = {
        "asyncpg's reset": await asyncpg.create_pool(dsn, min_size=1, max_size=2),
        "the store's": await asyncpg.create_pool(dsn, min_size=1, max_size=2, reset=_keep_session),
    }
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in pools}
    for _ in range(rounds):
        for name, pool in pools.items():
            figures[name].append(await _round(pool, transactions))
    for name, rows in figures.items():
        wall, cpu = (statistics.median(r[i] for r in rows) for i in (0, 1))
        print(f"{name:<16} {wall:7.0f} µs wall, {cpu:6.0f} µs CPU per transaction")
    for pool in pools.values():
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--transactions", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.dsn, args.rounds, args.transactions))
