"""The FastAPI app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger.service import Ledger
from ledger.settings import Settings, open_ledger

from . import problems
from .limits import RateLimiter
from .routes import admin, events, log, lots, parties
from .state import AppState

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    """Build the app. With ``ledger`` given, the caller owns it; otherwise the app opens the
    configured database on start-up and closes it on shutdown.

    Raises:
        ExampleKeyRefused: example keys configured outside demo mode (when opening).
    """
    settings = settings or Settings()
    owned = ledger is None
    led = ledger if ledger is not None else open_ledger(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            led.close()

    app = FastAPI(
        title="LTL/1 lot traceability ledger",
        version="1.0",
        description="Signed custody events, hash-chained lots, an RFC 9162 Merkle log with C2SP "
        "checkpoints, and audit bundles that verify offline. Errors are RFC 9457 "
        "problem+json with a `code`.",
        lifespan=lifespan,
    )
    app.state.ltl = AppState(
        ledger=led,
        settings=settings,
        writes=RateLimiter(settings.write_rate, settings.write_burst),
        auth_failures=RateLimiter(
            settings.auth_failures_per_minute / 60.0, settings.auth_failures_per_minute
        ),
    )
    problems.install(app)
    for module in (events, lots, parties, log, admin):
        app.include_router(module.router)
    return app
