"""The import contracts in pyproject.toml catch what they promise: a scratch copy of the package with
one forbidden import added must fail ``lint-imports`` on exactly the contract that forbids it (a
contract that passes everything would pass this suite's lint step too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import intentd

PACKAGE = Path(intentd.__file__).parent
PYPROJECT = PACKAGE.parent.parent / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def contract(prefix: str) -> str:
    """The full name of the one contract whose name starts with ``prefix``."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    (name,) = [c["name"] for c in config if c["name"].startswith(prefix)]
    return str(name)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}  # the copy, ahead of the installed package
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "src" / "intentd", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    return tmp_path


def add_import(root: Path, module: str, statement: str) -> None:
    path = root / "src" / "intentd" / module
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name == "__init__.py" and not path.exists():
        path.write_text('"""A scratch package."""\n')
    path.write_text(path.read_text() + f"\n{statement}  # added by the contract test\n")


def test_the_package_as_it_is_keeps_every_contract(scratch: Path) -> None:
    result = lint_imports(scratch)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        ("model/_time.py", "import intentd.client", "model imports nothing"),
        ("model/_status.py", "import intentd.wire", "model imports nothing"),
        ("settings.py", "import intentd.model", "settings imports nothing"),
        ("store/_codec.py", "import intentd.engine", "Runtime layers point downward"),
        ("engine/keys.py", "import intentd.client", "The runtime knows neither"),
        ("engine/mesh/registry.py", "import intentd.wire", "The runtime knows neither"),
        ("wire/_model.py", "import intentd.engine", "The wire format stands on the model alone"),
        ("server/routes/meta.py", "import intentd.store", "Routes reach storage only through the engine"),
        ("client/_base.py", "import fastapi", "Agents talk HTTP only"),
        ("worker/_context.py", "import intentd.engine", "Agents talk HTTP only"),
        ("adapters/crewai/__init__.py", "import intentd.store", "Agents talk HTTP only"),
        ("client/_types.py", "import intentd.worker", "The SDK does not depend on the worker"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    scratch: Path, module: str, statement: str, broken: str
) -> None:
    add_import(scratch, module, statement)
    result = lint_imports(scratch)
    assert result.returncode != 0
    assert f"{contract(broken)} BROKEN" in " ".join(result.stdout.split()), result.stdout


def test_one_adapter_importing_another_breaks_their_independence(scratch: Path) -> None:
    add_import(scratch, "adapters/langgraph/__init__.py", "from intentd.client import Client")
    add_import(scratch, "adapters/crewai/__init__.py", "import intentd.adapters.langgraph")
    result = lint_imports(scratch)
    assert result.returncode != 0
    assert f"{contract('Adapters are independent')} BROKEN" in " ".join(result.stdout.split())
