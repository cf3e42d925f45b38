"""The agent worker runtime, on top of the SDK (it talks HTTP only, so agents run on any host).

    from intentd.client import Client
    from intentd.worker import Worker

    worker = Worker(Client(), concurrency=8)

    @worker.agent("agent://acme/prod/writer")
    def write(ctx, intent):
        ctx.progress("drafting")
        return {"draft": "..."}

Run it with ``worker.run()`` or ``intentd worker run module:worker``. A supervisor delegates durably:
``ctx.spawn`` children, ``ctx.gather`` their results (the intent waits without a lease meanwhile) and
``ctx.step`` journals a result, with a compensation should the handler fail for good. ``ctx.ask_human``
asks a person and returns a :class:`HumanAnswer` (the intent waits without a lease meanwhile).
"""

from ._context import AsyncContext, Context, current_context
from ._errors import ChildFailed, FatalError, RetryableError
from ._journal import Child, HumanAnswer
from ._runtime import Handler, Result, RetryPolicy, Worker

__all__ = [
    "AsyncContext",
    "Child",
    "ChildFailed",
    "Context",
    "FatalError",
    "Handler",
    "HumanAnswer",
    "Result",
    "RetryPolicy",
    "RetryableError",
    "Worker",
    "current_context",
]
