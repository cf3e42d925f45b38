"""The one settings object: flags and ``INTENTD_*`` environment variables. Nothing else reads the
environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///intentd.db"
DEFAULT_PORT = 8321


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTENTD_", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="sqlite:///file.db or postgresql://…")
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_body_bytes: int = Field(1024 * 1024, description="larger requests get 413")
    max_header_bytes: int = Field(16 * 1024, description="requests with more header bytes get 431")
    bootstrap_api_key: str | None = Field(
        None, description="if set, an admin key with exactly this value exists after start"
    )
    max_stream_wait_seconds: float = 300.0
    # Per-key limits of each server process (server/ratelimit.py, docs/security.md):
    rate_limit_per_second: float = Field(
        0.0, ge=0, description="requests per second per API key, per server process; 0: no rate limit"
    )
    rate_limit_burst: int = Field(200, ge=1, description="requests one API key may send at once")
    max_streams_per_key: int = Field(
        100,
        ge=0,
        description="open streams (delivery streams, SSE feeds) per API key, per server process; 0: no limit",
    )
    key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="how long a replica trusts a key it verified: a revocation reaches every replica "
        "within this",
    )
    metrics_public: bool = Field(
        False,
        description="serve /metrics without an API key, with every namespace's series: only where its port "
        "is reachable from a private network alone (docs/operations.md)",
    )
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        "text",
        description="text: lines for people; json: one object per line with request, intent and "
        "correlation ids, and an access line per request (docs/operations.md)",
    )
    otel: bool = Field(
        False,
        description="OpenTelemetry: a span per API request, continuing the caller's traceparent; "
        "exported as the OTEL_* variables say (intentd[otel]; docs/operations.md, Traces)",
    )
    # Notifications of human tasks (docs/notifications.md):
    smtp_url: str | None = Field(
        None,
        description="e-mail channel: smtp://user:pass@host:port?from=intentd@example.com&starttls=true "
        "(smtps:// for TLS from the start); no e-mail when unset",
    )
    notify_webhook_url: str | None = Field(
        None, description="webhook channel: each notice is POSTed here as JSON; no webhook when unset"
    )
    notify_webhook_secret: str | None = Field(
        None, description="signs webhook bodies (X-Intentd-Signature: HMAC-SHA256 of timestamp.body)"
    )
    public_url: str | None = Field(
        None,
        description="the server's address as people reach it, for links in e-mail; default http://host:port",
    )
    link_secret: str | None = Field(
        None, description="signs approve/reject links; default a secret generated once per database"
    )
    link_ttl_seconds: float = Field(
        7 * 24 * 3600.0, gt=0, le=365 * 24 * 3600.0, description="how long a signed link stays valid"
    )
    # HTTP push delivery and webhook subscriptions (docs/webhooks.md):
    allow_private_callbacks: bool = Field(
        False,
        description="callback URLs may reach private, loopback, link-local addresses (trusted nets; tests)",
    )
    webhook_first_retry_seconds: float = Field(
        30.0, gt=0, description="a failed POST is retried after this, then doubling (with jitter)"
    )
    webhook_max_retry_seconds: float = Field(600.0, gt=0, description="the longest wait between retries")
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="attempts of a subscription's delivery before it is dead-lettered"
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=300, description="one POST's time limit")
    # Client side (CLI, SDK):
    url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    api_key: str | None = None
    key_file: str = ".intentd-key"

    def resolved_api_key(self) -> str | None:
        """``INTENTD_API_KEY``, else the key file ``intentd serve`` wrote on its first start, so a
        client next to a fresh server needs no set-up."""
        if self.api_key:
            return self.api_key
        path = Path(self.key_file)
        return (path.read_text().strip() or None) if path.is_file() else None
