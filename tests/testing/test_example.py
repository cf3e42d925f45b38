"""docs/testing.md's worked example, examples/testing (a refund flow and its golden files), run as its
users would run it: ``pytest examples/testing``, in a pytest process of its own, against the embedded
server and against a live PostgreSQL-backed server, where time cannot be moved (its clock test skips)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests._support.servers import REPO

pytestmark = pytest.mark.slow
EXAMPLE = REPO / "examples" / "testing"


def test_the_refund_example_passes_with_its_golden_files(target: list[str]) -> None:
    before = {path.name: path.read_bytes() for path in (EXAMPLE / "golden").iterdir()}
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(EXAMPLE),
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
        *target,
    ]
    ran = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    summary = "4 passed, 1 skipped" if target else "5 passed"
    assert summary in ran.stdout, ran.stdout
    assert {
        path.name: path.read_bytes() for path in (EXAMPLE / "golden").iterdir()
    } == before  # compared, not written
