"""Fixtures of the HTTP API tests (the app itself is the shared ``api`` fixture)."""

from __future__ import annotations

import pytest

from tests._support.servers import AppClient, SubscriptionWatch


@pytest.fixture
def subscriptions(api: AppClient, monkeypatch: pytest.MonkeyPatch) -> SubscriptionWatch:
    """What the app's streams and long polls are subscribed to, for a test to wait until one parks."""
    hub = api.engine.store.hub
    watch = SubscriptionWatch(hub)
    monkeypatch.setattr(hub, "subscribe", watch.subscribe)
    return watch
