"""Merkle node reads on both databases: the upper levels kept in memory give the same nodes
and proofs as the table, a row at the right edge is read again once the tree grows, the kept
rows are bounded, and PostgreSQL reads every range through the primary key."""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import event, text

from ledger.core import merkle
from ledger.store import nodes, sql
from ledger.store.protocol import AppendBatch
from ledger.store.sql import SqlStore


class Tree:
    """Every complete node of a tree grown leaf by leaf, as the writer stores them."""

    def __init__(self) -> None:
        self.range = merkle.CompactRange()
        self.nodes: dict[tuple[int, int], bytes] = {}

    def grow(self, n: int) -> list[tuple[int, int, bytes]]:
        start = self.range.size
        created = self.range.extend(
            hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(start, start + n)
        )
        self.nodes.update(((lv, i), h) for lv, i, h in created)
        return created

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {k: self.nodes[k] for k in keys if k in self.nodes}


def _store_nodes(store: SqlStore, created: list[tuple[int, int, bytes]]) -> None:
    with store.write() as tx:
        tx.append(AppendBatch(nodes=created))


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(db_url)
    yield s
    s.close()


def test_upper_levels_from_memory_give_the_tables_nodes_and_proofs(store: SqlStore) -> None:
    tree = Tree()
    _store_nodes(store, tree.grow(70_000))  # 273 nodes at level 8: two rows there
    rng = random.Random(3)
    keys = [*rng.sample(sorted(tree.nodes), 400), (8, 272), (16, 0), (9, 135)]
    assert store.get_nodes(keys) == tree.get_nodes(keys)
    assert len(store._nodes) > 0  # the upper rows are kept now
    assert store.get_nodes(keys) == tree.get_nodes(keys)  # and give the same hashes
    size = 70_000
    for _ in range(50):
        i, m = rng.randrange(size), rng.randrange(1, size + 1)
        assert merkle.inclusion_proof(i, size, store) == merkle.inclusion_proof(i, size, tree)
        assert merkle.consistency_proof(m, size, store) == merkle.consistency_proof(m, size, tree)
    # keys that are not stored are absent, kept rows or not
    assert store.get_nodes([(8, 273), (8, 300), (3, 10**6), (30, 0)]) == {}


def test_a_row_at_the_right_edge_is_read_again_when_the_tree_grows(store: SqlStore) -> None:
    tree = Tree()
    _store_nodes(store, tree.grow(600))  # level 8: nodes 0 and 1
    assert store.get_nodes([(8, 0), (8, 2)]) == {(8, 0): tree.nodes[(8, 0)]}
    _store_nodes(store, tree.grow(300))  # level 8: node 2 now complete
    got = store.get_nodes([(8, 0), (8, 1), (8, 2)])
    assert got == {k: tree.nodes[k] for k in [(8, 0), (8, 1), (8, 2)]}


def test_kept_rows_are_bounded_and_reused() -> None:
    tree = Tree()
    tree.grow(1 << 12)  # level 8: 16 nodes, level 9: 8, ... one row each
    reads: list[list[nodes.NodeRange]] = []

    def read(ranges: Sequence[nodes.NodeRange]) -> list[tuple[int, int, bytes]]:
        reads.append(list(ranges))
        return [
            (lv, i, h)
            for (lv, i), h in tree.nodes.items()
            for r in ranges
            if lv == r[0] and r[1] <= i <= r[2]
        ]

    cache = nodes.NodeCache(read, max_rows=2)
    assert cache.get_nodes([(8, 3), (0, 5)]) == tree.get_nodes([(8, 3), (0, 5)])
    assert reads == [[(0, 5, 5), (8, 0, 255)]]  # the low node alone, the upper one's row
    assert cache.get_nodes([(8, 7)]) == tree.get_nodes([(8, 7)])
    assert len(reads) == 1  # from memory
    cache.get_nodes([(9, 1)])
    cache.get_nodes([(10, 1)])
    assert len(cache) == 2  # the level-8 row went first (least recently used)
    cache.get_nodes([(8, 7)])
    assert reads[-1] == [(8, 0, 255)]


@pytest.mark.postgres
def test_postgresql_reads_each_range_through_the_primary_key(pg_url: str) -> None:
    s = SqlStore(pg_url)
    try:
        tree = Tree()
        _store_nodes(s, tree.grow(20_000))
        with s.engine.connect() as c:
            c.execute(text("ANALYZE nodes"))
            plan = c.exec_driver_sql(
                "EXPLAIN " + sql._PG_NODES, ([0, 8], [5, 0], [5, 255])
            ).fetchall()
        plan_text = "\n".join(r[0] for r in plan)
        assert "Index Scan using nodes_pkey" in plan_text, plan_text
        assert "Seq Scan on nodes" not in plan_text, plan_text
    finally:
        s.close()


@pytest.fixture
def replica_url() -> Iterator[str]:
    """A second fresh PostgreSQL schema, standing in for a streaming replica of the primary."""
    from tests.conftest import _pg_schema_url

    yield from _pg_schema_url()


@pytest.mark.postgres
def test_nodes_come_from_the_replica_and_what_it_lacks_from_the_primary(
    pg_url: str, replica_url: str
) -> None:
    tree = Tree()
    early = tree.grow(1000)
    late = tree.grow(2000)
    primary = SqlStore(pg_url)
    _store_nodes(primary, early + late)
    primary.close()
    replica = SqlStore(replica_url)  # a replica 1000 leaves behind its primary
    marked = (0, 7)  # one node the replica answers with a mark: who answered shows
    _store_nodes(replica, [(lv, i, b"\xee" * 32 if (lv, i) == marked else h) for lv, i, h in early])
    replica.close()
    store = SqlStore(pg_url, read_url=replica_url)
    try:
        assert store.get_nodes([marked]) == {marked: b"\xee" * 32}  # read from the replica
        assert store.get_nodes([(0, 2500), (1, 1200)]) == tree.get_nodes([(0, 2500), (1, 1200)])
        # the upper rows the replica had narrower are read again once a node past them is asked
        assert store.get_nodes([(8, 1)]) == tree.get_nodes([(8, 1)])
        rng = random.Random(5)
        for _ in range(20):
            i, m = rng.randrange(1000, 3000), rng.randrange(1000, 3001)
            assert merkle.inclusion_proof(i, 3000, store) == merkle.inclusion_proof(i, 3000, tree)
            assert merkle.consistency_proof(m, 3000, store) == merkle.consistency_proof(
                m, 3000, tree
            )
    finally:
        store.close()


@pytest.mark.postgres
def test_a_replica_that_is_down_slows_proofs_and_fails_none(pg_url: str) -> None:
    tree = Tree()
    primary = SqlStore(pg_url)
    _store_nodes(primary, tree.grow(600))
    primary.close()
    store = SqlStore(pg_url, read_url="postgresql://postgres@127.0.0.1:1/none")
    try:
        assert merkle.inclusion_proof(300, 600, store) == merkle.inclusion_proof(300, 600, tree)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_replica_that_hangs_costs_one_bounded_wait_per_period(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica behind a network partition accepts TCP and never answers. Before, every proof
    waited on it without end (no connect timeout), one after another behind the replica's
    connection lock; now an attempt gives up after REPLICA_CONNECT_TIMEOUT, the primary
    answers, and the replica is left alone for REPLICA_RETRY seconds."""
    tree = Tree()
    primary = SqlStore(pg_url)
    _store_nodes(primary, tree.grow(600))
    primary.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(silent.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setattr(sql, "REPLICA_CONNECT_TIMEOUT", 2)
    monkeypatch.setattr(sql, "REPLICA_RETRY", 3.0)
    port = silent.getsockname()[1]
    store = SqlStore(pg_url, read_url=f"postgresql://postgres@127.0.0.1:{port}/none")
    try:
        # four proofs at once: one asks the replica and gives up; the three queued behind it
        # on the replica's connection do not ask again, the primary answers them
        want = merkle.inclusion_proof(300, 600, tree)
        got: list[object] = []
        askers = [
            threading.Thread(target=lambda: got.append(merkle.inclusion_proof(300, 600, store)))
            for _ in range(4)
        ]
        for t in askers:
            t.start()
        for t in askers:
            t.join()
        assert got == [want] * 4
        tried = len(accepted)
        assert tried == 1  # the replica was asked once, and given up on
        for index in range(0, 600, 7):  # other low nodes: the primary answers them all
            assert merkle.inclusion_proof(index, 600, store) == merkle.inclusion_proof(
                index, 600, tree
            )
        assert len(accepted) == tried  # ... without asking the silent replica again
        time.sleep(3.1)
        assert merkle.inclusion_proof(5, 600, store) == merkle.inclusion_proof(5, 600, tree)
        assert len(accepted) > tried  # the period is over: the replica is tried again
    finally:
        store.close()
        silent.close()
        for conn in accepted:
            conn.close()


class _Captured(Exception):
    pass


def _connect_params(url: str) -> dict[str, object]:
    """The parameters the engine would hand psycopg.connect (captured, nothing connected)."""
    engine = sql._make_engine(url, writer=False)
    seen: dict[str, object] = {}

    def capture(dialect: object, rec: object, cargs: object, cparams: dict[str, object]) -> None:
        seen.update(cparams)
        raise _Captured

    event.listen(engine, "do_connect", capture)
    with pytest.raises(_Captured):
        engine.connect()
    return seen


def test_postgres_connections_are_bounded_unless_the_url_says_otherwise() -> None:
    """A database that stops answering must not hang a writer or a request for the kernel's
    TCP timeouts: a connection attempt and a dead peer are given up in seconds."""
    cparams = _connect_params("postgresql://u@db.test/x")
    assert cparams["connect_timeout"] == 10 and cparams["keepalives"] == 1
    assert cparams["keepalives_idle"] == 10
    own = _connect_params("postgresql://u@db.test/x?connect_timeout=60&keepalives_idle=120")
    assert own["connect_timeout"] == "60" and own["keepalives_idle"] == "120"


def test_a_replica_is_refused_beside_sqlite(tmp_path: object) -> None:
    from pydantic import ValidationError

    from ledger.errors import StorageError
    from ledger.service.settings import Settings

    with pytest.raises(StorageError, match="LEDGER_READ_DATABASE_URL"):
        SqlStore(f"sqlite:///{tmp_path}/l.db", read_url="postgresql://postgres@127.0.0.1/x")
    with pytest.raises(ValidationError, match="LEDGER_READ_DATABASE_URL"):
        Settings(database_url="sqlite:///l.db", read_database_url="postgresql://h/x")
    assert Settings(database_url="sqlite:///l.db", read_database_url="").read_database_url is None
