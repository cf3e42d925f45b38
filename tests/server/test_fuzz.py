"""Property-based fuzzing of the whole HTTP API with Schemathesis, on SQLite and on PostgreSQL.

The schema is the app's own ``/openapi.json``; every operation in it gets the schema's examples,
Schemathesis's coverage cases (boundary values of each parameter) and
``fuzz.EXAMPLES_PER_OPERATION`` generated cases, positive (valid per the schema) and negative (invalid
in one place), from the fixed seed ``fuzz.SEED``, against an app that already holds a few intents in
several states (``fuzz.seed_state``). Each answer must be:

- no 5xx, with a documented status, a documented content type and a body that matches its schema;
- a 4xx for a negative case;
- free of server errors: no ``intentd`` log record at ERROR or above, no exception out of the app;
- for an SSE route, a stream that ends by itself (the app caps ``wait_seconds`` at
  ``fuzz.SHORT_WAIT``, i.e. ``INTENTD_MAX_STREAM_WAIT_SECONDS``) after a complete ``stream.timeout``
  or terminal frame; a stream that has to be cut fails.

Operations run one after another in one app, and the first failing case of each is reported as a
subtest: Schemathesis's report names the failed checks, shows the answer and a curl command that
reproduces it (against a server with that stream cap), and the captured output names the seed. The
harness and its checks are in ``tests/_support/fuzz.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis

from tests._support import fuzz, fuzz_tenants
from tests._support.servers import build_app

schema = schemathesis.pytest.from_fixture("fuzzed_api")


@pytest.fixture
def server_watch(database_url: str) -> Iterator[fuzz.ServerWatch]:
    with fuzz.watched_app(database_url) as watch:
        yield watch


@pytest.fixture
def fuzzed_api(
    server_watch: fuzz.ServerWatch, request: pytest.FixtureRequest
) -> Iterator[schemathesis.BaseSchema]:
    # Schemathesis 4.32's lazy schema reads and renames `node._nodeid`, which pytest 9.2 no longer has
    # (the node id lives in `_id`); without it the test fails before the first request.
    request.node._nodeid = request.node.nodeid
    print(f"fuzz seed {fuzz.SEED}, {fuzz.EXAMPLES_PER_OPERATION} generated cases per operation")
    try:
        loaded = fuzz.load_schema(server_watch, fuzz.fuzz_config())
        loaded.hook(fuzz.known_path_values(fuzz.seed_state(server_watch)))
        yield loaded
    finally:
        fuzz.stop()  # before the database is dropped


# One test walks every operation (about 50, ~8000 cases): 2-3 minutes per backend here, most of it
# generating the coverage cases of the ScenarioBundle and human-task schemas, past the suite's 120 s.
@pytest.mark.timeout(600)
@schema.parametrize()
def test_fuzz(case: schemathesis.Case, server_watch: fuzz.ServerWatch) -> None:
    fuzz.shorten_waits(case)
    case.call_and_validate(
        additional_checks=[server_watch.server_logged_no_error, fuzz.event_stream_ends_whole]
    )


# --- across namespaces -------------------------------------------------------------------------------
# The same fuzzing with a key of another namespace (B), against namespace A's state, once with B's
# admin key and once with a B agent key bound to the address A's work goes to: no answer
# names an id of A that B did not send, and A's state is as it was after the run (tests/_support/
# fuzz_tenants.py). Fewer generated cases per operation, and the scenario routes left out (their
# coverage cases are most of a run's time and they act on no id).
TENANT_EXAMPLES = 6
tenant_schema = schemathesis.pytest.from_fixture("fuzzed_as_other_namespace")


@pytest.fixture(params=["admin", "agent"])
def tenant_run(database_url: str, request: pytest.FixtureRequest) -> Iterator[fuzz_tenants.TenantRun]:
    run = fuzz_tenants.TenantRun(
        fuzz.ServerWatch(build_app(fuzz.fuzz_settings(database_url))),
        fuzz_tenants.other_namespace_key(database_url, request.param),
    )
    with run.watch.listening():
        yield run
        late = run.watch.take()
    assert not late, "The server logged an error after the last request:\n\n" + "\n\n".join(late)


@pytest.fixture
def fuzzed_as_other_namespace(
    tenant_run: fuzz_tenants.TenantRun, request: pytest.FixtureRequest
) -> Iterator[schemathesis.BaseSchema]:
    request.node._nodeid = request.node.nodeid  # as in fuzzed_api
    config = fuzz.fuzz_config(examples=TENANT_EXAMPLES, api_key=tenant_run.key)
    try:
        loaded = fuzz.load_schema(tenant_run.watch, config).exclude(path_regex="^/v1/scenarios/")
        known = tenant_run.seed()
        loaded.hook(fuzz.known_path_values(known))
        yield loaded
        tenant_run.check_unchanged()
    finally:
        fuzz.stop()


@pytest.mark.timeout(600)
@tenant_schema.parametrize()
def test_fuzz_across_namespaces(case: schemathesis.Case, tenant_run: fuzz_tenants.TenantRun) -> None:
    fuzz.shorten_waits(case)
    case.call_and_validate(
        additional_checks=[
            tenant_run.watch.server_logged_no_error,
            fuzz.event_stream_ends_whole,
            tenant_run.names_none_of_its_ids,
        ]
    )
