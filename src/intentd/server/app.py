"""The ASGI application: ``create_app(settings)`` builds it; its lifespan opens the store, makes sure
the bootstrap key exists and runs the scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from intentd import __version__
from intentd.engine import Engine
from intentd.engine.notify import NotifyConfig, RetryPolicy, configure
from intentd.engine.webhooks import WebhookConfig
from intentd.model import Micros, now_us
from intentd.settings import Settings
from intentd.store import open_store

from . import dashboard, errors, lean, openapi, tracing
from ._responses import FastJSONResponse
from .middleware import RequestContext
from .ratelimit import RateLimiter, StreamSlots
from .routes import (
    agents,
    approvals,
    audit,
    bindings,
    deliveries,
    inbox,
    intents,
    keys,
    leases,
    links,
    mesh,
    meta,
    metrics,
    namespaces,
    runs,
    scenarios,
    tasks,
    webhooks,
)
from .warmup import warm_routes

log = logging.getLogger("intentd.server")


def create_app(
    settings: Settings | None = None, *, run_scheduler: bool = True, clock: Callable[[], Micros] = now_us
) -> FastAPI:
    """The app ``intentd serve`` serves. ``clock`` is the engine's time: a test's own clock lets it
    move time on (intentd.testing), so reminders, deadlines and backoffs are tested without sleeping."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(settings.database_url, exclusive=True)
        engine = Engine(
            store,
            clock,
            notify=notify_config(settings),
            key_cache_seconds=settings.key_cache_seconds,
            webhooks=webhook_config(settings),
        )
        if settings.bootstrap_api_key:
            await engine.keys.create("bootstrap", plaintext=settings.bootstrap_api_key)
        app.state.engine = engine
        loop = asyncio.get_running_loop()
        # Called from the server's signal handler: wake long polls and streams so a graceful
        # shutdown does not wait out their wait_seconds.
        app.state.begin_drain = lambda: loop.call_soon_threadsafe(store.hub.close)
        await engine.start(scheduler=run_scheduler)
        await warm_routes(app.router)
        tracing.report(settings)
        try:
            yield
        finally:
            await engine.stop()
            await store.close()

    app = FastAPI(
        title="intentd",
        version=__version__,
        lifespan=lifespan,
        default_response_class=FastJSONResponse,
        description="Durable intents for multi-agent systems (AXP-compatible).",
        telemetry=tracing.telemetry(settings),  # spans only with INTENTD_OTEL (server/tracing.py)
    )
    app.state.settings = settings
    # Per-key limits of this process (ratelimit.py): read by auth.authenticate and the stream routes.
    app.state.rate_limiter = (
        RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        if settings.rate_limit_per_second > 0
        else None
    )
    app.state.stream_slots = StreamSlots.of(settings.max_streams_per_key)
    errors.install(app)
    openapi.install(app)
    routes = (
        meta,
        intents,
        leases,
        runs,
        agents,
        bindings,
        deliveries,
        inbox,
        approvals,
        tasks,
        links,
        mesh,
        scenarios,
        namespaces,
        keys,
        webhooks,
        audit,
        metrics,
    )
    for module in routes:
        app.include_router(module.router)
    lean.install(app, (module.router for module in routes))
    if settings.otel:
        tracing.name_lean_routes(app)
    dashboard.install(app)  # the web dashboard at /ui (server/dashboard, docs/dashboard.md)
    app.add_middleware(
        RequestContext, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes
    )
    return app


def webhook_config(settings: Settings) -> WebhookConfig:
    """HTTP push delivery and webhook subscriptions from the settings (docs/webhooks.md)."""
    return WebhookConfig(
        allow_private=settings.allow_private_callbacks,
        retry=RetryPolicy(
            max_attempts=settings.webhook_max_attempts,
            first_retry_seconds=settings.webhook_first_retry_seconds,
            max_retry_seconds=settings.webhook_max_retry_seconds,
        ),
        timeout_seconds=settings.webhook_timeout_seconds,
    )


def notify_config(settings: Settings) -> NotifyConfig:
    """Notification channels and links from the settings (docs/notifications.md)."""
    return configure(
        smtp_url=settings.smtp_url,
        webhook_url=settings.notify_webhook_url,
        webhook_secret=settings.notify_webhook_secret,
        public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
        link_secret=settings.link_secret,
        link_ttl_seconds=settings.link_ttl_seconds,
    )
