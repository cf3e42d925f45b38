"""How HTTP push delivery and webhook subscriptions send (from the settings; docs/webhooks.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..notify import RetryPolicy


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """``allow_private``: callback URLs may reach private, loopback and link-local addresses (a
    trusted network, tests). ``retry``: backoff of every POST; ``retry.max_attempts`` bounds a
    subscription's deliveries (a pushed intent is bounded by its ``max_delivery_attempts``).
    ``targets_ttl_seconds``: how long a server process trusts what it read of the subscriptions and
    http bindings before reading them again (a change made through another replica applies within
    it; one made through this process applies at once)."""

    allow_private: bool = False
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=8, first_retry_seconds=30.0, max_retry_seconds=600.0)
    )
    timeout_seconds: float = 10.0
    targets_ttl_seconds: float = 1.0
