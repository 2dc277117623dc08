"""Storage on both databases: schema from Alembic, append-only triggers, atomic writes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ledger.errors import StorageError
from ledger.store import sql
from ledger.store.models import APPEND_ONLY_TABLES
from ledger.store.protocol import (
    AppendBatch,
    CertificateRecord,
    CheckpointRecord,
    EventRecord,
    LotFilter,
    SessionRecord,
    TokenRecord,
)
from ledger.store.sql import SqlStore
from tests.support.scenario import SCRAP, scenario_chain

ROWS = {
    "events": "INSERT INTO events (seq, hash, id, type, actor, time, canonical) "
    "VALUES (0, :b, 'e0', 'party.register', 'op', '2025-01-01T00:00:00Z', :b)",
    "event_lots": "INSERT INTO event_lots (lot, seq) VALUES ('L1', 0)",
    "party_events": "INSERT INTO party_events (party, seq) VALUES ('op', 0)",
    "custody": "INSERT INTO custody (party, lot, seq) VALUES ('op', 'L1', 0)",
    "transform_inputs": "INSERT INTO transform_inputs (seq, input) VALUES (0, 'L2')",
    "lot_states": "INSERT INTO lot_states (lot, seq, custodian, status, data) "
    "VALUES ('L1', 0, 'op', 'held', '{}')",
    "certificates": "INSERT INTO certificates (id, lot, credential, bundle, issued_at) "
    "VALUES ('c1', 'L1', '{}', '{}', 't')",
    "certificate_status": "INSERT INTO certificate_status "
    "(cert_id, status, reason, log_size, recorded_at, recorded_by) "
    "VALUES ('c', 'revoked', 'r', 1, 't', 'op')",
    "nodes": "INSERT INTO nodes (level, idx, hash) VALUES (0, 0, :b)",
    "checkpoints": "INSERT INTO checkpoints (size, root, note, signed_at) "
    "VALUES (1, :b, 'note', '2025-01-01T00:00:00Z')",
    "log_meta": "INSERT INTO log_meta (name, value) VALUES ('log_vkey', 'x.test/log+00+AA')",
    "witness_cosignatures": "INSERT INTO witness_cosignatures (witness, size, line, recorded_at) "
    "VALUES ('w.test+00+AA', 1, 'line', 't')",
}
UPDATES = {
    "events": "UPDATE events SET canonical = :b",
    "event_lots": "UPDATE event_lots SET lot = 'L2'",
    "party_events": "UPDATE party_events SET party = 'x'",
    "custody": "UPDATE custody SET party = 'x'",
    "transform_inputs": "UPDATE transform_inputs SET input = 'x'",
    "lot_states": "UPDATE lot_states SET data = 'forged'",
    "certificates": "UPDATE certificates SET credential = 'forged'",
    "certificate_status": "UPDATE certificate_status SET status = 'valid'",
    "nodes": "UPDATE nodes SET hash = :b",
    "checkpoints": "UPDATE checkpoints SET note = 'forged'",
    "log_meta": "UPDATE log_meta SET value = 'another key'",
    "witness_cosignatures": "UPDATE witness_cosignatures SET line = 'forged'",
}


@pytest.fixture
def store(db_url: str) -> SqlStore:
    s = SqlStore(db_url)
    yield s
    s.close()


def _head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(sql.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def test_schema_comes_from_the_alembic_migration(store: SqlStore) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {
        "alembic_version",
        *APPEND_ONLY_TABLES,
        *("lots", "parties", "keys", "credits", "tokens", "console_sessions"),
    } <= names
    with store.engine.connect() as c:
        version = c.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == _head_revision()
    SqlStore(store.url).close()  # re-opening migrates idempotently


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("statement", ["UPDATE", "DELETE", "TRUNCATE"])
def test_raw_update_delete_and_truncate_are_refused_by_the_database(
    store: SqlStore, table: str, statement: str
) -> None:
    """Every append-only table refuses UPDATE and DELETE on both databases, and TRUNCATE on
    PostgreSQL (SQLite has no TRUNCATE; its ``DELETE FROM t`` is the DELETE case). Before
    migration 0003, ``TRUNCATE certificates`` succeeded on PostgreSQL."""
    with store.engine.begin() as c:
        c.execute(text(ROWS[table]), {"b": b"\x01" * 32})
    truncate = f"TRUNCATE {table}" if store.dialect == "postgresql" else f"DELETE FROM {table}"
    # SQLite's truncate is its DELETE without WHERE ("truncate optimization"): refused the same
    sql = {"UPDATE": UPDATES[table], "DELETE": f"DELETE FROM {table} WHERE 1 = 1"}.get(
        statement, truncate
    )
    with pytest.raises(Exception, match="append-only"), store.engine.begin() as c:
        c.execute(text(sql), {"b": b"\x02" * 32})
    with store.engine.connect() as c:
        assert c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1


def test_every_append_only_table_has_its_test_rows() -> None:
    assert set(ROWS) == set(UPDATES) == set(APPEND_ONLY_TABLES)


def test_a_failing_write_leaves_nothing(store: SqlStore) -> None:
    rec = EventRecord(0, b"\x00" * 32, "e0", b"{}")
    meta = ("party.register", "op", "2025-01-01T00:00:00Z")
    with pytest.raises(StorageError), store.write() as tx:
        tx.append(AppendBatch(events=[rec], meta=[meta], nodes=[(0, 0, b"\x00" * 32)]))
        tx.append(AppendBatch(events=[rec], meta=[meta]))  # the same seq again
    assert store.size() == 0
    assert store.get_nodes([(0, 0)]) == {}


def test_write_round_trip(store: SqlStore) -> None:
    state = scenario_chain().state
    scrap = state.lots[SCRAP]
    moved = dataclasses.replace(scrap, custodian="alus", head="h2")
    account = ("bwm", "s", "Ni", "post_consumer")
    with store.write() as tx:
        tx.append(
            AppendBatch(
                events=[
                    EventRecord(0, b"\x01" * 32, "e0", b"{}"),
                    EventRecord(1, b"\x02" * 32, "e1", b"[]"),
                ],
                meta=[("a", "op", "t"), ("b", "op", "t")],
                lot_index=[("L", 0), ("L", 1), ("M", 1)],
                party_index=[("op", 0)],
                custody=[("bwm", "L", 0)],
                parties={"bwm": state.parties["bwm"]},
                keys={k.kid: k for k in state.keys.values() if k.party == "bwm"},
                lots={SCRAP: scrap},
                credits={account: Decimal("1.5")},
            )
        )
        tx.append(AppendBatch(lots={SCRAP: moved}))  # derived rows are upserted
        tx.insert_checkpoint(CheckpointRecord(2, b"\x03" * 32, "note", "t"))
    assert store.size() == 2
    assert store.lot_seqs("L") == [0, 1]
    assert store.lot_seqs("L", upto=0) == [0]
    assert store.chains(["L", "M", "X"]) == {"L": [0, 1], "M": [1]}
    assert store.party_seqs(["op"]) == [0]
    assert store.custody_lots("bwm") == ["L"]
    assert {k: v.to_dict() for k, v in store.lots([SCRAP, "NOPE"]).items()} == {
        SCRAP: moved.to_dict()
    }
    assert store.parties(["bwm"]) == {"bwm": state.parties["bwm"]}
    assert [
        x.lot for x in store.list_lots(after=None, limit=10, where=LotFilter(custodian="alus"))
    ] == [SCRAP]
    assert store.list_lots(after=None, limit=10, where=LotFilter(custodian="bwm")) == []
    for kept, where in (
        ([SCRAP], LotFilter(material=moved.material, prefix=SCRAP[:4])),
        ([SCRAP], LotFilter(prefix=SCRAP)),
        ([], LotFilter(prefix=SCRAP + "x")),
        ([], LotFilter(material=moved.material + " ")),
    ):
        assert [x.lot for x in store.list_lots(after=None, limit=10, where=where)] == kept
    assert store.list_parties(after=None, limit=10) == [state.parties["bwm"]]
    assert store.credits([account, ("x", "", "Ni", "post_consumer")]) == {account: Decimal("1.5")}
    assert store.events_by_ids(["e1"])["e1"].canonical == b"[]"
    assert store.event_by_hash(b"\x02" * 32).seq == 1  # type: ignore[union-attr]
    assert [r.seq for r in store.iter_events(batch=1)] == [0, 1]
    assert store.latest_checkpoint() == CheckpointRecord(2, b"\x03" * 32, "note", "t")
    # the whole-table reads of fsck: the copied filter columns are named, not positional
    (row,) = store.all_state("lots")
    assert row.key == SCRAP
    assert row.copied == {
        "custodian": "alus",
        "status": scrap.status,
        "material": scrap.material,
        "head": "h2",
    }
    assert store.all_lot_events() == {("L", 0), ("L", 1), ("M", 1)}
    assert store.all_party_events() == {("op", 0)}
    assert store.all_custody() == {("bwm", "L", 0)}
    assert store.all_credits() == {account: "1.5"}
    assert store.event_meta() == {0: ("a", "op", "t"), 1: ("b", "op", "t")}


def test_tokens_and_certificates(store: SqlStore) -> None:
    store.add_token(TokenRecord("h1", "bwm", "partner", "2026-01-01T00:00:00Z"))
    assert store.token("h1") == TokenRecord("h1", "bwm", "partner", "2026-01-01T00:00:00Z")
    assert store.revoke_token("h1") and not store.revoke_token("h1")
    assert store.token("h1") is None
    assert [t.revoked for t in store.tokens()] == [True]
    with pytest.raises(StorageError):
        store.add_token(TokenRecord("h1", "bwm", "partner", "t"))  # a hash is issued once
    cert = CertificateRecord("urn:uuid:1", "L", '{"c":1}', '{"b":1}', "t")
    store.add_certificate(cert)
    assert store.certificate("urn:uuid:1") == cert
    assert store.certificate("urn:uuid:2") is None


def test_console_sessions_are_purged_capped_and_deleted(store: SqlStore) -> None:
    def opened(sid: str, token: str, at: int) -> None:
        record = SessionRecord(sid, token, "csrf-" + sid, at, at + 100)
        store.open_session(record, now_us=at, per_token=2, most=3)

    def live(*sids: str) -> list[bool]:
        return [store.session(s) is not None for s in sids]

    opened("s1", "t1", 10)
    assert store.session("s1") == SessionRecord("s1", "t1", "csrf-s1", 10, 110)
    opened("s2", "t1", 20)
    opened("s3", "t1", 30)  # t1's oldest goes: at most 2 per token
    assert store.session("s1") is None and store.session("s2") is not None
    opened("s4", "t2", 40)
    opened("s5", "t3", 50)  # the oldest of all goes: at most 3
    assert live("s2", "s3", "s4", "s5") == [False, True, True, True]
    opened("s6", "t4", 145)  # s3 and s4 ended at 130 and 140: purged before counting
    assert live("s3", "s4", "s5", "s6") == [False, False, True, True]
    assert store.delete_session("s5") and not store.delete_session("s5")
    assert store.is_empty()  # sessions are not ledger data


def test_log_meta_records_each_name_once(store: SqlStore) -> None:
    assert store.is_empty() and store.log_meta() == {}
    with store.write() as tx:
        assert tx.is_empty()
        tx.add_log_meta({"log_vkey": "a.test/log+01+AA", "demo": "1"})
    assert store.log_meta() == {"log_vkey": "a.test/log+01+AA", "demo": "1"}
    assert not store.is_empty()
    with pytest.raises(StorageError), store.write() as tx:
        tx.add_log_meta({"log_vkey": "another"})  # a name is recorded once
    assert store.log_meta()["log_vkey"] == "a.test/log+01+AA"


@pytest.mark.parametrize("table", ["events", "checkpoints", "tokens", "certificates"])
def test_a_database_with_any_data_is_not_empty(store: SqlStore, table: str) -> None:
    rows = {**ROWS, "tokens": "INSERT INTO tokens VALUES ('h', 'bwm', 'partner', 't', 0)"}
    with store.engine.begin() as c:
        c.execute(text(rows[table]), {"b": b"\x01" * 32})
    assert not store.is_empty()


@pytest.mark.postgres
def test_a_postgresql_write_is_durable_and_holds_the_writers_lock(pg_url: str) -> None:
    """Whatever the connection's default (here ``synchronous_commit=off``), the write
    transaction commits durably, and it holds the advisory lock that serializes writers."""
    assert "options=-csearch_path" in pg_url  # the fixture's, last: one more option
    store = SqlStore(f"{pg_url}%20-csynchronous_commit%3Doff")
    try:
        assert store._query("SHOW synchronous_commit") == [("off",)]
        with store.write() as tx:
            assert tx._query("SHOW synchronous_commit") == [("on",)]
            held = tx._query(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND objid = ?",
                (sql._ADVISORY_LOCK_ID,),
            )
            assert held == [(1,)]
        assert store._query("SHOW synchronous_commit") == [("off",)]  # local to the write
    finally:
        store.close()
