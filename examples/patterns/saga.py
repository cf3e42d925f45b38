"""Compensation after a late failure (a saga): book a flight, book a hotel, charge the card. The charge
is declined, so the hotel and then the flight are canceled, newest first, and the run fails.

Declared: each step that has a side effect names its ``compensate`` intent; a step's final failure
(``on_failure`` defaults to ``compensate``) runs the compensations of the completed steps one at a
time, newest first, and the run fails with ``error.compensated``. Code-first: the travel agent calls
the services itself in ``ctx.step(key, fn, compensate=undo)``; a final failure runs the registered
``undo`` functions last first, each once, and reports them in ``error.details.compensated``.

Start a server first (`make serve`), then: `.venv/bin/python examples/patterns/saga.py`.
"""

from styles import run

from intentd.client import Client
from intentd.worker import FatalError, Worker

AIRLINE = "agent://demo/saga/airline"
HOTELS = "agent://demo/saga/hotels"
PAYMENTS = "agent://demo/saga/payments"
TRAVEL_AGENT = "agent://demo/saga/travel-agent"  # the code-first supervisor
CANCEL = "intent.demo.cancel_booking.v1"

worker = Worker(concurrency=4)


class CardDeclined(FatalError):
    """A final failure: retrying would not help."""


# Stand-ins for the services: a booking and its cancellation, and a card that is always declined.
def book(kind: str, trip: str) -> dict:
    return {"booking": f"{kind}-{trip}"}


def cancel(booking: dict) -> dict:
    return {"canceled": booking["booking"]}


def charge(amount: int) -> dict:
    raise CardDeclined(f"card declined for {amount} EUR")


@worker.agent(AIRLINE)
def airline(ctx, intent):
    if intent.intent_type == CANCEL:  # a compensation: its input, plus "compensates" and "step_output"
        return cancel({"booking": intent.payload["booking"]})
    return book("flight", intent.payload["trip"])


@worker.agent(HOTELS)
def hotels(ctx, intent):
    if intent.intent_type == CANCEL:
        return cancel(intent.payload["step_output"])  # the output of the step it undoes
    return book("hotel", intent.payload["trip"])


@worker.agent(PAYMENTS)
def payments(ctx, intent):
    return charge(intent.payload["amount"])


BUNDLE = {
    "scenario_id": "demo.saga",
    "agents": [
        {"role": "airline", "address": AIRLINE},
        {"role": "hotels", "address": HOTELS},
        {"role": "payments", "address": PAYMENTS},
    ],
    "workflow": {
        "steps": [
            {
                "step_id": "flight",
                "assigned_to": "airline",
                "input": {"trip": "${run.payload.trip}"},
                "compensate": {
                    "assigned_to": "airline",
                    "intent_type": CANCEL,
                    "input": {"booking": "${steps.flight.output.booking}"},
                },
                "on_success": "hotel",
            },
            {
                "step_id": "hotel",
                "assigned_to": "hotels",
                "input": {"trip": "${run.payload.trip}"},
                "compensate": {"assigned_to": "hotels", "intent_type": CANCEL},
                "on_success": "charge",
            },
            {"step_id": "charge", "assigned_to": "payments", "input": {"amount": "${run.payload.amount}"}},
        ]
    },
    "intent": {"type": "intent.demo.trip.v1", "payload": {"trip": "LIS-7", "amount": 840}},
}


def declared(client: Client) -> str:
    run_id = client.apply_scenario(BUNDLE).run_id
    done = client.wait_for(run_id, timeout=30)
    # error: {"code": "step_failed", "step_id", "cause": <the step's error>, "compensated": [...]}
    error = done.error
    undone = [e.result for e in client.journal(run_id) if e.key.startswith("compensate:")]
    return (
        f"{done.status} at {error['step_id']} ({error['cause']['code']}); "
        f"compensated {error['compensated']}: {undone}"
    )


@worker.agent(TRAVEL_AGENT)
def book_trip(ctx, intent):
    trip = intent.payload["trip"]
    ctx.step("flight", lambda: book("flight", trip), compensate=cancel)
    ctx.step("hotel", lambda: book("hotel", trip), compensate=cancel)
    return ctx.step("charge", lambda: charge(intent.payload["amount"]))


def code_first(client: Client) -> str:
    traveler = client.submit(TRAVEL_AGENT, "intent.demo.trip.v1", {"trip": "LIS-7", "amount": 840})
    done = client.wait_for(traveler.intent_id, timeout=30)
    # error: the handler's ({"code": "CardDeclined", "message"}) with details.compensated
    error = done.error
    undone = [e.result for e in client.journal(traveler.intent_id) if e.key.startswith("compensate:")]
    return f"{done.status} ({error['code']}); compensated {error['details']['compensated']}: {undone}"


if __name__ == "__main__":
    run([worker], declared, code_first)
