"""What one test holds (the ``intentd`` fixture): its namespace on the session's server, clients of it,
a worker that runs the test's handlers and stand-ins in this process, the people, the clock, and the
golden transition records.

    def test_refund_is_paid_once_approved(intentd):
        intentd.worker.agent(REFUND)(refund)                    # the real handler under test
        payment = intentd.stand_in(PAYMENT, returns={"paid": True})
        run = intentd.submit(REFUND, "intent.refund.v1", {"order": "A-17", "amount": 40})
        intentd.humans.approve(run, comment="customer called")
        done = intentd.wait(run)
        assert done.leaves[0].result == {"paid": True} and len(payment.calls) == 1
        intentd.assert_transitions(done, "golden/refund_approved.yaml")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intentd.client import Client, DryRunAnswer, Intent, IntentSpec, RunTree, Status
from intentd.worker import Handler, RetryPolicy, Worker

from . import golden
from .embedded import Server
from .humans import Humans, Run, root_id
from .standins import StandIn

RUN_WAIT_SECONDS = 30.0  # a run a test waits for ends within this, or the test fails saying so
STATUS_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.02
# A test's worker retries at once (a stand-in's or handler's ``retry_after`` still waits, in server
# time): a test of retries should not wait out a production backoff.
TEST_RETRIES = RetryPolicy(base_seconds=0.0, max_seconds=0.0)


class Intentd:
    def __init__(self, server: Server, *, test_dir: Path, record: bool) -> None:
        self.server = server
        self.namespace, self.api_key = server.new_namespace()
        self.url = server.url
        self.client = Client(self.url, self.api_key)
        # Given the sync client, the worker makes its own async twin and closes it when it stops.
        self.worker = Worker(self.client, retry=TEST_RETRIES, concurrency=16, shutdown_grace_seconds=2.0)
        self.humans = Humans(self.client, self.url, self.api_key)
        self._test_dir = test_dir
        self._record = record
        self._thread: threading.Thread | None = None

    # --- agents ------------------------------------------------------------------------------------

    def agent(self, address: str) -> Callable[[Handler], Handler]:
        """Register a real handler for ``address`` on the test's worker (``@intentd.agent(...)``),
        before the first submit."""
        self._not_started(address)
        return self.worker.agent(address)

    def stand_in(
        self,
        address: str,
        *,
        returns: Any = None,
        fails: int = 0,
        error: str = "the stand-in failed, as scripted",
        retry_after: float | None = None,
        fatal: str | None = None,
        asks: Mapping[str, Any] | None = None,
        then: Sequence[IntentSpec] | Callable[[Intent], Sequence[IntentSpec]] = (),
        takes: float | None = None,
    ) -> StandIn:
        """A scripted agent at ``address`` (intentd.testing.standins); its ``calls`` record each
        delivery it took."""
        self._not_started(address)
        fake = StandIn(
            address, returns, fails, error, retry_after, fatal, asks, then, takes, clock=self.server.now
        )
        return fake.serve_on(self.worker)

    # --- runs --------------------------------------------------------------------------------------

    def submit(
        self, to_agent: str, intent_type: str, payload: Mapping[str, Any] | None = None, **options: Any
    ) -> Intent:
        """Submit an intent (``Client.submit``'s options), the worker serving the handlers and
        stand-ins registered so far."""
        self._start_worker()
        return self.client.submit(to_agent, intent_type, dict(payload or {}), **options)

    def wait(self, run: Run, *, timeout: float = RUN_WAIT_SECONDS) -> RunTree:
        """The run once every intent of it has ended."""
        return self.client.wait_for_run(root_id(run), timeout=timeout)

    def wait_until(self, intent: Run, *statuses: Status, timeout: float = STATUS_WAIT_SECONDS) -> Intent:
        """The intent once it is in one of ``statuses`` (an ``AssertionError`` says where it is after
        ``timeout`` seconds): for a state a run passes through, such as WAITING."""
        intent_id = root_id(intent)
        deadline = time.monotonic() + timeout
        while (current := self.client.get(intent_id)).status not in statuses:
            if time.monotonic() > deadline:
                wanted = ", ".join(s.value for s in statuses)
                raise AssertionError(
                    f"{intent_id} is {current.status.value} after {timeout:g} s, not {wanted}"
                )
            time.sleep(POLL_SECONDS)
        return current

    def run(
        self, to_agent: str, intent_type: str, payload: Mapping[str, Any] | None = None, **options: Any
    ) -> RunTree:
        """Submit and wait for the whole run."""
        return self.wait(self.submit(to_agent, intent_type, payload, **options))

    # --- time --------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the server's time on (embedded server only): timers that fall due fire, leases that
        run out expire, before this returns. A test that moves time asks for ``intentd_clock``, which
        skips it against a live server."""
        self.server.advance(seconds)

    @property
    def now(self) -> datetime:
        """The server's time."""
        return datetime.fromtimestamp(self.server.now(), UTC)

    @property
    def controls_time(self) -> bool:
        return self.server.controls_time

    # --- golden records and policies ---------------------------------------------------------------

    def transitions(self, run: Run) -> dict[str, Any]:
        """The run's normalised transition record (intentd.testing.golden)."""
        return golden.record_of(self.client, root_id(run))

    def assert_transitions(self, run: Run, path: str | Path) -> None:
        """The run's record equals the golden file at ``path`` (relative to the test's file); with
        ``pytest --intentd-record`` the file is written instead."""
        golden.compare(self.transitions(run), self._test_dir / path, update=self._record)

    def dry_run(
        self,
        scope: str,
        policy: Mapping[str, Any],
        *,
        golden_files: Sequence[str | Path] = (),
        intents: Sequence[Mapping[str, Any]] = (),
    ) -> DryRunAnswer:
        """What ``policy`` on ``scope`` would allow, block or pause, evaluated on the server against
        the intents of recorded golden runs (``golden_files``) and any ``intents`` given."""
        synthetic = [*intents]
        for path in golden_files:
            synthetic += golden.synthetic_intents(golden.load(self._test_dir / path))
        return self.client.dry_run(scope, policy, intents=synthetic)

    # --- lifecycle ---------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        if self._thread is None and self.worker.addresses:
            self._thread = self.worker.start()

    def _not_started(self, address: str) -> None:
        if self._thread is not None:
            raise RuntimeError(
                f"register {address} before the first submit: the test's worker serves the agents it "
                "had when it started"
            )

    def close(self) -> None:
        if self._thread is not None:
            self.worker.stop()
            self._thread.join(self.worker.shutdown_grace_seconds + 5)
        self.humans.close()
        self.client.close()
