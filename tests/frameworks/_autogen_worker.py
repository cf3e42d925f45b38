"""A worker process serving the ops team (``python -m tests.frameworks._autogen_worker URL KEY ADDRESS
COUNTS``), for the test that kills it with SIGKILL while the team waits for a person."""

from __future__ import annotations

import sys
from pathlib import Path

from intentd.adapters.autogen import serve_team
from intentd.client import Client
from intentd.worker import Worker

from ._autogen_teams import ops_team


def main(url: str, api_key: str, address: str, counts: str) -> None:
    worker = Worker(Client(url, api_key), concurrency=2, claim_wait_seconds=1.0)
    serve_team(worker, address, lambda: ops_team(Path(counts)))
    worker.run()


if __name__ == "__main__":
    main(*sys.argv[1:5])
