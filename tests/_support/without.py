"""Agent code run in a Python process where some packages cannot be imported at all, as on a host that
never installed them (a client-only install, an agent without OpenTelemetry): a meta path finder in
front of every other refuses them, so a stray import fails loudly instead of finding the test
environment's copy. The code sees the refused packages' names as ``BLOCKED`` and finds the server
through ``INTENTD_URL`` and ``INTENTD_API_KEY``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from tests._support.servers import API_KEY

BLOCKER = """
import sys

BLOCKED = set(sys.argv[1].split(","))


class NotInstalled:  # a meta path finder: these packages do not exist in this process
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed on this host)")
        return None


sys.meta_path.insert(0, NotInstalled())
"""


def run_without(
    packages: Iterable[str], source: str, *, url: str, cwd: Path, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` (dedented, after :data:`BLOCKER`) against the server at ``url`` with the test
    API key, none of ``packages`` importable; its output is captured."""
    env = {**os.environ, "INTENTD_URL": url, "INTENTD_API_KEY": API_KEY}
    code = BLOCKER + textwrap.dedent(source)
    return subprocess.run(
        [sys.executable, "-c", code, ",".join(sorted(packages))],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
