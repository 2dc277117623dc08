"""The FastAPI app factory."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger.attest.credentials import did_key
from ledger.core.gc import freeze_heap
from ledger.core.keys import Ed25519PrivateKey, public_raw
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.service.sequencer import RemoteWriter
from ledger.service.settings import ExampleKeyRefused, Settings, open_ledger

from . import console, problems
from .deps import AppState
from .limits import RateLimiter
from .routes import (
    admin,
    certificates,
    epcis,
    events,
    log,
    lots,
    parties,
    schemas,
    tiles,
    wellknown,
)

__all__ = ["app_from_env", "create_app"]


def create_app(
    settings: Settings | None = None, ledger: Ledger | None = None, *, fast_path: bool = True
) -> FastAPI:
    """Build the app. With ``ledger`` given, the caller owns it; otherwise the app opens the
    configured database on start-up and closes it on shutdown. ``fast_path=False`` serves
    ``POST /v1/events`` through its FastAPI route (``api.routes.events.EventFastPath``).

    Raises:
        ExampleKeyRefused: example keys configured outside demo mode (when opening).
    """
    settings = settings or Settings()
    owned = ledger is None
    led = ledger if ledger is not None else open_ledger(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        led.writer.bind(asyncio.get_running_loop())  # a sequencer's answers come in there
        if not settings.sequencer:  # with one, the node's sequencer process runs witnessing
            led.start_witnessing()  # spec §5.9: nothing to do without LEDGER_WITNESSES
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
    app.state.ltl.attest_key = _attestation_key(settings)
    if app.state.ltl.attest_key is not None:
        app.state.ltl.attest_did = did_key(public_raw(app.state.ltl.attest_key))
    problems.install(app, page=console.problem_page)
    routers = (events, epcis, lots, parties, log, tiles, certificates, admin, wellknown, schemas)
    for module in routers:
        app.include_router(module.router)
    app.include_router(certificates.public)
    console.install(app)
    schemas.install(app)
    if fast_path:
        app.add_middleware(events.EventFastPath)
    return app


def _attestation_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The certificate signing key (``attest.pem``), or None when none is configured.

    Raises:
        ExampleKeyRefused: the example key outside demo mode.
    """
    try:
        return settings.load_key("attest")
    except ExampleKeyRefused:
        raise
    except LedgerError:
        return None


def app_from_env() -> FastAPI:
    """The app of one worker of ``ledger serve --workers N`` (a uvicorn factory): the settings
    from ``LEDGER_*``, the node's sequencer from ``LEDGER_SEQUENCER``."""
    app = create_app(Settings())
    writer = app.state.ltl.ledger.writer
    if isinstance(writer, RemoteWriter):
        # without its sequencer a worker can only refuse writes: stop (uvicorn's supervisor,
        # if it still runs, is stopping too; if it was killed, nothing else would stop us)
        writer.on_gone = lambda: os.kill(os.getpid(), signal.SIGTERM)
    freeze_heap()
    return app
