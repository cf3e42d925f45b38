"""A worker process serving the review graph (``python -m tests.frameworks._langgraph_worker URL KEY
ADDRESS CHECKPOINTS COUNTS``), for the test that kills it with SIGKILL while the graph waits for a
person."""

from __future__ import annotations

import sys
from pathlib import Path

from intentd.adapters.langgraph import serve_graph
from intentd.client import Client
from intentd.worker import Worker

from ._langgraph_graphs import review_graph, saver


def main(url: str, api_key: str, address: str, checkpoints: str, counts: str) -> None:
    worker = Worker(Client(url, api_key), concurrency=2, claim_wait_seconds=1.0)
    serve_graph(worker, address, review_graph(saver(Path(checkpoints)), Path(counts)))
    worker.run()


if __name__ == "__main__":
    main(*sys.argv[1:6])
