"""A real ``intentd serve`` subprocess for the commands that talk to a server (one per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e._server import Server, Servers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("cli-server")
    with Servers(workdir) as started:
        yield started.start(f"sqlite:///{workdir / 'intentd.db'}")
