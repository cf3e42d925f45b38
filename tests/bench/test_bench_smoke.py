"""The benchmark harness keeps working: a quick run against a real ``intentd serve`` (SQLite), real
agent processes, the code-first supervisor and real HTTP prints a table with a number in every cell
that should have one, for every workload: the handoff chain on raw HTTP agents and on SDK Workers,
each on a held delivery stream and on long-poll claims, the SDK round trip, the declared chain and
fan-out, the code-first fan-out, a human task's decision against a submit, and the parked runs; with
the server's CPU per handoff for the chains and round trips. Two replicas against one on PostgreSQL
where it is reachable. The DBOS peer gets its own tiny run where DBOS is installed (the ``bench``
extra)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests._support.databases import PG_ADMIN_DSN

REPO = Path(__file__).resolve().parents[2]
HANDOFFS = {  # rows with the server's CPU per handoff, and the handoffs of one unit
    ("roundtrip", "intentd"): 1,
    **{("chain3", f"intentd {binding}"): 3 for binding in ("stream", "claim")},
    **{("chain3", f"intentd SDK {binding}"): 3 for binding in ("stream", "claim")},
    **{("roundtrip", f"intentd SDK {binding}"): 1 for binding in ("stream", "claim")},
    ("chain3", "intentd declared"): 3,
}
ROWS = [
    *[(f"{workload} {mode}", system) for workload, system in HANDOFFS for mode in ("seq", "x50")],
    ("fanout10 seq", "intentd declared"),
    ("fanout10 x50", "intentd declared"),
    ("fanout10 seq", "intentd code-first"),
    ("fanout10 x50", "intentd code-first"),
    ("submit→held seq", "intentd"),
    ("decision→held seq", "intentd"),
    ("submit→held x50", "intentd"),
    ("decision→held x50", "intentd"),
]
RATIO = re.compile(r"^p50 \d+\.\d\dx, p99 \d+\.\d\dx, thr \d+\.\d\dx$")
NUMBER = re.compile(r"^\d+(\.\d+)?$")
PARKED = 30


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_run_prints_a_table_of_numbers(tmp_path: Path) -> None:
    results_file = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable, "-m", "bench.run", "--quick", "--backends", "sqlite", "--skip-dbos",
            "--parked", str(PARKED), "--json", str(results_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=200,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]

    printed = [[cell.strip() for cell in line.split("│") if cell.strip()] for line in run.stdout.splitlines()]
    for workload, system in ROWS:
        (cells,) = [row for row in printed if row[:2] == [workload, system]]
        # workload, system, backend, n, p50, p99, max, per second
        assert cells[2] == "sqlite", cells
        assert all(NUMBER.match(cell) for cell in cells[3:8]), cells

    found = json.loads(results_file.read_text())
    summary = {(r["workload"], r["system"]): r for r in found["results"]}
    assert sorted(summary) == sorted(ROWS)
    for (workload, system), result in summary.items():
        assert result["failed"] == 0
        assert result["n"] >= 10
        assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
        assert result["per_second"] > 0
        handoffs = HANDOFFS.get((workload.split()[0], system), 0)
        assert result["handoffs_per_unit"] == handoffs
        # CPU is counted in clock ticks (10 ms): a quick block of a fast server may show none.
        assert (result["server_cpu_ms_per_handoff"] is not None) == bool(handoffs)

    # decision→held against submit→held, per mode: one markdown row each, ending in the ratios.
    ratios = [line.strip("| ").split(" | ") for line in found["human_markdown"].splitlines()[2:]]
    assert [row[:2] for row in ratios] == [["sqlite", "seq"], ["sqlite", "x50"]]
    assert all(RATIO.match(row[-1]) for row in ratios), ratios

    (parked,) = found["parked"]
    assert (parked["system"], parked["backend"], parked["runs"], parked["failed"]) == (
        "intentd",
        "sqlite",
        PARKED,
        0,
    )
    # Each parked run is stored: its rows take room (a few KiB, not nothing and not megabytes).
    assert 500 < parked["bytes_per_run"] < 100_000
    assert parked["idle_cpu_parked"] >= 0


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_two_replicas_are_measured_against_one(tmp_path: Path, pg_template: str) -> None:
    # pg_template: PostgreSQL is reachable (else skipped, or failed under CI); the run makes its own.
    results_file = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable, "-m", "bench.run", "--quick", "--backends", "postgres", "--skip-dbos",
            "--workloads", "replicas", "--bindings", "stream", "--pg-admin-dsn", PG_ADMIN_DSN,
            "--json", str(results_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]

    found = json.loads(results_file.read_text())
    rows = {r["system"]: r for r in found["results"]}
    assert sorted(rows) == ["intentd SDK stream, 1 replica", "intentd SDK stream, 2 replicas"]
    for result in rows.values():
        assert (result["workload"], result["backend"], result["failed"], result["n"]) == (
            "chain3 x50",
            "postgres",
            0,
            50,
        )
        assert result["handoffs_per_unit"] == 3
    # One markdown row: 1 → 2 replicas, ending in the throughput ratio.
    (ratio,) = [line.strip("| ").split(" | ") for line in found["replicas_markdown"].splitlines()[2:]]
    assert ratio[:4] == ["postgres", "chain3 x50", "intentd SDK stream", "2"]
    assert re.fullmatch(r"\d+\.\d\dx", ratio[-1]), ratio


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_dbos_peer_runs_every_workload(tmp_path: Path) -> None:
    pytest.importorskip("dbos", reason="DBOS Transact is the bench extra's (pip install -e '.[bench]')")
    system_db = f"sqlite:///{tmp_path / 'dbos.sqlite'}"
    common = ["--chains", "3", "--concurrent-chains", "6", "--in-flight", "3", "--warmup", "1"]
    runs = _dbos(system_db, *common)
    for workload in ("roundtrip", "chain3", "fanout10"):
        assert len(runs[workload]["sequential"]["latencies"]) == 3
        assert len(runs[workload]["concurrent"]["latencies"]) == 6

    parked = _dbos(f"sqlite:///{tmp_path / 'parked.sqlite'}", "--parked", "100", "--idle-seconds", "0.2")[
        "parked"
    ]
    assert parked["runs"] == 100
    assert parked["bytes_after"] > parked["bytes_before"]  # 100 runs fill more than the free room of a page


def _dbos(system_db: str, *options: str) -> dict[str, dict[str, dict[str, list[float]]]]:
    run = subprocess.run(
        [sys.executable, "-m", "bench.dbos_peer", "--system-db", system_db, *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    found: dict[str, dict[str, dict[str, list[float]]]] = json.loads(run.stdout.strip().splitlines()[-1])
    return found
