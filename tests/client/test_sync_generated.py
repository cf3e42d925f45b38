"""``Client`` is generated from ``AsyncClient`` (scripts/gen_sync.py): a hand edit of ``_sync.py``
or an ``_async.py`` change without regenerating fails here, and the two stay the same API."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from intentd.client import AsyncClient, Client

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_sync.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_sync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sync_client_is_up_to_date_with_the_async_client() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_check_fails_when_the_sync_client_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen_sync = load_script()
    stale = tmp_path / "_sync.py"
    stale.write_text(gen_sync.TARGET.read_text().replace("def close", "def shut"))
    monkeypatch.setattr(gen_sync, "TARGET", stale)

    assert gen_sync.main(["--check"]) == 1
    assert gen_sync.main([]) == 0  # regenerates
    assert gen_sync.main(["--check"]) == 0


def test_the_rewrite_turns_async_code_into_sync_code() -> None:
    source = (
        "import asyncio\n"
        "from contextlib import aclosing\n"
        "class AsyncClient:\n"
        "    async def __aenter__(self) -> AsyncClient: ...\n"
        "    async def rows(self) -> AsyncIterator[int]:\n"
        "        async with aclosing(self._http.stream()) as s:\n"
        "            async for line in s.aiter_lines():\n"
        "                await asyncio.sleep(await self.pause())\n"
        "        await self._http.aclose()\n"
    )
    generated = load_script().unasync(source)
    assert generated.split("\n", 2)[2] == (
        "import time\n"
        "from contextlib import closing\n"
        "class Client:\n"
        "    def __enter__(self) -> Client: ...\n"
        "    def rows(self) -> Iterator[int]:\n"
        "        with closing(self._http.stream()) as s:\n"
        "            for line in s.iter_lines():\n"
        "                time.sleep(self.pause())\n"
        "        self._http.close()\n"
    )


def public_api(cls: type) -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(member).parameters)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_both_clients_have_the_same_methods_and_parameters() -> None:
    sync_api, async_api = public_api(Client), public_api(AsyncClient)
    async_api["close"] = async_api.pop("aclose")
    assert sync_api == async_api
    assert {"submit", "observe", "wait_for", "listen", "claim", "complete", "list"} <= set(sync_api)
    assert inspect.iscoroutinefunction(AsyncClient.submit)
    assert inspect.isasyncgenfunction(AsyncClient.observe)
    assert inspect.isgeneratorfunction(Client.observe)
