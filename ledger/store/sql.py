"""SQL storage for SQLite (WAL, synchronous=FULL) and PostgreSQL (psycopg), one code path.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` so a commit is fsync'd before it
returns; PostgreSQL keeps its default ``synchronous_commit=on``. Writers are serialized across
threads and processes: SQLite with ``BEGIN IMMEDIATE``, PostgreSQL with a transaction-scoped
advisory lock. The schema comes only from the Alembic migration (``migrate``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..errors import StorageError
from .base import CheckpointRecord, EventRecord
from .models import (
    CheckpointRow,
    CreditRow,
    CustodyRow,
    EventLotRow,
    EventRow,
    KeyRow,
    LotRow,
    NodeRow,
    PartyEventRow,
    PartyRow,
    TokenRow,
)

__all__ = ["SqlStore", "migrate", "normalize_url"]

_EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
_EVENT_LOTS: Table = EventLotRow.__table__  # type: ignore[attr-defined]
_PARTY_EVENTS: Table = PartyEventRow.__table__  # type: ignore[attr-defined]
_NODES: Table = NodeRow.__table__  # type: ignore[attr-defined]
_CHECKPOINTS: Table = CheckpointRow.__table__  # type: ignore[attr-defined]
_STATE: dict[str, Table] = {
    "parties": PartyRow.__table__,  # type: ignore[attr-defined]
    "keys": KeyRow.__table__,  # type: ignore[attr-defined]
    "lots": LotRow.__table__,  # type: ignore[attr-defined]
}
_STATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "parties": ("id", "data"),
    "keys": ("kid", "party", "data"),
    "lots": ("lot", "custodian", "status", "material", "head", "data"),
}
_CREDITS: Table = CreditRow.__table__  # type: ignore[attr-defined]
_INDEX: dict[str, tuple[Table, str]] = {
    "event_lots": (_EVENT_LOTS, "lot"),
    "party_events": (_PARTY_EVENTS, "party"),
}
_CUSTODY: Table = CustodyRow.__table__  # type: ignore[attr-defined]
_ADVISORY_LOCK_ID = 0x4C544C31  # "LTL1"
_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, psycopg.Error)
_CHUNK = 500  # bound on IN (...) list sizes


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and select the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hooks issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _make_engine(url: str, *, writer: bool) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=NullPool if url.endswith(":memory:") else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin_sql))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent).

    Raises:
        StorageError: the migration failed.
    """
    here = Path(__file__).parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(here))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as e:
        raise StorageError(f"schema migration failed: {e}") from e


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _event_record(row: Any) -> EventRecord:
    return EventRecord(seq=row[0], hash=bytes(row[1]), id=row[2], canonical=bytes(row[3]))


_EVENT_COLS = (_EVENTS.c.seq, _EVENTS.c.hash, _EVENTS.c.id, _EVENTS.c.canonical)


class _Reads:
    """Queries shared by the store (fresh connection) and the write transaction."""

    def _conn(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self, fn: Any) -> Any:
        raise NotImplementedError

    # The reads below run inside every write group, so they go straight to the DBAPI cursor:
    # a compiled SQLAlchemy select costs ~100 µs of Python per call, exec_driver_sql ~40 µs,
    # the cursor a few.
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def size(self) -> int:
        rows = self._query("SELECT max(seq) FROM events")
        top = rows[0][0]
        return 0 if top is None else int(top) + 1

    def events_by_ids(self, ids: Sequence[str]) -> dict[str, EventRecord]:
        out: dict[str, EventRecord] = {}
        for chunk in _chunks(list(ids)):
            sql = (
                "SELECT seq, hash, id, canonical FROM events WHERE id IN "
                f"({', '.join('?' * len(chunk))})"
            )
            for row in self._query(sql, chunk):
                rec = _event_record(row)
                out[rec.id] = rec
        return out

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """Complete subtree hashes by (level, index), in ONE indexed query.

        One ``level = ? AND idx IN (...)`` branch per level, joined by UNION ALL: each branch is
        a primary-key lookup (a row-value ``(level, idx) IN`` list would scan the table).
        """
        if not keys:
            return {}
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        parts: list[str] = []
        params: list[int] = []
        for level, idxs in by_level.items():
            parts.append(
                f"SELECT level, idx, hash FROM nodes WHERE level = ? AND idx IN "
                f"({', '.join('?' * len(idxs))})"
            )
            params.extend((level, *idxs))
        rows = self._query(" UNION ALL ".join(parts), params)
        return {(lv, i): bytes(h) for lv, i, h in rows}

    def state_rows(self, table: str, keys: Sequence[str]) -> dict[str, str]:
        pk = _STATE_COLUMNS[table][0]
        out: dict[str, str] = {}
        for chunk in _chunks(list(keys)):
            marks = ", ".join("?" * len(chunk))
            for k, data in self._query(
                f"SELECT {pk}, data FROM {table} WHERE {pk} IN ({marks})", chunk
            ):
                out[k] = data
        return out

    def credit_rows(
        self, accounts: Sequence[tuple[str, str, str, str]]
    ) -> dict[tuple[str, str, str, str], str]:
        if not accounts:
            return {}
        t = _CREDITS
        cols = (t.c.party, t.c.site, t.c.element, t.c.category)

        def q(c: Connection) -> dict[tuple[str, str, str, str], str]:
            out: dict[tuple[str, str, str, str], str] = {}
            for chunk in _chunks(list(accounts)):
                cond = or_(
                    *(and_(*(col == v for col, v in zip(cols, a, strict=True))) for a in chunk)
                )
                for p, s, e, k, bal in c.execute(select(*cols, t.c.balance).where(cond)):
                    out[(p, s, e, k)] = bal
            return out

        return dict(self._run(q))

    def latest_checkpoint(self) -> CheckpointRecord | None:
        t = _CHECKPOINTS
        stmt = (
            select(t.c.size, t.c.root, t.c.note, t.c.signed_at).order_by(t.c.size.desc()).limit(1)
        )
        row = self._run(lambda c: c.execute(stmt).first())
        return None if row is None else CheckpointRecord(row[0], bytes(row[1]), row[2], row[3])


class _Txn(_Reads):
    """The writer's transaction; every statement runs on one connection."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self._c = conn
        self._dialect = dialect
        self._cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def _run(self, fn: Any) -> Any:
        return fn(self._c)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._dialect == "postgresql":
            sql = sql.replace("?", "%s")
        self._cur.execute(sql, tuple(params))
        return list(self._cur.fetchall())

    def _many(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        # DBAPI executemany: the append path writes thousands of rows per group, and
        # SQLAlchemy's per-statement and per-row processing would cost more than the inserts.
        if params:
            if self._dialect == "postgresql":
                sql = sql.replace("?", "%s")
            self._cur.executemany(sql, params)

    def insert_events(
        self, rows: Iterable[EventRecord], types: Sequence[tuple[str, str, str]]
    ) -> None:
        self._many(
            "INSERT INTO events (seq, hash, id, type, actor, time, canonical) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (r.seq, r.hash, r.id, t[0], t[1], t[2], r.canonical)
                for r, t in zip(rows, types, strict=True)
            ],
        )

    def insert_index(self, table: str, pairs: Iterable[tuple[str, int]]) -> None:
        _, col = _INDEX[table]
        self._many(f"INSERT INTO {table} ({col}, seq) VALUES (?, ?)", list(pairs))

    def insert_custody(self, rows: Iterable[tuple[str, str, int]]) -> None:
        self._many("INSERT INTO custody (party, lot, seq) VALUES (?, ?, ?)", list(rows))

    def insert_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        self._many("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", list(nodes))

    def _upsert(
        self, table: str, cols: Sequence[str], n_pk: int, params: list[tuple[Any, ...]]
    ) -> None:
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols[n_pk:])
        self._many(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT ({', '.join(cols[:n_pk])}) DO UPDATE SET {sets}",
            params,
        )

    def upsert_state(self, table: str, rows: Mapping[str, tuple[str, ...]]) -> None:
        self._upsert(table, _STATE_COLUMNS[table], 1, [(k, *vals) for k, vals in rows.items()])

    def upsert_credits(self, rows: Mapping[tuple[str, str, str, str], str]) -> None:
        self._upsert(
            "credits",
            ("party", "site", "element", "category", "balance"),
            4,
            [(*account, bal) for account, bal in rows.items()],
        )

    def insert_checkpoint(self, record: CheckpointRecord) -> None:
        self._many(
            "INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)",
            [(record.size, record.root, record.note, record.signed_at)],
        )


class SqlStore(_Reads):
    """SQLite or PostgreSQL storage behind the :class:`ledger.store.base.Store` interface.

    Args:
        url: SQLAlchemy URL (``sqlite:///path.db`` or ``postgresql://...``).
        migrate_schema: run the Alembic migration on open (default).
    """

    def __init__(self, url: str, *, migrate_schema: bool = True) -> None:
        self.url = normalize_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        try:
            self._engine = _make_engine(self.url, writer=False)
            self._writer = (
                _make_engine(self.url, writer=True) if self.dialect == "sqlite" else self._engine
            )
            if migrate_schema:
                migrate(self._writer)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot open database {self.url}: {e}") from e
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self._engine

    def _run(self, fn: Any) -> Any:
        try:
            with self._engine.connect() as c:
                return fn(c)
        except SQLAlchemyError as e:
            raise StorageError(f"database read failed: {e}") from e

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        try:
            with self._engine.connect() as c:
                cur = c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cur.execute(sql, tuple(params))
                    return list(cur.fetchall())
                finally:
                    cur.close()
        except _ERRORS as e:
            raise StorageError(f"database read failed: {e}") from e

    @contextmanager
    def write(self) -> Iterator[_Txn]:
        """The serialized, atomic write transaction; commits (durably) on normal exit.

        Raises:
            StorageError: the database refused or failed; nothing was written.
        """
        with self._lock:
            try:
                with self._writer.begin() as conn:
                    if self.dialect == "postgresql":
                        # durable whatever the server's or role's default says
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = on")
                        conn.execute(
                            select(func.pg_advisory_xact_lock(bindparam("k"))),
                            {"k": _ADVISORY_LOCK_ID},
                        )
                    yield _Txn(conn, self.dialect)
            except _ERRORS as e:
                raise StorageError(f"write transaction failed, nothing was written: {e}") from e

    def events_by_seqs(self, seqs: Sequence[int]) -> list[EventRecord]:
        def q(c: Connection) -> list[EventRecord]:
            out: list[EventRecord] = []
            for chunk in _chunks(sorted(set(seqs))):
                out.extend(
                    _event_record(r)
                    for r in c.execute(select(*_EVENT_COLS).where(_EVENTS.c.seq.in_(chunk)))
                )
            out.sort(key=lambda r: r.seq)
            return out

        return list(self._run(q)) if seqs else []

    def event_by_hash(self, h: bytes) -> EventRecord | None:
        row = self._run(
            lambda c: c.execute(select(*_EVENT_COLS).where(_EVENTS.c.hash == h)).first()
        )
        return None if row is None else _event_record(row)

    def chains(self, lots: Sequence[str]) -> dict[str, list[int]]:
        """The log indexes on each lot's chain, in order, for many lots at once."""
        out: dict[str, list[int]] = {}
        for chunk in _chunks(list(lots)):
            marks = ", ".join("?" * len(chunk))
            for lot, seq in self._query(
                f"SELECT lot, seq FROM event_lots WHERE lot IN ({marks})", chunk
            ):
                out.setdefault(str(lot), []).append(int(seq))
        for seqs in out.values():
            seqs.sort()
        return out

    def lot_seqs(self, lot: str, upto: int | None = None) -> list[int]:
        stmt = select(_EVENT_LOTS.c.seq).where(_EVENT_LOTS.c.lot == lot)
        if upto is not None:
            stmt = stmt.where(_EVENT_LOTS.c.seq <= upto)
        return [
            int(s)
            for (s,) in self._run(lambda c: c.execute(stmt.order_by(_EVENT_LOTS.c.seq)).all())
        ]

    def party_seqs(self, parties: Sequence[str], upto: int | None = None) -> list[int]:
        if not parties:
            return []
        stmt = select(_PARTY_EVENTS.c.seq).where(_PARTY_EVENTS.c.party.in_(list(parties)))
        if upto is not None:
            stmt = stmt.where(_PARTY_EVENTS.c.seq <= upto)
        return sorted({int(s) for (s,) in self._run(lambda c: c.execute(stmt).all())})

    def add_token(self, token_hash: str, party: str, role: str, created_at: str) -> None:
        """Store a new API token (its SHA-256 only)."""
        t = TokenRow.__table__  # type: ignore[attr-defined]
        try:
            with self._engine.begin() as c:
                c.execute(
                    insert(t),
                    {
                        "token_hash": token_hash,
                        "party": party,
                        "role": role,
                        "created_at": created_at,
                        "revoked": 0,
                    },
                )
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store the token: {e}") from e

    def add_certificate(
        self, cert_id: str, lot: str, credential: str, bundle: str, issued_at: str
    ) -> None:
        """Store an issued certificate and its evidence bundle (append-only)."""
        try:
            with self._engine.begin() as c:
                c.exec_driver_sql(
                    "INSERT INTO certificates (id, lot, credential, bundle, issued_at) VALUES "
                    + ("(?, ?, ?, ?, ?)" if self.dialect == "sqlite" else "(%s, %s, %s, %s, %s)"),
                    (cert_id, lot, credential, bundle, issued_at),
                )
        except _ERRORS as e:
            raise StorageError(f"cannot store the certificate: {e}") from e

    def certificate(self, cert_id: str) -> tuple[str, str] | None:
        """(credential JSON, bundle JSON) of an issued certificate, or None."""
        rows = self._query("SELECT credential, bundle FROM certificates WHERE id = ?", (cert_id,))
        return None if not rows else (str(rows[0][0]), str(rows[0][1]))

    def token(self, token_hash: str) -> tuple[str, str] | None:
        """(party, role) of a live token by its SHA-256, or None."""
        t = TokenRow.__table__  # type: ignore[attr-defined]
        stmt = select(t.c.party, t.c.role).where(t.c.token_hash == token_hash, t.c.revoked == 0)
        row = self._run(lambda c: c.execute(stmt).first())
        return None if row is None else (str(row[0]), str(row[1]))

    def tokens(self) -> list[tuple[str, str, str, str, bool]]:
        """(token hash, party, role, created_at, revoked) of every token ever issued."""
        rows = self._query(
            "SELECT token_hash, party, role, created_at, revoked FROM tokens ORDER BY created_at"
        )
        return [(str(h), str(p), str(r), str(c), bool(v)) for h, p, r, c, v in rows]

    def revoke_token(self, token_hash: str) -> bool:
        """Revoke a token by its hash; False when there is no such live token."""
        try:
            with self._engine.begin() as c:
                sql = "UPDATE tokens SET revoked = 1 WHERE token_hash = ? AND revoked = 0"
                if self.dialect == "postgresql":
                    sql = sql.replace("?", "%s")
                return bool(c.exec_driver_sql(sql, (token_hash,)).rowcount)
        except _ERRORS as e:
            raise StorageError(f"cannot revoke the token: {e}") from e

    def custody_lots(self, party: str) -> list[str]:
        """Lots ``party`` holds, has held, or has had shipped to it."""
        stmt = select(_CUSTODY.c.lot).where(_CUSTODY.c.party == party).distinct()
        return sorted(str(x) for (x,) in self._run(lambda c: c.execute(stmt).all()))

    def checkpoint_at(self, size: int) -> CheckpointRecord | None:
        t = _CHECKPOINTS
        stmt = select(t.c.size, t.c.root, t.c.note, t.c.signed_at).where(t.c.size == size)
        row = self._run(lambda c: c.execute(stmt).first())
        return None if row is None else CheckpointRecord(row[0], bytes(row[1]), row[2], row[3])

    def checkpoint_sizes(self) -> list[int]:
        t = _CHECKPOINTS
        return [
            int(s)
            for (s,) in self._run(lambda c: c.execute(select(t.c.size).order_by(t.c.size)).all())
        ]

    def list_state(
        self, table: str, *, after: str | None, limit: int, where: Mapping[str, str] | None = None
    ) -> list[tuple[str, str]]:
        t = _STATE[table]
        pk = t.c[_STATE_COLUMNS[table][0]]
        stmt = select(pk, t.c.data)
        if after is not None:
            stmt = stmt.where(pk > after)
        for col, value in (where or {}).items():
            stmt = stmt.where(t.c[col] == value)
        stmt = stmt.order_by(pk).limit(limit)
        return [(k, d) for k, d in self._run(lambda c: c.execute(stmt).all())]

    def iter_events(self, start: int = 0, batch: int = 10_000) -> Iterator[EventRecord]:
        seq = start
        while True:
            stmt = (
                select(*_EVENT_COLS)
                .where(_EVENTS.c.seq >= seq)
                .order_by(_EVENTS.c.seq)
                .limit(batch)
            )
            rows = self._run(lambda c, s=stmt: c.execute(s).all())
            if not rows:
                return
            for r in rows:
                yield _event_record(r)
            seq = int(rows[-1][0]) + 1

    def event_meta(self) -> list[tuple[Any, ...]]:
        """(seq, type, actor, time) of every event: the columns copied out of the event."""
        return self._query("SELECT seq, type, actor, time FROM events")

    def all_rows(self, table: str) -> list[tuple[Any, ...]]:
        t = SQLModelMetadata.tables[table]
        return [tuple(r) for r in self._run(lambda c: c.execute(select(t)).all())]

    def close(self) -> None:
        self._engine.dispose()
        if self._writer is not self._engine:
            self._writer.dispose()


from sqlmodel import SQLModel as _SQLModel  # noqa: E402

SQLModelMetadata = _SQLModel.metadata
