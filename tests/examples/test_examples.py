"""The runnable examples in examples/, run as users run them: a script against a live server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.servers import Servers, child_environment

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, url: str, key: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_environment(url=url, api_key=key),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def server_env(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live server's URL and API key, as a user exports them for a script."""
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        assert server.api_key is not None
        yield server.url, server.api_key


def test_quickstart(server_env: tuple[str, str]) -> None:
    out = run_example("quickstart.py", *server_env)
    assert out.strip() == "COMPLETED {'greeting': 'Hello, Ada!'}"


def test_three_agent_chain(server_env: tuple[str, str]) -> None:
    out = run_example("chain.py", *server_env, "graphs")
    assert "'approved': True" in out and "GRAPHS: FINDING 3" in out


def test_the_same_handoff_driven_by_the_official_axme_sdk(server_env: tuple[str, str]) -> None:
    out = run_example("axme_handoff.py", *server_env)
    assert out.strip() == (
        "{'approved': True, 'final': 'DURABLE AGENTS: FINDING 1 DURABLE AGENTS: FINDING 2'}"
    )


def test_a_manager_approves_spend_before_the_purchasing_agent_acts(server_env: tuple[str, str]) -> None:
    """docs/humans.md's example: the order is priced once although the handler runs again after the
    decision, and a rejection keeps the order from being placed."""
    out = run_example("humans/spend_approval.py", *server_env)
    assert out.strip().splitlines() == [
        "mouse x2: placed, $50, no approval needed, priced 1x",
        "laptop x1: placed, $1,200, approved (within budget), priced 1x",
        "laptop x3: not placed, $3,600, rejected (over the quarter's budget), priced 1x",
    ]


# --- docs/patterns.md: each coordination pattern, declared and code-first -----------------------------


def run_pattern(name: str, server_env: tuple[str, str]) -> dict[str, str]:
    """The pattern example's line for each style, by style."""
    out = run_example(f"patterns/{name}.py", *server_env)
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert list(lines) == ["declared", "code-first"], out
    return lines


def test_pattern_sequential_chain(server_env: tuple[str, str]) -> None:
    final = "{'final': 'LEASES: FINDING 1; LEASES: FINDING 2', 'title': 'On leases'}"
    assert run_pattern("sequential", server_env) == {
        "declared": f"COMPLETED research -> draft -> review: {final}",
        "code-first": f"COMPLETED research -> draft -> review: {final}",
    }


def test_pattern_fan_out_and_join(server_env: tuple[str, str]) -> None:
    assert run_pattern("fan_out", server_env) == {
        "declared": "all FAILED join_failed (1 failed, 2 never ran)"
        " | any COMPLETED acme at 120 (1 completed, 1 failed, 1 never ran)"
        " | quorum COMPLETED globex at 95 (2 completed, 1 failed)",
        "code-first": "all FAILED 2 of 3 quotes, 3 needed"
        " | any COMPLETED globex at 95 | quorum COMPLETED globex at 95",
    }


def test_pattern_hierarchy(server_env: tuple[str, str]) -> None:
    report = "Leases: leases fact 1 and leases fact 2. Journals: journals fact 1 and journals fact 2."
    assert run_pattern("hierarchy", server_env) == {
        "declared": f"2 children, 4 grandchildren: {report}",
        "code-first": f"2 children, 4 grandchildren: {report}",
    }


def test_pattern_retry_with_backoff(server_env: tuple[str, str]) -> None:
    assert run_pattern("retry", server_env) == {
        "declared": "COMPLETED; step intents: FAILED after 2 deliveries (SupplierBusy),"
        " COMPLETED after 1 deliveries; the step retried after [0.5] s",
        "code-first": "COMPLETED; child intents: COMPLETED after 3 deliveries",
    }


def test_pattern_escalation_to_a_human(server_env: tuple[str, str]) -> None:
    assert run_pattern("escalation", server_env) == {
        "declared": "retry: COMPLETED import=COMPLETED import:escalation=COMPLETED publish=COMPLETED"
        " -> {'published': 3}"
        " | skip: COMPLETED import=SKIPPED import:escalation=COMPLETED publish=COMPLETED"
        " -> {'published': 0}",
        "code-first": "retry: COMPLETED import-1=FAILED escalation-1=COMPLETED import-2=COMPLETED"
        " publish=COMPLETED -> {'published': 3}"
        " | skip: COMPLETED import-1=FAILED escalation-1=COMPLETED publish=COMPLETED"
        " -> {'published': 0}",
    }


def test_pattern_saga_compensation(server_env: tuple[str, str]) -> None:
    undone = "[{'canceled': 'hotel-LIS-7'}, {'canceled': 'flight-LIS-7'}]"
    assert run_pattern("saga", server_env) == {
        "declared": f"FAILED at charge (CardDeclined); compensated ['hotel', 'flight']: {undone}",
        "code-first": f"FAILED (CardDeclined); compensated ['hotel', 'flight']: {undone}",
    }
