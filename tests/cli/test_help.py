"""Help texts state each option's ``INTENTD_*`` variable and default, taken from ``Settings``."""

from __future__ import annotations

from pathlib import Path

import pytest

from intentd.settings import DEFAULT_DATABASE_URL, DEFAULT_PORT
from tests.cli._run import intentd, succeeded

pytestmark = pytest.mark.slow
WIDE = 250  # columns: one option per line, so a phrase is never split by wrapping


def test_global_options_show_their_variables(tmp_path: Path) -> None:
    shown = succeeded(intentd(tmp_path, "--help", columns=WIDE))
    assert f"[env INTENTD_DATABASE_URL; default {DEFAULT_DATABASE_URL}]" in shown
    assert f"[env INTENTD_URL; default http://127.0.0.1:{DEFAULT_PORT}]" in shown
    assert "[env INTENTD_API_KEY]" in shown  # no default shown: there is none, and a key is secret


def test_serve_options_show_their_variables(tmp_path: Path) -> None:
    shown = succeeded(intentd(tmp_path, "serve", "--help", columns=WIDE))
    assert f"[env INTENTD_PORT; default {DEFAULT_PORT}]" in shown
    assert "[env INTENTD_HOST; default 127.0.0.1]" in shown


def test_help_works_while_a_variable_is_invalid(tmp_path: Path) -> None:
    """Help is where one looks to fix the setting, so it must not depend on it."""
    shown = succeeded(intentd(tmp_path, "serve", "--help", columns=WIDE, port="eighty"))
    assert "[env INTENTD_PORT" in shown
