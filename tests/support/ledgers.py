"""Helpers for integration tests: open a ledger on a URL, load the scenario, tamper with rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from ledger.core.checkpoint import Signer
from ledger.core.rules import RuleConfig
from ledger.service import Ledger
from ledger.store.sql import WRITE_LOCK_WAIT, SqlStore
from tests.support.scenario import private_key, scenario_events

ORIGIN = "ltl.test/log"
#: where the tests' ledgers say strangers reach them (certificate ids, status lists)
PUBLIC_URL = "https://ledger.test"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def log_signer() -> Signer:
    return Signer(ORIGIN, private_key("log"))


#: The scenario replays signed history (2025) into ledgers whose clock is NOW (2026): no
#: back-dating window (tests of the window pass their own config).
HISTORY = RuleConfig(max_past_seconds=None)


def open_ledger(url: str, *, lock_wait: float = WRITE_LOCK_WAIT, **kw: Any) -> Ledger:
    """A ledger on ``url`` (``lock_wait``: the store's wait for the writers' lock, seconds)."""
    kw.setdefault("config", HISTORY)
    store = SqlStore(url, lock_wait=lock_wait)
    return Ledger(store, log_signer=log_signer(), origin=ORIGIN, clock=lambda: NOW, **kw)


def scenario_ledger(url: str, *, lock_wait: float = WRITE_LOCK_WAIT) -> Ledger:
    ledger = open_ledger(url, lock_wait=lock_wait)
    for ev in scenario_events():
        ledger.append(ev)
    return ledger


def tamper(store: SqlStore, sql: str, params: Mapping[str, Any] | None = None) -> None:
    """Run SQL as a malicious operator with database access: append-only triggers bypassed."""
    with store.engine.begin() as c:
        if store.dialect == "sqlite":
            names = c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='trigger'")
            for (name,) in names.all():
                c.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")
        c.execute(text(sql), dict(params or {}))


def dump(store: SqlStore, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table, as a malicious operator (or a snapshot) sees it."""
    with store.engine.connect() as c:
        return [tuple(r) for r in c.execute(text(f"SELECT * FROM {table}"))]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the app factory produces (it does not depend on the data)."""
    import tempfile

    from api.app import create_app
    from ledger.service.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:  # (an in-memory SQLite is one per connection)
        ledger = open_ledger(f"sqlite:///{scratch}/openapi.db")
        try:
            return create_app(Settings(origin=ORIGIN), ledger=ledger).openapi()
        finally:
            ledger.close()
