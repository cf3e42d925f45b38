"""The benchmark harness keeps working: a quick run against a real ``intentd serve`` (SQLite), real
agent processes and real HTTP prints a table with a number in every cell that should have one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = ("roundtrip seq", "roundtrip x50", "chain3 seq", "chain3 x50")
NUMBER = re.compile(r"^\d+(\.\d+)?$")


@pytest.mark.slow
def test_quick_run_prints_a_table_of_numbers(tmp_path: Path) -> None:
    results_file = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--backends",
            "sqlite",
            "--skip-dbos",
            "--json",
            str(results_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    for workload in WORKLOADS:
        (row,) = [line for line in run.stdout.splitlines() if f" {workload} " in line]
        cells = [cell.strip() for cell in row.split("│") if cell.strip()]
        # workload, system, backend, n, p50, p99, max, per second
        assert cells[1:3] == ["intentd", "sqlite"], row
        assert all(NUMBER.match(cell) for cell in cells[3:8]), row

    summary = {r["workload"]: r for r in json.loads(results_file.read_text())["results"]}
    assert sorted(summary) == sorted(WORKLOADS)
    for result in summary.values():
        assert result["failed"] == 0
        assert result["n"] >= 10
        assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
        assert result["per_second"] > 0
