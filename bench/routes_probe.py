"""The server's CPU per hot request (issue 16): create, claim, heartbeat, complete and fail, on SQLite.

    .venv/bin/python -m bench.routes_probe                 # 10 rounds of 200 cycles
    .venv/bin/python -m bench.routes_probe --profile       # where one round's time goes (cProfile)

The app runs in this process, on the event loop ``intentd serve`` runs (uvloop; ``--loop asyncio`` for
the standard library's), and is called the way an ASGI server calls it (a scope, a receive that
hands over the body, a send that collects the answer), with no HTTP client, sockets or HTTP parsing:
the process's CPU time (``time.process_time``, every thread, so the SQLite commit thread too) is the
server's own work for the request, from its middleware to its answer. The event loop's thread alone
(``time.thread_time``: HTTP framework, routes, engine, without the commit thread's SQLite and fsync) is
shown too: it is what the HTTP layer changes, and it varies less on a busy machine. What an ASGI server
adds per request (uvicorn's parsing and writing) is the same whatever the routes do, so it is left out.

One cycle is the life of one intent: a create for ``agent://probe/a``, a claim of it (no wait), a
lease heartbeat, then a complete (even cycles) or a fail (odd ones). The figures are the median over
rounds of each route's CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from intentd.server import create_app
from intentd.settings import Settings

API_KEY = "itd_routes_probe_key_0123456789abcdef"
AGENT = "agent://probe/a"
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


async def call(app: ASGIApp, method: str, path: str, body: Any) -> tuple[int, Any]:
    """One request to ``app`` as an ASGI server sends it; the status and the parsed JSON answer."""
    raw = orjson.dumps(body)
    headers = [
        (b"host", b"probe"),
        (b"x-api-key", API_KEY.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:  # nothing else arrives: the route has its body and answers without waiting
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], orjson.loads(answer["body"])


class Probe:
    """Drives cycles against one app and adds up each route's CPU time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cpu: dict[str, float] = defaultdict(float)
        self.loop_cpu: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self.serial = 0

    async def timed(self, route: str, method: str, path: str, body: Any) -> Any:
        started, loop_started = time.process_time(), time.thread_time()
        status, answer = await call(self.app, method, path, body)
        self.loop_cpu[route] += time.thread_time() - loop_started
        self.cpu[route] += time.process_time() - started
        self.count[route] += 1
        if status != 200:
            raise RuntimeError(f"{route}: {status} {answer}")
        return answer

    async def cycle(self) -> None:
        self.serial += 1
        create = {"intent_type": "probe.v1", "correlation_id": f"c{self.serial}", "to_agent": AGENT}
        await self.timed("create", "POST", "/v1/intents", {**create, "payload": {"n": self.serial}})
        claimed = await self.timed("claim", "POST", f"/v1/agents/{AGENT}/claims", {"max_intents": 1})
        (delivery,) = claimed["deliveries"]
        intent_id, token = delivery["intent"]["intent_id"], delivery["lease"]["token"]
        lease = f"/v1/intents/{intent_id}"
        await self.timed("heartbeat", "POST", f"{lease}/lease/heartbeat", {"lease_token": token})
        if self.serial % 2:
            await self.timed("fail", "POST", f"{lease}/fail", {"lease_token": token, "error": "probe"})
        else:
            await self.timed("complete", "POST", f"{lease}/complete", {"lease_token": token, "result": {}})

    def per_request(self) -> dict[str, tuple[float, float]]:
        """Microseconds of CPU per request, per route: the process's and the event loop thread's."""
        return {
            r: (1e6 * self.cpu[r] / self.count[r], 1e6 * self.loop_cpu[r] / self.count[r]) for r in self.cpu
        }


async def run(cycles: int, rounds: int, warmup: int, profile: bool) -> list[dict[str, tuple[float, float]]]:
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(database_url=f"sqlite:///{Path(workdir) / 'probe.db'}", bootstrap_api_key=API_KEY)
        app = create_app(settings, run_scheduler=False)  # no timers run: only the requests use CPU
        async with app.router.lifespan_context(app):
            warm = Probe(app)
            for _ in range(warmup):
                await warm.cycle()
            results = []
            for _ in range(rounds):
                probe = Probe(app)
                probe.serial = warm.serial + cycles * len(results)
                profiler = cProfile.Profile() if profile else None
                if profiler:
                    profiler.enable()
                for _ in range(cycles):
                    await probe.cycle()
                if profiler:
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
                results.append(probe.per_request())
            return results


def report(results: list[dict[str, tuple[float, float]]]) -> None:
    print("µs of CPU per request, median over rounds (min-max): the process, the event loop's thread")
    rows = {route: [r[route] for r in results] for route in results[0]}
    # A cycle is create + claim + heartbeat + one of complete and fail.
    ends = ("complete", "fail")
    rows["cycle"] = [
        tuple(sum(r[x][i] for x in r if x not in ends) + sum(r[x][i] for x in ends) / 2 for i in (0, 1))
        for r in results
    ]
    for route, figures in rows.items():
        columns = [_spread([f[i] for f in figures]) for i in (0, 1)]
        print(f"{route:<10} {columns[0]:>22} {columns[1]:>22}")


def _spread(figures: list[float]) -> str:
    return f"{statistics.median(figures):.0f} ({min(figures):.0f}-{max(figures):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=200, help="intents per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured cycles first")
    parser.add_argument("--profile", action="store_true", help="cProfile each round (slower: shares only)")
    parser.add_argument("--json", action="store_true", help="print each round's figures as JSON")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the event loop")
    args = parser.parse_args()
    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        results = runner.run(run(args.cycles, args.rounds, args.warmup, args.profile))
    if args.json:
        print(json.dumps(results))
    else:
        report(results)


if __name__ == "__main__":
    main()
