"""The slots a worker's claim loops share: an empty claim's slots go to the agents waiting for them,
a busy agent leaves every idle one a slot to poll with, and whatever the loops do (hypothesis) the
capacity holds and no agent waits while a slot it may take is free."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intentd.worker._slots import Slots

AGENTS = ("a", "b", "c")


async def test_an_empty_claim_hands_its_slot_to_an_agent_that_waits() -> None:
    slots = Slots(2, AGENTS)
    assert await slots.reserve("a", 16) == 1
    assert await slots.reserve("b", 16) == 1
    c = asyncio.create_task(slots.reserve("c", 16))
    await asyncio.sleep(0)
    assert not c.done()

    slots.release("a", 1)  # a's long poll came back empty
    assert await _granted(c) == 1  # fewer slots than agents: they take turns
    a_again = asyncio.create_task(slots.reserve("a", 1))
    slots.release("b", 1)
    assert await _granted(a_again) == 1


async def test_a_busy_agent_leaves_a_slot_for_each_idle_agent() -> None:
    slots = Slots(4, ["a", "b"])
    assert await slots.reserve("a", 16) == 3  # one stays free for b to poll with
    a_more = asyncio.create_task(slots.reserve("a", 16))
    assert await slots.reserve("b", 16) == 1

    slots.release("b", 1)  # b's claim came back empty: the slot stays b's to poll with again
    await asyncio.sleep(0)
    assert not a_more.done() and slots.free == 1
    assert await slots.reserve("b", 1) == 1
    slots.release("a", 1)  # one of a's handlers finished
    assert await _granted(a_more) == 1


async def test_a_cancelled_reservation_takes_nothing() -> None:
    slots = Slots(1, ["a", "b"])
    assert await slots.reserve("a", 1) == 1
    b = asyncio.create_task(slots.reserve("b", 1))
    await asyncio.sleep(0)
    b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b
    slots.release("a", 1)
    assert (slots.free, slots.held) == (1, {"a": 0, "b": 0})


async def _granted(task: asyncio.Task[int]) -> int:
    return await asyncio.wait_for(task, 5)  # a grant is immediate; the bound only keeps a bug short


Op = tuple[str, str, int]
OPS = st.lists(
    st.tuples(st.sampled_from(["reserve", "release", "cancel"]), st.sampled_from(AGENTS), st.integers(1, 5)),
    max_size=40,
)


@given(capacity=st.integers(1, 5), ops=OPS)
def test_capacity_holds_and_no_agent_waits_beside_a_slot_it_may_take(capacity: int, ops: list[Op]) -> None:
    asyncio.run(_play(capacity, ops))


async def _play(capacity: int, ops: list[Op]) -> None:
    slots = Slots(capacity, AGENTS)
    waiting: dict[str, asyncio.Task[int]] = {}
    granted = dict.fromkeys(AGENTS, 0)  # slots each agent's loop got and has not given back
    for op, agent, n in ops:
        if op == "reserve" and agent not in waiting:  # one loop per agent: one request at a time
            waiting[agent] = asyncio.create_task(slots.reserve(agent, n))
        elif op == "release":
            count = min(n, granted[agent])
            granted[agent] -= count
            slots.release(agent, count)
        elif op == "cancel" and agent in waiting:
            waiting[agent].cancel()
        for _ in range(3):  # let the granted and cancelled tasks finish (no I/O: a few turns do)
            await asyncio.sleep(0)
        for name, task in list(waiting.items()):
            if task.done():
                del waiting[name]
                granted[name] += 0 if task.cancelled() else task.result()
        _check(slots, capacity, granted, waiting)
    for task in waiting.values():
        task.cancel()


def _check(slots: Slots, capacity: int, granted: dict[str, int], waiting: dict[str, object]) -> None:
    assert slots.free >= 0 and slots.free + sum(slots.held.values()) == capacity
    assert slots.held == granted
    for agent in waiting:
        idle_others = sum(1 for other, held in slots.held.items() if held == 0 and other != agent)
        # An idle agent waits only when no slot is free; a busy one only for slots left to idle ones.
        assert slots.free == 0 if slots.held[agent] == 0 else slots.free <= idle_others
