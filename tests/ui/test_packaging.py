"""The wheel carries everything ``/ui`` needs: its templates and static files (htmx, its SSE extension,
their licenses, the stylesheet), found by importlib.resources as the server reads them."""

from __future__ import annotations

import zipfile
from importlib import resources
from pathlib import Path

from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "intentd/server/dashboard"
NEEDED = {
    "static/htmx.min.js",
    "static/htmx-ext-sse.js",
    "static/htmx.LICENSE.txt",
    "static/htmx-ext-sse.LICENSE.txt",
    "static/dashboard.css",
    "templates/base.html",
    "templates/partials/intent_detail.html",
}


def _shipped() -> set[str]:
    folder = resources.files("intentd.server.dashboard")
    found: set[str] = set()
    for part in ("static", "templates", "templates/partials"):
        found |= {f"{part}/{entry.name}" for entry in (folder / part).iterdir() if entry.is_file()}
    return found


def test_the_package_finds_its_templates_and_static_files() -> None:
    assert _shipped() >= NEEDED


def test_the_vendored_scripts_keep_their_license_headers() -> None:
    static = resources.files("intentd.server.dashboard") / "static"
    for name in ("htmx.min.js", "htmx-ext-sse.js"):
        head = (static / name).read_text()[:200]
        assert head.startswith("/*!") and "Zero-Clause BSD" in head


def test_the_wheel_holds_every_template_and_static_file(tmp_path: Path) -> None:
    [wheel] = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])

    with zipfile.ZipFile(wheel) as built:
        names = set(built.namelist())
    assert {f"{PACKAGE}/{name}" for name in _shipped()} <= names
    assert "intentd/store/migrations/0016_ui_sessions.sql" in names
