"""A worker process serving the ops agent (``python -m tests.frameworks._openai_agents_worker URL KEY
ADDRESS COUNTS``), for the test that kills it with SIGKILL while the agent waits for a person."""

from __future__ import annotations

import sys
from pathlib import Path

from intentd.adapters.openai_agents import serve_agent
from intentd.client import Client
from intentd.worker import Worker

from ._openai_agents_agents import ops_agent


def main(url: str, api_key: str, address: str, counts: str) -> None:
    worker = Worker(Client(url, api_key), concurrency=2, claim_wait_seconds=1.0)
    serve_agent(worker, address, ops_agent(Path(counts)))
    worker.run()


if __name__ == "__main__":
    main(*sys.argv[1:5])
