"""The Worker under the Mesh (docs/mesh.md), against the real app on both backends: a handler asks
whether its policy allows a tool and records the calls it makes (refused when not allowed); its
usage counts against its agent's spend cap."""

from __future__ import annotations

from intentd.client import AsyncClient, Forbidden, Status
from tests._support.servers import AppClient
from tests.worker.test_worker import AGENT, client, make_worker, serving

__all__ = ["client"]


async def test_a_handler_checks_and_records_its_tool_calls(client: AsyncClient, api: AppClient) -> None:
    await client.set_policy(AGENT, {"tools": {"allow": ["search", "fetch_*"]}})
    worker = make_worker(client)
    seen: dict[str, object] = {}

    @worker.agent(AGENT)
    async def tooling(ctx, intent):  # type: ignore[no-untyped-def]
        seen["search"] = await ctx.allowed_tool("search")
        seen["shell"] = await ctx.allowed_tool("shell")
        await ctx.record_tool("fetch_page")
        try:
            await ctx.record_tool("shell")
        except Forbidden as refused:
            seen["refused"] = refused.code
        ctx.report_usage(cost_usd=0.5, tokens_in=100, tokens_out=20)
        return {"ok": True}

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.tools.v1", {})
        done = await client.wait_for(submitted.intent_id, timeout=15)

    assert done.status is Status.COMPLETED
    assert seen == {"search": True, "shell": False, "refused": "policy_denied"}
    tools = [e.details.get("tool") for e in await client.events(submitted.intent_id) if e.details.get("tool")]
    assert tools == ["fetch_page"]
    await client.set_policy(AGENT, {"tools": {"allow": ["search", "fetch_*"]}, "max_cost_per_day_usd": 10})
    used = {r.rule: r.used for r in (await client.agent_policy(AGENT)).rules}
    assert used["max_cost_per_day_usd"] == 0.5
