"""Shared fixtures: a database URL per backend (SQLite always; PostgreSQL when configured), and
the browser plugin (``tests/support/browser.py``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

#: fixtures of the browser tests: ``browser`` (headless Chromium), ``artifacts``
pytest_plugins = ["tests.support.browser"]

PG_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL")
REQUIRE_PG = bool(os.environ.get("LEDGER_REQUIRE_POSTGRES"))


def _pg_schema_url() -> Iterator[str]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("LEDGER_REQUIRE_POSTGRES is set but LEDGER_TEST_POSTGRES_URL is not")
        pytest.skip(
            "PostgreSQL tests SKIPPED: LEDGER_TEST_POSTGRES_URL is unset "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test); scripts/test sets it"
        )
    import psycopg

    base = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as e:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {base} is unreachable: {e}")
        pytest.skip(f"PostgreSQL tests SKIPPED: {base} is unreachable: {e}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database URL, for what only PostgreSQL can show (mark the test
    ``postgres``)."""
    yield from _pg_schema_url()
