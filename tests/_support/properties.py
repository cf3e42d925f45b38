"""Settings of the property tests that run many examples against one database."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings


def against_one_database(examples: int) -> settings:
    """``examples`` examples, no deadline (a database round trip varies), and without the explain phase,
    which traces every line (slow before Python 3.12). One database serves every example of a test, so
    each example must write rows of its own."""
    return settings(
        max_examples=examples,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
