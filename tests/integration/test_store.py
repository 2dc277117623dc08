"""Storage on both databases: schema from Alembic, append-only triggers, atomic writes."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from ledger.errors import StorageError
from ledger.store.base import CheckpointRecord, EventRecord
from ledger.store.models import APPEND_ONLY_TABLES
from ledger.store.sql import SqlStore

ROWS = {
    "events": "INSERT INTO events (seq, hash, id, type, actor, time, canonical) "
    "VALUES (0, :b, 'e0', 'party.register', 'op', '2025-01-01T00:00:00Z', :b)",
    "event_lots": "INSERT INTO event_lots (lot, seq) VALUES ('L1', 0)",
    "party_events": "INSERT INTO party_events (party, seq) VALUES ('op', 0)",
    "custody": "INSERT INTO custody (party, lot, seq) VALUES ('op', 'L1', 0)",
    "certificates": "INSERT INTO certificates (id, lot, credential, bundle, issued_at) "
    "VALUES ('c1', 'L1', '{}', '{}', 't')",
    "nodes": "INSERT INTO nodes (level, idx, hash) VALUES (0, 0, :b)",
    "checkpoints": "INSERT INTO checkpoints (size, root, note, signed_at) "
    "VALUES (1, :b, 'note', '2025-01-01T00:00:00Z')",
}
UPDATES = {
    "events": "UPDATE events SET canonical = :b",
    "event_lots": "UPDATE event_lots SET lot = 'L2'",
    "party_events": "UPDATE party_events SET party = 'x'",
    "custody": "UPDATE custody SET party = 'x'",
    "certificates": "UPDATE certificates SET credential = 'forged'",
    "nodes": "UPDATE nodes SET hash = :b",
    "checkpoints": "UPDATE checkpoints SET note = 'forged'",
}


@pytest.fixture
def store(db_url: str) -> SqlStore:
    s = SqlStore(db_url)
    yield s
    s.close()


def test_schema_comes_from_the_alembic_migration(store: SqlStore) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {"alembic_version", *APPEND_ONLY_TABLES, "lots", "parties", "keys", "credits"} <= names
    with store.engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0002"
    SqlStore(store.url).close()  # re-opening migrates idempotently


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("statement", ["UPDATE", "DELETE"])
def test_raw_update_and_delete_are_refused_by_the_database(
    store: SqlStore, table: str, statement: str
) -> None:
    with store.engine.begin() as c:
        c.execute(text(ROWS[table]), {"b": b"\x01" * 32})
    sql = UPDATES[table] if statement == "UPDATE" else f"DELETE FROM {table}"
    with pytest.raises(Exception, match="append-only"), store.engine.begin() as c:
        c.execute(text(sql), {"b": b"\x02" * 32})
    with store.engine.connect() as c:
        assert c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1


def test_a_failing_write_leaves_nothing(store: SqlStore) -> None:
    rec = EventRecord(0, b"\x00" * 32, "e0", b"{}")
    with pytest.raises(StorageError), store.write() as tx:
        tx.insert_events([rec], [("party.register", "op", "2025-01-01T00:00:00Z")])
        tx.insert_nodes([(0, 0, b"\x00" * 32)])
        tx.insert_events([rec], [("party.register", "op", "2025-01-01T00:00:00Z")])  # dup seq
    assert store.size() == 0
    assert store.get_nodes([(0, 0)]) == {}


def test_write_round_trip(store: SqlStore) -> None:
    with store.write() as tx:
        tx.insert_events(
            [EventRecord(0, b"\x01" * 32, "e0", b"{}"), EventRecord(1, b"\x02" * 32, "e1", b"[]")],
            [("a", "op", "t"), ("b", "op", "t")],
        )
        tx.insert_index("event_lots", [("L", 0), ("L", 1), ("M", 1)])
        tx.insert_index("party_events", [("op", 0)])
        tx.upsert_state("lots", {"L": ("bwm", "held", "Al", "h", '{"a":1}')})
        tx.upsert_state("lots", {"L": ("alus", "held", "Al", "h2", '{"a":2}')})
        tx.upsert_credits({("bwm", "s", "Ni", "post_consumer"): "1.5"})
        tx.insert_checkpoint(CheckpointRecord(2, b"\x03" * 32, "note", "t"))
    assert store.size() == 2
    assert store.lot_seqs("L") == [0, 1]
    assert store.lot_seqs("L", upto=0) == [0]
    assert store.party_seqs(["op"]) == [0]
    assert store.state_rows("lots", ["L"]) == {"L": '{"a":2}'}
    assert store.list_state("lots", after=None, limit=10, where={"custodian": "alus"}) == [
        ("L", '{"a":2}')
    ]
    assert store.credit_rows([("bwm", "s", "Ni", "post_consumer")]) == {
        ("bwm", "s", "Ni", "post_consumer"): "1.5"
    }
    assert store.events_by_ids(["e1"])["e1"].canonical == b"[]"
    assert store.event_by_hash(b"\x02" * 32).seq == 1  # type: ignore[union-attr]
    assert [r.seq for r in store.iter_events(batch=1)] == [0, 1]
    assert store.latest_checkpoint() == CheckpointRecord(2, b"\x03" * 32, "note", "t")
