"""Running ``intentd`` as a user does: a subprocess (``python -m intentd``) in a working directory,
configured by ``INTENTD_*`` variables and flags."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson

from tests.e2e._server import TEST_KEY, Server, child_environment, intentd_command


def intentd(
    cwd: Path, *args: str, timeout: float = 60, columns: int | None = None, **settings: str | None
) -> subprocess.CompletedProcess[str]:
    """``intentd *args`` with ``INTENTD_<NAME>`` set from ``settings`` (and no other); ``columns``
    sets the terminal width Rich renders for."""
    env = child_environment(**settings)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        intentd_command(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def remote(
    server: Server, cwd: Path, *args: str, api_key: str = TEST_KEY, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``intentd --url <server> --api-key <key> *args``: the global options, given as flags."""
    return intentd(cwd, "--url", server.url, "--api-key", api_key, *args, columns=columns)


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return orjson.loads(succeeded(result))
