"""The token lookup made on every API request (issue 8 finding 12): one primary-key read on a
dedicated connection that sees every commit at once, survives a lost connection, and closes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from ledger.errors import StorageError
from ledger.service.tokens import create_token, hash_token, lookup_token
from ledger.store.sql import SqlStore


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two stores over one database, as two server processes have."""
    first, second = SqlStore(db_url), SqlStore(db_url)
    yield first, second
    first.close()
    second.close()


def test_a_revocation_through_one_store_is_seen_by_the_next_lookup_of_another(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = stores
    token = create_token(first, "alus", "partner")
    assert lookup_token(second, token) is not None  # the dedicated connection is open now
    assert first.revoke_token(hash_token(token))
    assert lookup_token(second, token) is None
    fresh = create_token(first, "alus", "auditor")  # and new tokens work at once
    found = lookup_token(second, fresh)
    assert found is not None and found.role == "auditor"


def test_a_lost_connection_is_replaced(stores: tuple[SqlStore, SqlStore]) -> None:
    first, second = stores
    token = create_token(first, "alus", "partner")
    assert lookup_token(second, token) is not None
    if second.dialect == "postgresql":  # the server ends the session, as on a restart
        pid = second._point._conn.dbapi_connection.info.backend_pid
        with first.engine.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    else:
        second._point._conn.dbapi_connection.close()
    assert lookup_token(second, token) is not None


def test_an_unreadable_database_is_a_storage_error(tmp_path: object) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/l.db")
    try:
        with store.engine.begin() as c:
            c.execute(text("DROP TABLE tokens"))
        with pytest.raises(StorageError):
            store.token(hash_token("ltl_x"))
    finally:
        store.close()
    assert store._point._conn is None
