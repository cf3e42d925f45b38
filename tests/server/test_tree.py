"""A run as one tree: from any of its intents, ``GET /v1/intents/{id}/tree`` (and the SDK's ``tree``)
returns the intent that began it and every intent handed on from there, in creation order, each
naming its parent; on both backends."""

from __future__ import annotations

from typing import Any

from intentd.client import AsyncClient, IntentNotFound
from tests._support.http_api import WRITER, create
from tests._support.servers import API_KEY, BASE_URL, AppClient

REVIEWER = "agent://acme/prod/reviewer"
EDITOR = "agent://acme/prod/editor"


async def hand_on(api: AppClient, agent: str, *then: dict[str, Any]) -> list[str]:
    """Claim the next intent of ``agent`` and complete it, handing on ``then``; the new intents' ids."""
    claims = (
        await api.post(f"/v1/agents/{agent.removeprefix('agent://')}/claims", json={"worker_id": "w"})
    ).json()
    delivery = claims["deliveries"][0]
    done = await api.post(
        f"/v1/intents/{delivery['intent']['intent_id']}/complete",
        json={"lease_token": delivery["lease"]["token"], "result": {}, "then": list(then)},
    )
    assert done.status_code == 200, done.text
    return [child["intent_id"] for child in done.json()["then"]]


def step(to_agent: str, name: str) -> dict[str, Any]:
    return {"to_agent": to_agent, "intent_type": f"intent.{name}.v1", "payload": {}}


async def test_a_run_reads_whole_from_any_of_its_intents(api: AppClient) -> None:
    root = await create(api)
    (draft,) = await hand_on(api, WRITER, step(REVIEWER, "review"))
    left, right = await hand_on(api, REVIEWER, step(EDITOR, "edit"), step(EDITOR, "proof"))
    other = await create(api)  # another run: not part of this one

    for member in (root, draft, right):
        answer = await api.get(f"/v1/intents/{member}/tree")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["root_intent_id"] == root and body["truncated"] is False
        ids = [i["intent_id"] for i in body["intents"]]
        # In creation order; intents handed on together (one completion) share their creation time.
        assert ids[:2] == [root, draft] and set(ids[2:]) == {left, right} and other not in ids
        parents = {i["intent_id"]: i["parent_intent_id"] for i in body["intents"]}
        assert parents == {root: None, draft: root, left: draft, right: draft}


async def test_a_long_run_is_cut_and_says_so(api: AppClient) -> None:
    root = await create(api)
    await hand_on(api, WRITER, *(step(REVIEWER, f"part{n}") for n in range(3)))
    body = (await api.get(f"/v1/intents/{root}/tree", params={"limit": 2})).json()
    assert len(body["intents"]) == 2 and body["truncated"] is True


async def test_the_sdk_walks_the_tree(api: AppClient) -> None:
    root = await create(api)
    (draft,) = await hand_on(api, WRITER, step(REVIEWER, "review"))
    async with AsyncClient(BASE_URL, API_KEY, transport=api.to_app()) as sdk:
        run = await sdk.tree(draft)
        assert [i.intent_id for i in run.children(root)] == [draft]
        assert run.children(draft) == [] and run.intents[1].status == "SUBMITTED"
        try:
            await sdk.tree("no-such-intent")
        except IntentNotFound as err:
            assert err.status_code == 404
        else:
            raise AssertionError("an unknown intent has no tree")


async def test_another_namespace_sees_no_tree(api: AppClient) -> None:
    root = await create(api)
    _, secret = await api.engine.keys.create("outsider", namespace="elsewhere")
    answer = await api.get(f"/v1/intents/{root}/tree", headers={"x-api-key": secret})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "intent_not_found"
