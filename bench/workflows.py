"""The declared workflows the benchmark applies (``POST /v1/scenarios/apply``), as AXP ScenarioBundles.

- ``fanout_bundle``: one ``parallel`` step with ``FANOUT`` branches joined with ``policy: all``; every
  branch is an agent step for :data:`FAN` (the fan agents complete it with ``{"x": x + 1}``); the run
  ends COMPLETED with ``result.output.branches`` holding each branch's output.
- ``chain_bundle``: three agent steps a → b → c (``on_success``), each to its own agent, each step's
  input the previous step's output (``${steps.a.output.x}``); the run's output is c's ``{"x": 3}``.
- ``parked_bundle``: one human step (``human://reviewer``): the run and its step wait for a person,
  holding no worker, no lease and no timer. Nobody answers during the benchmark.

Every run has ``reply_to`` the driver, so its end lands in the driver's feed like a chain's last step.
"""

from __future__ import annotations

from typing import Any

INTENT_TYPE = "intent.bench.step.v1"
DRIVER = "agent://bench/driver"
FAN = "agent://bench/fan"  # the address every fan-out branch (declared or spawned) goes to
WORKFLOW_CHAIN = ("agent://bench/wa", "agent://bench/wb", "agent://bench/wc")
SUPERVISOR = "agent://bench/supervisor"  # the code-first fan-out's parent (bench/supervisor.py)
SDK_DRIVER = "agent://bench/sdk-driver"  # the SDK driver's reply address (bench/sdk.py)
BINDINGS = ("stream", "claim")  # how an agent takes its work: a held delivery stream, long-poll claims


def handoff_chain(family: str, binding: str) -> tuple[str, str, str]:
    """The addresses of a handoff chain a → b → c: per family of agents (``raw`` HTTP, ``sdk``
    Workers) and binding, so that the agents of every kind can run at once without taking each
    other's work."""
    a, b, c = (f"agent://bench/{family}-{binding}/{step}" for step in "abc")
    return a, b, c


def roundtrip_agent(binding: str) -> str:
    """The SDK round trip's agent (a Worker whose handler answers at once)."""
    return f"agent://bench/sdk-{binding}/rt"


FANOUT = 10


def fanout_bundle(branches: int = FANOUT) -> dict[str, Any]:
    return _bundle(
        "bench.fanout",
        agents=[{"role": "fan", "address": FAN}],
        steps=[
            {
                "step_id": "fan",
                "kind": "parallel",
                "join": {"policy": "all"},
                "branches": [
                    {"step_id": f"b{i}", "assigned_to": "fan", "input": {"x": "${run.payload.x}"}}
                    for i in range(branches)
                ],
            }
        ],
    )


def chain_bundle() -> dict[str, Any]:
    names = ("a", "b", "c")
    steps: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        step: dict[str, Any] = {
            "step_id": name,
            "assigned_to": name,
            "input": {"x": "${run.payload.x}" if i == 0 else f"${{steps.{names[i - 1]}.output.x}}"},
        }
        if i + 1 < len(names):
            step["on_success"] = names[i + 1]
        steps.append(step)
    agents = [{"role": name, "address": address} for name, address in zip(names, WORKFLOW_CHAIN, strict=True)]
    return _bundle("bench.chain3", agents=agents, steps=steps)


def parked_bundle() -> dict[str, Any]:
    bundle = _bundle(
        "bench.parked",
        agents=[],
        steps=[
            {
                "step_id": "approve",
                "kind": "human",
                "assigned_to": "reviewer",
                "human_task": {"title": "Approve the benchmark run", "task_type": "approval"},
            }
        ],
    )
    bundle["humans"] = [{"role": "reviewer"}]
    return bundle


def _bundle(scenario_id: str, *, agents: list[dict[str, Any]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "scenario_id": scenario_id,
        "agents": agents,
        "workflow": {"steps": steps},
        "intent": {"type": INTENT_TYPE, "payload": {"x": 0}, "reply_to": DRIVER},
    }
