"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.servers import Servers


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Start ``intentd serve`` processes in the test's directory; all are killed at the end."""
    with Servers(tmp_path) as started:
        yield started
