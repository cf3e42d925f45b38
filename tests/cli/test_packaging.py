"""What the packaging split promises: typer and rich come with ``intentd[cli]``, the server's
dependencies with ``intentd[server]``. Each test runs ``intentd.cli.main()`` in a fresh interpreter
where some modules cannot be imported, as if they were not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e._server import child_environment, free_port

pytestmark = pytest.mark.slow

# A meta path finder that runs before the real ones and refuses the named top-level packages.
RUN_WITHOUT = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {missing!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.argv = ["intentd", *{args!r}]
from intentd.cli import main
main()
"""
SERVER_DEPENDENCIES = {"fastapi", "uvicorn", "asyncpg", "starlette"}


def run_without(
    missing: set[str], *args: str, cwd: Path, **settings: str
) -> subprocess.CompletedProcess[str]:
    code = RUN_WITHOUT.format(missing=sorted(missing), args=list(args))
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=child_environment(**settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("serve", "--help"),
        ("db", "upgrade", "--help"),
        ("intents", "watch", "--help"),
        ("worker", "run", "--help"),
    ],
)
def test_help_needs_no_server_dependencies(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_without(SERVER_DEPENDENCIES, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_client_commands_need_no_server_dependencies(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = run_without(SERVER_DEPENDENCIES, "intents", "list", cwd=tmp_path, url=nowhere)
    # Through the SDK to the point of connecting: nothing on the way needed the server.
    assert result.returncode == 2, result.stderr
    assert "cannot reach the server" in result.stderr


def test_sqlite_key_commands_need_no_postgres_driver(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'keys.db'}"
    result = run_without({"asyncpg"}, "keys", "list", "--json", cwd=tmp_path, database_url=database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("missing", ["typer", "rich"])
def test_without_the_cli_extra_one_line_says_what_to_install(tmp_path: Path, missing: str) -> None:
    result = run_without({missing}, "intents", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"intentd: the command line needs {missing}: pip install 'intentd[cli]'"
    ]
    assert result.stdout == ""
