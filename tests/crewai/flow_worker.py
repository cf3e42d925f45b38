"""A worker process serving :class:`ReviewFlow` (``python -m tests.crewai.flow_worker URL KEY ADDRESS``),
for the test that kills it with SIGKILL while the flow waits for a person."""

from __future__ import annotations

import sys

from intentd.adapters.crewai import serve_flow
from intentd.client import Client
from intentd.worker import Worker

from ._flows import ReviewFlow


def main(url: str, api_key: str, address: str) -> None:
    worker = Worker(Client(url, api_key), concurrency=2)
    serve_flow(worker, address, ReviewFlow)
    worker.run()


if __name__ == "__main__":
    main(*sys.argv[1:4])
