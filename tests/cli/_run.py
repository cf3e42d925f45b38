"""Running ``intentd`` as a user does: a subprocess (``python -m intentd``) in a working directory,
configured by ``INTENTD_*`` variables and flags."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson

from tests.e2e._server import child_environment, intentd_command


def intentd(
    cwd: Path, *args: str, timeout: float = 60, **settings: str | None
) -> subprocess.CompletedProcess[str]:
    """``intentd *args`` with ``INTENTD_<NAME>`` set from ``settings`` (and no other)."""
    return subprocess.run(
        intentd_command(*args),
        cwd=cwd,
        env=child_environment(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return orjson.loads(succeeded(result))
