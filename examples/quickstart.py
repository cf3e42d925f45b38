"""Quickstart: one agent, one intent, wait for the result.

Start a server first (`make serve`), then: `.venv/bin/python examples/quickstart.py`.
The client finds the server and key through INTENTD_URL / INTENTD_API_KEY (or `.intentd-key`).
"""

from intentd.client import Client
from intentd.worker import Worker

worker = Worker(concurrency=4)


@worker.agent("agent://demo/local/greeter")
def greet(ctx, intent):
    ctx.progress("composing a greeting")
    return {"greeting": f"Hello, {intent.payload['name']}!"}


if __name__ == "__main__":
    worker.start()  # in a background thread; `intentd worker run quickstart:worker` also works
    with Client() as client:
        intent = client.submit("agent://demo/local/greeter", "intent.greet.v1", {"name": "Ada"})
        final = client.wait_for(intent.intent_id, timeout=30)
        print(final.status, final.result)  # COMPLETED {'greeting': 'Hello, Ada!'}
    worker.stop()
