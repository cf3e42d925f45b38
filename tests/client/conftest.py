"""Fixtures of the SDK tests: ``sdk`` runs a test once with ``AsyncClient`` and once with the
generated ``Client`` (behind ``AsyncClient``'s surface, see tests/_support/sdk.py), both against the
real app on both backends; ``recorder`` notes the paths the client requested."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from intentd.client import AsyncClient
from tests._support.sdk import FLAVOURS, Recorder, connected
from tests._support.servers import API_KEY, AppClient


@pytest.fixture
def recorder(api: AppClient) -> Recorder:
    return Recorder(api.to_app())


@pytest.fixture(params=FLAVOURS)
async def sdk(request: pytest.FixtureRequest, recorder: Recorder) -> AsyncIterator[AsyncClient]:
    async with connected(request.param, recorder, API_KEY) as client:
        yield client
