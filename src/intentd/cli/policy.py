"""``intentd policy``: Mesh policies on a running server, through the SDK (docs/mesh.md, "Policies").

``set`` takes the policy from flags or from a file (``--file``, JSON or YAML: the policy object),
``show`` says which rules apply to an agent and what each has used, ``dry-run`` says what a proposed
policy would have done to the last day's intents (``--since``/``--until``) or to synthetic ones
(``--intents``: a JSON or YAML list), without enforcing anything."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from intentd.client import DryRunAnswer

from ._client import connect
from ._files import EXIT_BAD_FILE, read_object, read_value
from ._options import JsonOpt, settings_of
from ._output import console, emit_json, fail, table

app = typer.Typer(help="Mesh policies: spend, rates, concurrency, intent types, tools.", no_args_is_help=True)
ScopeArg = Annotated[
    str, typer.Argument(help="'*' (the namespace) or an address (…@v1: one version)", show_default=False)
]
_TIMES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]


class Breach(StrEnum):
    block = "block"
    pause = "pause"


def _patterns(help_: str) -> Any:  # typer.Option is typed Any
    return typer.Option(help=f"{help_} (repeat)", metavar="PATTERN")


def policy_from(params: dict[str, Any]) -> dict[str, Any]:
    """The policy a command was given: its ``--file``, or its flags (not both). ``params`` are the
    command's parsed options (``ctx.params``), so ``set`` and ``dry-run`` read them alike."""
    flags: dict[str, Any] = {
        "max_cost_per_day_usd": params.get("max_cost_per_day"),
        "max_cost_per_tree_usd": params.get("max_cost_per_tree"),
        "max_intents_per_hour": params.get("max_intents_per_hour"),
        "max_concurrency": params.get("max_concurrency"),
        "on_breach": params["on_breach"].value if params.get("on_breach") else None,
    }
    for name in ("receive", "send", "tools"):
        allow, deny = params.get(f"{name}_allow"), params.get(f"{name}_deny")
        if allow or deny:
            flags[name] = {"allow": allow or [], "deny": deny or []}
    given = {k: v for k, v in flags.items() if v is not None}
    file = params.get("file")
    if file is not None:
        if given:
            fail("give the policy as --file or as flags, not both", EXIT_BAD_FILE)
        return read_object(file, "a policy")
    return given


PolicyFile = Annotated[Path | None, typer.Option("--file", help="the policy as a JSON or YAML object")]
MaxCostPerDay = Annotated[float | None, typer.Option(help="cost_usd per UTC day", min=0)]
MaxCostPerTree = Annotated[float | None, typer.Option(help="cost_usd of one run (intent tree)", min=0)]
MaxIntentsPerHour = Annotated[int | None, typer.Option(help="intents admitted per UTC hour", min=0)]
MaxConcurrency = Annotated[int | None, typer.Option(help="leases open at once", min=0)]
OnBreach = Annotated[Breach | None, typer.Option(help="block: 429; pause: an override task (default block)")]
ReceiveAllow = Annotated[list[str] | None, _patterns("intent types it may receive")]
ReceiveDeny = Annotated[list[str] | None, _patterns("intent types it may not receive")]
SendAllow = Annotated[list[str] | None, _patterns("intent types it may send")]
SendDeny = Annotated[list[str] | None, _patterns("intent types it may not send")]
ToolsAllow = Annotated[list[str] | None, _patterns("tools it may call")]
ToolsDeny = Annotated[list[str] | None, _patterns("tools it may not call")]


@app.command("set")
def policy_set(
    ctx: typer.Context,
    scope: ScopeArg,
    file: PolicyFile = None,
    max_cost_per_day: MaxCostPerDay = None,
    max_cost_per_tree: MaxCostPerTree = None,
    max_intents_per_hour: MaxIntentsPerHour = None,
    max_concurrency: MaxConcurrency = None,
    receive_allow: ReceiveAllow = None,
    receive_deny: ReceiveDeny = None,
    send_allow: SendAllow = None,
    send_deny: SendDeny = None,
    tools_allow: ToolsAllow = None,
    tools_deny: ToolsDeny = None,
    on_breach: OnBreach = None,
    expected_generation: Annotated[
        int | None, typer.Option(help="only if the policy is still at this generation (0: none yet)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the policy of the namespace ('*') or of an agent, replacing the one there."""
    body = policy_from(ctx.params)
    with connect(settings_of(ctx)) as client:
        policy = client.set_policy(scope, body, expected_generation=expected_generation)
    if as_json:
        emit_json({"ok": True, "policy": policy.raw})
    else:
        console.print(f"{policy.scope}: generation {policy.generation}", markup=False)
        console.print(orjson.dumps(policy.policy).decode(), markup=False, soft_wrap=True)


@app.command("list")
def policy_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The namespace's policies."""
    with connect(settings_of(ctx)) as client:
        policies = client.policies()
    if as_json:
        emit_json({"ok": True, "policies": [p.raw for p in policies]})
        return
    rows = [[p.scope, str(p.generation), orjson.dumps(p.policy).decode(), p.actor] for p in policies]
    table(None, ["scope", "generation", "policy", "set by"], rows)


@app.command("show")
def policy_show(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="the agent", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """The policy that applies to an agent: each rule, where it comes from, what it has used."""
    with connect(settings_of(ctx)) as client:
        effective = client.agent_policy(address)
    if as_json:
        emit_json(effective.raw)
        return
    rows = [
        [
            r.rule,
            orjson.dumps(r.value).decode() if isinstance(r.value, dict) else str(r.value),
            r.scope,
            str(r.generation),
            "" if r.used is None else f"{r.used:g}",
        ]
        for r in effective.rules
    ]
    table(
        f"{effective.agent} (on breach: {effective.on_breach})",
        ["rule", "limit", "from", "gen", "used"],
        rows,
    )
    if not rows:
        console.print("no policy applies", markup=False)


@app.command("remove")
def policy_remove(ctx: typer.Context, scope: ScopeArg, as_json: JsonOpt = False) -> None:
    """Remove a policy."""
    with connect(settings_of(ctx)) as client:
        removed = client.remove_policy(scope)
    if as_json:
        emit_json(removed.raw)
    else:
        console.print(f"{removed.scope}: {'removed' if removed.removed else 'had no policy'}", markup=False)


@app.command("dry-run")
def policy_dry_run(
    ctx: typer.Context,
    scope: ScopeArg,
    file: PolicyFile = None,
    max_cost_per_day: MaxCostPerDay = None,
    max_cost_per_tree: MaxCostPerTree = None,
    max_intents_per_hour: MaxIntentsPerHour = None,
    max_concurrency: MaxConcurrency = None,
    receive_allow: ReceiveAllow = None,
    receive_deny: ReceiveDeny = None,
    send_allow: SendAllow = None,
    send_deny: SendDeny = None,
    tools_allow: ToolsAllow = None,
    tools_deny: ToolsDeny = None,
    on_breach: OnBreach = None,
    since: Annotated[
        datetime | None, typer.Option(help="intents created from (default: a day ago)", formats=_TIMES)
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="intents created before (default: now)", formats=_TIMES)
    ] = None,
    intents: Annotated[
        Path | None,
        typer.Option(help="synthetic intents instead: a JSON or YAML list (to_agent, intent_type, …)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What a proposed policy would have allowed, denied, blocked or paused, and saved (enforces nothing)."""
    body = policy_from(ctx.params)
    synthetic = read_value(intents, "the synthetic intents") if intents is not None else None
    if synthetic is not None and not isinstance(synthetic, list):
        fail(f"{intents}: the synthetic intents are a list", EXIT_BAD_FILE)
    with connect(settings_of(ctx)) as client:
        report = client.dry_run(scope, body, since=since, until=until, intents=synthetic)
    if as_json:
        emit_json(report.raw)
    else:
        _show_report(report)


def _show_report(report: DryRunAnswer) -> None:
    console.print(
        f"{report.evaluated} intents: {report.allowed} allowed, {report.denied} denied, "
        f"{report.blocked} blocked, {report.paused} paused; would have saved ${report.saved_usd:g} "
        f"(and ${report.paused_usd:g} for a person to approve)",
        markup=False,
    )
    if report.decisions:
        rows = [
            [d.outcome, d.rule, d.to_agent, d.intent_type, d.intent_id or "", d.why or ""]
            for d in report.decisions
        ]
        table("decisions that were not allow", ["outcome", "rule", "agent", "type", "intent", "why"], rows)
