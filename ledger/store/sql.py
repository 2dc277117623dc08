"""SQL storage for SQLite (WAL, synchronous=FULL) and PostgreSQL (psycopg), one code path.

The table models (``ledger.store.models``) are the schema, and the statements here take their
column lists from them. The rows the store receives are named records whose fields must be the
columns of their table, in order (``EventRows``' records, ``EventRecord`` + ``EventMeta``,
checkpoints, tokens, certificates, Merkle nodes; console sessions, in ``sessions.py``): that is
asserted when the module is imported, so a column added to a model without its record fails at
once, not in production. A derived table is its key column, the record members copied into
columns for filtering, and ``data`` (the record as JSON), in that order.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` so a commit is fsync'd before it
returns; PostgreSQL keeps its default ``synchronous_commit=on``. Writers are serialized across
threads and processes: SQLite with ``BEGIN IMMEDIATE``, PostgreSQL with a transaction-scoped
advisory lock. The schema comes only from the Alembic migrations (``migrate``), which run under
the same lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

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
    or_,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..core.rules import Account, Key, Lot, Party
from ..core.visibility import InputRow
from ..errors import StorageError, WriterBusy
from .models import (
    CertificateRow,
    CertificateStatusRow,
    CheckpointRow,
    CreditRow,
    CustodyRow,
    EventLotRow,
    EventRow,
    KeyRow,
    LogMetaRow,
    LotRow,
    LotStateRow,
    NodeRow,
    PartyEventRow,
    PartyRow,
    TokenRow,
    TransformInputRow,
    VisibilityRow,
    WitnessCosignatureRow,
)
from .nodes import NodeCache, NodeRange
from .protocol import (
    ALL_LOTS,
    AppendBatch,
    CertificateRecord,
    CertificateStatusRecord,
    CheckpointRecord,
    CosignatureRecord,
    Custody,
    EventMeta,
    EventRecord,
    LotEvent,
    LotFilter,
    PartyEvent,
    StateRow,
    TokenRecord,
)
from .sessions import PointReader, SessionQueries

__all__ = ["SqlStore", "migrate", "normalize_url", "read_replica_refusal"]

_EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
_EVENT_LOTS: Table = EventLotRow.__table__  # type: ignore[attr-defined]
_PARTY_EVENTS: Table = PartyEventRow.__table__  # type: ignore[attr-defined]
_NODES: Table = NodeRow.__table__  # type: ignore[attr-defined]
_CHECKPOINTS: Table = CheckpointRow.__table__  # type: ignore[attr-defined]
_CREDITS: Table = CreditRow.__table__  # type: ignore[attr-defined]
_CUSTODY: Table = CustodyRow.__table__  # type: ignore[attr-defined]
_TOKENS: Table = TokenRow.__table__  # type: ignore[attr-defined]
_INPUTS: Table = TransformInputRow.__table__  # type: ignore[attr-defined]
_STATES: Table = LotStateRow.__table__  # type: ignore[attr-defined]
_VISIBILITY: Table = VisibilityRow.__table__  # type: ignore[attr-defined]
_LOG_META: Table = LogMetaRow.__table__  # type: ignore[attr-defined]
_log = logging.getLogger(__name__)
_ADVISORY_LOCK_ID = 0x4C544C31  # "LTL1"
_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, psycopg.Error)
_CHUNK = 500  # bound on IN (...) list sizes
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


class _Record(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


_R = TypeVar("_R", bound=_Record)


def _names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns)


def _insert_sql(table: Table) -> str:
    cols = _names(table)
    return f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


def _upsert_sql(table: Table, n_key: int) -> str:
    cols = _names(table)
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[n_key:])
    return f"{_insert_sql(table)} ON CONFLICT ({', '.join(cols[:n_key])}) DO UPDATE SET {sets}"


class _Derived(Generic[_R]):
    """A derived table (``parties``, ``keys``, ``lots``): key, copied members, ``data``."""

    def __init__(self, table: Table, parse: Callable[[Mapping[str, Any]], _R]) -> None:
        cols = _names(table)
        if cols[-1] != "data" or len(table.primary_key.columns) != 1:  # pragma: no cover
            raise AssertionError(f"{table.name}: key column first, data last")
        self.table = table
        self.name = str(table.name)
        self.key = cols[0]
        self.copied = cols[1:-1]
        self.upsert = _upsert_sql(table, 1)
        self._parse: Callable[[Mapping[str, Any]], _R] = parse

    def row(self, key: str, record: _R) -> tuple[Any, ...]:
        # ``to_dict`` builds members in a fixed order: no sorting needed
        data = record.to_dict()
        return (key, *(data[c] for c in self.copied), _ENCODER.encode(data))

    def parse(self, data: str) -> _R:
        return self._parse(json.loads(data))


_PARTIES: _Derived[Party] = _Derived(PartyRow.__table__, Party.from_dict)  # type: ignore[attr-defined]
_KEYS: _Derived[Key] = _Derived(KeyRow.__table__, Key.from_dict)  # type: ignore[attr-defined]
_LOTS: _Derived[Lot] = _Derived(LotRow.__table__, Lot.from_dict)  # type: ignore[attr-defined]
_DERIVED: dict[str, _Derived[Any]] = {d.name: d for d in (_PARTIES, _KEYS, _LOTS)}
_CREDIT_KEY = _names(_CREDITS)[:-1]  # party, site, element, category (then balance)


_CERTIFICATES: Table = CertificateRow.__table__  # type: ignore[attr-defined]
_CERT_STATUS: Table = CertificateStatusRow.__table__  # type: ignore[attr-defined]
_COSIGNATURES: Table = WitnessCosignatureRow.__table__  # type: ignore[attr-defined]
#: table -> the fields of the rows handed to the store for it, in the order they are written
_ROW_FIELDS: dict[Table, tuple[str, ...]] = {
    _EVENTS: ("seq", "hash", "id", *EventMeta._fields, "canonical"),
    _EVENT_LOTS: LotEvent._fields,
    _PARTY_EVENTS: PartyEvent._fields,
    _CUSTODY: Custody._fields,
    _INPUTS: InputRow._fields,
    _STATES: ("lot", "seq", "custodian", "status", "data"),  # (lot, seq) + the Lot's members
    _VISIBILITY: ("party", "lot", "upto"),
    _NODES: ("level", "idx", "hash"),  # merkle.CompactRange.append's (level, index, hash)
    _CHECKPOINTS: tuple(f.name for f in dataclasses.fields(CheckpointRecord)),
    _TOKENS: ("token_hash", "party", "role", "created_at", "revoked"),  # TokenRecord + its hash
    _CERTIFICATES: tuple(f.name for f in dataclasses.fields(CertificateRecord)),
    _CERT_STATUS: tuple(f.name for f in dataclasses.fields(CertificateStatusRecord)),
    _COSIGNATURES: tuple(f.name for f in dataclasses.fields(CosignatureRecord)),
    _CREDITS: ("party", "site", "element", "category", "balance"),  # Account + balance
    _LOG_META: ("name", "value"),  # one item of the mapping ``log_meta()`` returns
}
for _table, _fields in _ROW_FIELDS.items():
    if _names(_table) != _fields:  # pragma: no cover - a model changed without its record
        raise AssertionError(f"{_table.name} columns {_names(_table)} != row fields {_fields}")

_SQL_EVENT = _insert_sql(_EVENTS)
_SQL_LOT_EVENTS = _insert_sql(_EVENT_LOTS)
_SQL_PARTY_EVENTS = _insert_sql(_PARTY_EVENTS)
_SQL_CUSTODY = _insert_sql(_CUSTODY)
_SQL_INPUTS = _insert_sql(_INPUTS)
_SQL_STATES = _insert_sql(_STATES)
_SQL_VISIBILITY = _upsert_sql(_VISIBILITY, 2)
_SQL_NODES = _insert_sql(_NODES)
_PG_NODES = (  # LATERAL + LIMIT: an index range scan per range (a plain join plans a hash join)
    "SELECT n.level, n.idx, n.hash FROM unnest(%s::integer[], %s::bigint[], %s::bigint[]) "
    "AS k(level, first, last) CROSS JOIN LATERAL (SELECT level, idx, hash FROM nodes "
    "WHERE level = k.level AND idx BETWEEN k.first AND k.last LIMIT k.last - k.first + 1) n"
)
#: seconds a writer waits for the writers' lock (SQLite: ``busy_timeout``) before it gives up
#: with ``WriterBusy``: a stalled writer (a node frozen mid-group, a maintenance command)
#: makes the others refuse their groups at once, never queue forever behind it
WRITE_LOCK_WAIT = 30.0


def _pg_write_begin(wait: float) -> str:
    """Durable whatever the server's or role's default says, a bounded wait, and the writers'
    lock: one round trip (no parameters: psycopg sends it as one simple query, in order)."""
    return (
        "SET LOCAL synchronous_commit = on; "
        f"SET LOCAL lock_timeout = '{max(1, round(wait * 1000))}ms'; "
        f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_ID})"
    )


_SQL_CHECKPOINT = _insert_sql(_CHECKPOINTS)
_SQL_CERTIFICATE = _insert_sql(_CERTIFICATES) + " ON CONFLICT DO NOTHING"
_SQL_CERT_STATUS = _insert_sql(_CERT_STATUS) + " ON CONFLICT DO NOTHING"
_SQL_TOKEN = _insert_sql(_TOKENS)
_SQL_COSIGNATURE = _insert_sql(_COSIGNATURES) + " ON CONFLICT DO NOTHING"
_SQL_LOG_META = _insert_sql(_LOG_META)
#: the tables that hold anything a ledger ever wrote (derived tables follow from events)
_DATA_TABLES = (_EVENTS, _CHECKPOINTS, _TOKENS, _CERTIFICATES, _CERT_STATUS, _LOG_META)
_SQL_CREDITS = _upsert_sql(_CREDITS, len(_CREDIT_KEY))


def _select(table: Table, where: str = "") -> str:
    """``SELECT <every column, in model order> FROM table [WHERE ...]``."""
    return f"SELECT {', '.join(_names(table))} FROM {table.name}{where and ' WHERE ' + where}"


_SQL_LIVE_TOKEN = _select(_TOKENS, "token_hash = ? AND revoked = 0")


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and select the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def read_replica_refusal(url: str, read_url: str | None) -> str | None:
    """Why ``read_url`` cannot be a read replica of the database at ``url`` (None: it can)."""
    if read_url is None or all(normalize_url(u).startswith("postgresql") for u in (url, read_url)):
        return None
    return (
        "LEDGER_READ_DATABASE_URL is a streaming replica of a PostgreSQL primary; "
        "LEDGER_DATABASE_URL and LEDGER_READ_DATABASE_URL must both be postgresql:// "
        "URLs (unset LEDGER_READ_DATABASE_URL on SQLite)"
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, wait: float = WRITE_LOCK_WAIT) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hooks issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={max(1, round(wait * 1000))}")
    tries = max(1, round(wait * 50))  # 20 ms apart: as long as busy_timeout
    for attempt in range(tries):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as e:
            # Switching a new database file to WAL needs it alone, and SQLite answers "locked"
            # at once instead of waiting: several servers opening the same new file at the
            # same moment would fail (tests/store/test_migrate.py). Wait, as for any lock.
            if "locked" not in str(e) or attempt == tries - 1:
                raise
            time.sleep(0.02)
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _make_engine(
    url: str, *, writer: bool, wait: float = WRITE_LOCK_WAIT, connect_timeout: int | None = None
) -> Engine:
    """An engine for ``url``; ``wait``: seconds a SQLite connection waits for a lock;
    ``connect_timeout``: seconds a PostgreSQL connection attempt may take (default 10)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": wait},
            poolclass=NullPool if url.endswith(":memory:") else None,
        )
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, wait=wait))
        begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin_sql))
        return engine
    given = make_url(url).query  # what the operator put in the URL wins
    bounds = {k: v for k, v in _PG_CONNECT_BOUNDS.items() if k not in given}
    if connect_timeout is not None and "connect_timeout" not in given:
        bounds["connect_timeout"] = connect_timeout
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=bounds
    )


#: libpq parameters that keep a database that stopped answering from hanging a writer or a
#: request: a connection attempt gives up after 10 s, and TCP keepalives (and, for data sent
#: but never acknowledged, the user timeout) find a dead peer (a network partition
#: mid-statement) in about 25-30 s instead of the kernel's minutes to hours
_PG_CONNECT_BOUNDS: dict[str, int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms: data sent but never acknowledged
}


def _lock_wait_over(e: BaseException) -> bool:
    """True for the database giving up waiting for a lock (PostgreSQL ``lock_not_available``,
    SQLite ``database is locked`` after ``busy_timeout``), however the driver error is wrapped."""
    orig = getattr(e, "orig", None) or e
    if isinstance(orig, psycopg.errors.LockNotAvailable):
        return True
    return isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)


def open_existing(url: str) -> SqlStore:
    """The store of a database that already holds a ledger (the schema ``ledger init`` or
    ``ledger serve`` made; its log may still be empty), never creating, migrating or writing a
    schema: for commands that only add to a ledger (tokens), where a mistyped URL must not
    silently become a new, empty ledger.

    Raises:
        StorageError: no such database, or no ledger in it (the message says what to do).
    """
    try:
        parsed = make_url(normalize_url(url))
        shown = parsed.render_as_string(hide_password=True)  # reads the port: may raise
    except (ArgumentError, ValueError) as e:
        raise StorageError(f"LEDGER_DATABASE_URL is not a database URL: {e}") from e
    path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    missing = (
        f"no ledger in the database {shown}: run `ledger init` (or `ledger serve`) on it "
        "first, or correct LEDGER_DATABASE_URL"
    )
    if path is not None and not _sqlite_has_log(path):
        raise StorageError(missing)
    store = SqlStore(url, migrate_schema=False)
    try:
        store.size()
    except StorageError as e:
        store.close()
        if isinstance(e.__cause__, psycopg.errors.UndefinedTable):  # not a ledger's schema
            raise StorageError(missing) from None
        raise  # unreachable, refused, a wrong password: its own message
    return store


def _sqlite_has_log(path: str) -> bool:
    """Whether the SQLite file at ``path`` has the log's table (read-only: opening a file for
    the store would set its journal mode, i.e. write to it)."""
    if path in ("", ":memory:") or not Path(path).is_file():
        return False
    try:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as c:
            c.execute("SELECT 1 FROM events LIMIT 0")
            return True
    except sqlite3.Error:  # not a database, or no events table
        return False


#: Alembic's migration context is process-global: one migration at a time in this process
_MIGRATION_LOCK = threading.Lock()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent).

    Concurrent first starts are safe: the migration runs in one transaction that holds the
    writers' lock (PostgreSQL: the advisory lock, SQLite: ``BEGIN IMMEDIATE`` on the writer
    engine), so one process migrates while the others wait and then find the schema at head.

    Raises:
        StorageError: the migration failed.
    """
    here = Path(__file__).parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(here))
    try:
        with _MIGRATION_LOCK, engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # before Alembic reads the schema's version, so a waiter sees the winner's work
                conn.execute(
                    select(func.pg_advisory_xact_lock(bindparam("k"))), {"k": _ADVISORY_LOCK_ID}
                )
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as e:
        raise StorageError(f"schema migration failed: {e}") from e


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _event_record(row: Any) -> EventRecord:
    return EventRecord(seq=row[0], hash=bytes(row[1]), id=row[2], canonical=bytes(row[3]))


def _checkpoint_record(row: Any) -> CheckpointRecord:
    return CheckpointRecord(int(row[0]), bytes(row[1]), str(row[2]), str(row[3]))


_EVENT_COLS = (_EVENTS.c.seq, _EVENTS.c.hash, _EVENTS.c.id, _EVENTS.c.canonical)


class _Reads:
    """Queries shared by the store (fresh connection) and the write transaction.

    The reads below run inside every write group, so they go straight to the DBAPI cursor: a
    compiled SQLAlchemy select costs ~100 µs of Python per call, exec_driver_sql ~40 µs, the
    cursor a few.
    """

    dialect: str  # "sqlite" or "postgresql"

    def _run(self, fn: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    def size(self) -> int:
        rows = self._query("SELECT max(seq) FROM events")
        top = rows[0][0]
        return 0 if top is None else int(top) + 1

    def events_by_ids(self, ids: Sequence[str]) -> dict[str, EventRecord]:
        out: dict[str, EventRecord] = {}
        for chunk in _chunks(list(ids)):
            sql = f"SELECT seq, hash, id, canonical FROM events WHERE id IN ({_marks(len(chunk))})"
            for row in self._query(sql, chunk):
                rec = _event_record(row)
                out[rec.id] = rec
        return out

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """Complete subtree hashes by (level, index), in ONE indexed query."""
        rows = self._node_ranges([(lv, i, i) for lv, i in keys]) if keys else []
        return {(lv, i): bytes(h) for lv, i, h in rows}

    def _node_ranges(
        self, ranges: Sequence[NodeRange], reader: PointReader | None = None
    ) -> list[Any]:
        """Every stored node in the ``(level, first, last)`` ranges, in ONE indexed query.

        PostgreSQL: one fixed statement joining the ranges, passed as three arrays, to the
        primary key (psycopg prepares it on each connection after a few uses, so a proof costs
        no planning). SQLite: one branch per level (an ``IN`` list of single nodes) or range,
        joined by UNION ALL, each a primary-key lookup (a row-value ``IN`` list would scan).
        """
        run = self._query if reader is None else reader.query
        if self.dialect == "postgresql":
            return list(run(_PG_NODES, tuple([r[i] for r in ranges] for i in range(3))))
        points: dict[int, list[int]] = {}
        parts: list[str] = []
        params: list[int] = []
        for level, first, last in ranges:
            if first == last:
                points.setdefault(level, []).append(first)
            else:
                parts.append(_select(_NODES, "level = ? AND idx BETWEEN ? AND ?"))
                params.extend((level, first, last))
        for level, idxs in points.items():
            parts.append(_select(_NODES, f"level = ? AND idx IN ({_marks(len(idxs))})"))
            params.extend((level, *idxs))
        return list(run(" UNION ALL ".join(parts), tuple(params)))

    def _derived(self, d: _Derived[_R], keys: Sequence[str]) -> dict[str, _R]:
        out: dict[str, _R] = {}
        for chunk in _chunks(list(keys)):
            sql = f"SELECT {d.key}, data FROM {d.name} WHERE {d.key} IN ({_marks(len(chunk))})"
            for k, data in self._query(sql, chunk):
                out[k] = d.parse(data)
        return out

    def parties(self, ids: Sequence[str]) -> dict[str, Party]:
        return self._derived(_PARTIES, ids)

    def keys(self, kids: Sequence[str]) -> dict[str, Key]:
        return self._derived(_KEYS, kids)

    def keys_added_by(self, kid: str) -> list[Key]:
        rows = self._query("SELECT data FROM keys WHERE added_by = ?", (kid,))
        return [_KEYS.parse(str(data)) for (data,) in rows]

    def prefix_claims(self) -> dict[str, str]:
        rows = self._query("SELECT data FROM parties WHERE data LIKE ?", ('%"prefixes":["%',))
        return {pre: p.id for (data,) in rows for p in [_PARTIES.parse(data)] for pre in p.prefixes}

    def lots(self, ids: Sequence[str]) -> dict[str, Lot]:
        return self._derived(_LOTS, ids)

    def credits(self, accounts: Sequence[Account]) -> dict[Account, Decimal]:
        if not accounts:
            return {}
        t = _CREDITS
        cols = tuple(t.c[name] for name in _CREDIT_KEY)

        def q(c: Connection) -> dict[Account, Decimal]:
            out: dict[Account, Decimal] = {}
            for chunk in _chunks(list(accounts)):
                cond = or_(
                    *(and_(*(col == v for col, v in zip(cols, a, strict=True))) for a in chunk)
                )
                for row in c.execute(select(*cols, t.c.balance).where(cond)):
                    out[(str(row[0]), str(row[1]), str(row[2]), str(row[3]))] = Decimal(row[4])
            return out

        return dict(self._run(q))

    def latest_checkpoint(self) -> CheckpointRecord | None:
        rows = self._query(_select(_CHECKPOINTS) + " ORDER BY size DESC LIMIT 1")
        return _checkpoint_record(rows[0]) if rows else None

    def visibility(self, party: str, lots: Sequence[str]) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for chunk in _chunks(list(lots)):
            marks = _marks(len(chunk))
            sql = f"SELECT lot, upto FROM visibility WHERE party = ? AND lot IN ({marks})"
            for lot, upto in self._query(sql, (party, *chunk)):
                out[str(lot)] = None if upto is None else int(upto)
        return out

    def visibility_any(self) -> bool:
        return bool(self._query("SELECT 1 FROM visibility LIMIT 1"))

    def transforms_of(self, lots: Sequence[str]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for chunk in _chunks(list(lots)):
            sql = (
                "SELECT l.lot, l.seq FROM event_lots l JOIN events e ON e.seq = l.seq "
                f"WHERE l.lot IN ({_marks(len(chunk))}) AND e.type = 'lot.transform'"
            )
            out.extend((str(lot), int(seq)) for lot, seq in self._query(sql, chunk))
        return out

    def inputs_of(self, seqs: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for chunk in _chunks(list(seqs)):
            rows = self._query(_select(_INPUTS, f"seq IN ({_marks(len(chunk))})"), chunk)
            for seq, lot in rows:
                out.setdefault(int(seq), []).append(str(lot))
        return out

    def log_meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._query(_select(_LOG_META))}

    def is_empty(self) -> bool:
        return not any(self._query(f"SELECT 1 FROM {t.name} LIMIT 1") for t in _DATA_TABLES)


class _Txn(_Reads):
    """The writer's transaction; every statement runs on one connection."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self._c = conn
        self.dialect = dialect
        self._cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def _run(self, fn: Any) -> Any:
        return fn(self._c)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        self._cur.execute(sql, tuple(params))
        return list(self._cur.fetchall())

    def _many(self, sql: str, params: Sequence[tuple[Any, ...]]) -> None:
        # DBAPI executemany: the append path writes thousands of rows per group, and
        # SQLAlchemy's per-statement and per-row processing would cost more than the inserts.
        if params:
            if self.dialect == "postgresql":
                sql = sql.replace("?", "%s")
            self._cur.executemany(sql, params)

    def append(self, batch: AppendBatch) -> None:
        if self.dialect == "postgresql":
            # one round trip for every insert of the group, not one per table (psycopg's
            # pipeline mode; an error still raises here, before the commit)
            with self._cur.connection.pipeline():
                self._append(batch)
        else:
            self._append(batch)

    def _append(self, batch: AppendBatch) -> None:
        self._many(
            _SQL_EVENT,
            [
                (r.seq, r.hash, r.id, *m, r.canonical)
                for r, m in zip(batch.events, batch.meta, strict=True)
            ],
        )
        self._many(_SQL_LOT_EVENTS, batch.lot_index)
        self._many(_SQL_PARTY_EVENTS, batch.party_index)
        self._many(_SQL_CUSTODY, batch.custody)
        self._many(_SQL_INPUTS, batch.inputs)
        self._many(_SQL_STATES, [_state_row(k, v) for k, v in batch.states.items()])
        self._many(_SQL_VISIBILITY, [(p, lot, c) for (p, lot), c in batch.visibility.items()])
        self._many(_SQL_NODES, batch.nodes)
        self._many(_PARTIES.upsert, [_PARTIES.row(k, v) for k, v in batch.parties.items()])
        self._many(_KEYS.upsert, [_KEYS.row(k, v) for k, v in batch.keys.items()])
        self._many(_LOTS.upsert, [_LOTS.row(k, v) for k, v in batch.lots.items()])
        self._many(_SQL_CREDITS, [(*a, str(b)) for a, b in batch.credits.items()])

    def insert_checkpoint(self, record: CheckpointRecord) -> None:
        self._many(_SQL_CHECKPOINT, [(record.size, record.root, record.note, record.signed_at)])

    def add_log_meta(self, values: Mapping[str, str]) -> None:
        self._many(_SQL_LOG_META, list(values.items()))


class _Dumps(_Reads):
    """Whole-table reads, for ``fsck``'s comparison with the replay of the log."""

    def event_meta(self) -> dict[int, EventMeta]:
        cols = ", ".join(("seq", *EventMeta._fields))
        rows = self._query(f"SELECT {cols} FROM events")
        return {int(s): EventMeta(str(t), str(a), str(tm)) for s, t, a, tm in rows}

    def all_nodes(self) -> dict[tuple[int, int], bytes]:
        return {(int(lv), int(i)): bytes(h) for lv, i, h in self._query(_select(_NODES))}

    def all_lot_events(self) -> set[LotEvent]:
        return {LotEvent(str(k), int(s)) for k, s in self._query(_select(_EVENT_LOTS))}

    def all_party_events(self) -> set[PartyEvent]:
        return {PartyEvent(str(k), int(s)) for k, s in self._query(_select(_PARTY_EVENTS))}

    def all_custody(self) -> set[Custody]:
        rows = self._query(_select(_CUSTODY))
        return {Custody(str(p), str(lot), int(s)) for p, lot, s in rows}

    def all_visibility(self) -> dict[tuple[str, str], int | None]:
        rows = self._query(_select(_VISIBILITY))
        return {(str(p), str(lot)): None if c is None else int(c) for p, lot, c in rows}

    def all_inputs(self) -> set[InputRow]:
        return {InputRow(int(s), str(lot)) for s, lot in self._query(_select(_INPUTS))}

    def all_lot_states(self) -> dict[tuple[str, int], str]:
        rows = self._query("SELECT lot, seq, data FROM lot_states")
        return {(str(lot), int(seq)): str(data) for lot, seq, data in rows}

    def all_state(self, table: str) -> list[StateRow]:
        d = _DERIVED[table]
        rows = self._query(_select(d.table))
        return [
            StateRow(str(r[0]), {c: str(v) for c, v in zip(d.copied, r[1:-1], strict=True)}, r[-1])
            for r in rows
        ]

    def all_credits(self) -> dict[Account, str]:
        rows = self._query(_select(_CREDITS))
        return {(str(p), str(s), str(e), str(c)): str(b) for p, s, e, c, b in rows}

    def all_checkpoints(self) -> list[CheckpointRecord]:
        rows = self._query(_select(_CHECKPOINTS) + " ORDER BY size")
        return [_checkpoint_record(r) for r in rows]


class _Cosignatures(_Dumps):
    """The witness cosignatures of the log's checkpoints (spec §5.9)."""

    def _execute(self, sql: str, params: Sequence[Any], what: str) -> int:  # pragma: no cover
        raise NotImplementedError

    def add_cosignature(self, record: CosignatureRecord) -> bool:
        row = dataclasses.astuple(record)
        return bool(self._execute(_SQL_COSIGNATURE, row, "record the witness cosignature"))

    def cosignatures(self, size: int | None = None) -> list[CosignatureRecord]:
        where = "" if size is None else "size = ?"
        rows = self._query(
            _select(_COSIGNATURES, where) + " ORDER BY size, witness",
            () if size is None else (size,),
        )
        return [CosignatureRecord(str(w), int(n), str(line), str(at)) for w, n, line, at in rows]

    def latest_cosigned_size(self, witnesses: Sequence[str], quorum: int) -> int | None:
        if not witnesses:
            return None
        marks = ", ".join("?" * len(witnesses))
        rows = self._query(
            f"SELECT size FROM witness_cosignatures WHERE witness IN ({marks}) GROUP BY size "
            "HAVING COUNT(*) >= ? ORDER BY size DESC LIMIT 1",
            [*witnesses, max(quorum, 1)],
        )
        return int(rows[0][0]) if rows else None


def _visible_lots_sql(party: str, after: str | None, where: LotFilter) -> tuple[str, list[Any]]:
    """The one query of :meth:`SqlStore.visible_lots`: the party's rows in lot order, each
    joined to the state it may see (the current one, or the one kept at its cut-off), filtered
    on that state."""
    sql_where = ["v.party = ?"]
    params: list[Any] = [party]
    if after is not None:
        sql_where.append("v.lot > ?")
        params.append(after)
    for col, value in (("custodian", where.custodian), ("status", where.status)):
        if value is not None:
            sql_where.append(f"(CASE WHEN v.upto IS NULL THEN l.{col} ELSE s.{col} END) = ?")
            params.append(value)
    if where.material is not None:  # set by the lot's creation, never changed
        sql_where.append("l.material = ?")
        params.append(where.material)
    if where.prefix:
        sql_where.append("substr(v.lot, 1, ?) = ?")
        params.extend((len(where.prefix), where.prefix))
    sql = (
        "SELECT v.upto, CASE WHEN v.upto IS NULL THEN l.data ELSE s.data END "
        "FROM visibility v JOIN lots l ON l.lot = v.lot "
        "LEFT JOIN lot_states s ON s.lot = v.lot AND s.seq = v.upto "
        f"WHERE {' AND '.join(sql_where)} ORDER BY v.lot LIMIT ?"
    )
    return sql, params


#: seconds a read replica may take to accept a connection (it is near; the primary answers
#: meanwhile), and seconds it is left alone after it failed
REPLICA_CONNECT_TIMEOUT = 3
REPLICA_RETRY = 30.0


class _CommittedNodes(_Cosignatures):
    """Merkle node reads outside the write transaction: only committed nodes, which never
    change, so the store keeps the upper levels in memory (``nodes.NodeCache``)."""

    url: str
    dialect: str
    _point: PointReader
    _replica: PointReader | None
    _nodes: NodeCache

    def _open_nodes(self, read_url: str | None) -> None:
        self._replica = None
        if read_url is None:
            self._nodes = NodeCache(self._committed_node_ranges)
            return
        refusal = read_replica_refusal(self.url, read_url)
        if refusal is not None:
            raise StorageError(refusal)
        engine = _make_engine(read_url, writer=False, connect_timeout=REPLICA_CONNECT_TIMEOUT)
        self._replica = _PointReads(engine, "postgresql", rest=REPLICA_RETRY)
        self._nodes = NodeCache(self._replica_node_ranges, fallback=self._committed_node_ranges)

    def _close_nodes(self) -> None:
        if self._replica is not None:
            self._replica.close()

    def _committed_node_ranges(self, ranges: Sequence[NodeRange]) -> list[Any]:
        return self._node_ranges(ranges, self._point)

    def _replica_node_ranges(self, ranges: Sequence[NodeRange]) -> list[Any]:
        """The nodes from the read replica; none when it cannot be read (the primary then
        answers: a replica that is down slows proofs, it does not fail them). After a failure
        the replica is left alone for ``REPLICA_RETRY`` seconds, so that a replica that hangs
        costs one bounded wait per period, not one per proof."""
        assert self._replica is not None
        try:
            return self._node_ranges(ranges, self._replica)
        except _Resting:
            return []
        except StorageError as e:
            _log.warning(
                "read replica unavailable, reading from the primary for %g s: %s", REPLICA_RETRY, e
            )
            return []

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        return self._nodes.get_nodes(keys)


class _Records:
    """Tokens, certificates and their statuses: the store's records beside the log (a mixin
    of ``SqlStore``)."""

    _point: PointReader

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any], what: str) -> int:  # pragma: no cover
        raise NotImplementedError

    def add_token(self, token: TokenRecord) -> None:
        self._execute(
            _SQL_TOKEN,
            (token.hash, token.party, token.role, token.created_at, int(token.revoked)),
            "store the token",
        )

    def token(self, token_hash: str) -> TokenRecord | None:
        # read on every API request: one primary-key lookup on the dedicated connection
        rows = self._point.query(_SQL_LIVE_TOKEN, (token_hash,))
        return _token_record(rows[0]) if rows else None

    def tokens(self) -> list[TokenRecord]:
        rows = self._query(_select(_TOKENS) + " ORDER BY created_at")
        return [_token_record(r) for r in rows]

    def revoke_token(self, token_hash: str) -> bool:
        sql = "UPDATE tokens SET revoked = 1 WHERE token_hash = ? AND revoked = 0"
        return bool(self._execute(sql, (token_hash,), "revoke the token"))

    def add_certificate(self, certificate: CertificateRecord) -> bool:
        row = dataclasses.astuple(certificate)
        return bool(self._execute(_SQL_CERTIFICATE, row, "store the certificate"))

    def certificate(self, cert_id: str) -> CertificateRecord | None:
        rows = self._query(_select(_CERTIFICATES, "id = ?"), (cert_id,))
        return None if not rows else _certificate_record(rows[0])

    def certificates(
        self,
        *,
        lot: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        seen_by: str | None = None,
    ) -> list[CertificateRecord]:
        where: list[str] = []
        params: list[Any] = []
        if seen_by is not None:  # one query on the visibility index, not a scan of them all
            where.append("lot IN (SELECT lot FROM visibility WHERE party = ?)")
            params.append(seen_by)
        if lot is not None:
            where.append("lot = ?")
            params.append(lot)
        if after is not None:
            where.append("id > ?")
            params.append(after)
        sql = _select(_CERTIFICATES, " AND ".join(where)) + " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_certificate_record(r) for r in self._query(sql, params)]

    def certificate_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM certificates")[0][0])

    def status_indexes(self, status_list: int) -> set[int]:
        sql = "SELECT status_index FROM certificates WHERE status_list = ?"
        return {int(i) for (i,) in self._query(sql, (status_list,))}

    def add_certificate_status(self, record: CertificateStatusRecord) -> bool:
        row = dataclasses.astuple(record)
        return bool(self._execute(_SQL_CERT_STATUS, row, "record the certificate status"))

    def certificate_statuses(
        self, cert_ids: Sequence[str] | None = None
    ) -> list[CertificateStatusRecord]:
        sql, params = _select(_CERT_STATUS), list(cert_ids or ())
        if cert_ids is not None:
            if not params:
                return []
            sql = _select(_CERT_STATUS, f"cert_id IN ({', '.join('?' * len(params))})")
        rows = self._query(sql + " ORDER BY log_size, recorded_at, cert_id, status", params)
        return [
            CertificateStatusRecord(str(c), str(s), str(why), int(n), str(at), str(by))
            for c, s, why, n, at, by in rows
        ]


class SqlStore(_Records, SessionQueries, _CommittedNodes):
    """SQLite or PostgreSQL storage behind the :class:`ledger.store.protocol.Store` interface.

    Args:
        url: SQLAlchemy URL (``sqlite:///path.db`` or ``postgresql://...``).
        migrate_schema: run the Alembic migration on open (default).
        read_url: a streaming replica of PostgreSQL ``url`` to read Merkle nodes from first.
        lock_wait: seconds a write waits for the writers' lock before it fails with
            ``WriterBusy`` (``WRITE_LOCK_WAIT``; tests shorten it).

    Raises:
        StorageError: the database cannot be opened or migrated.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate_schema: bool = True,
        read_url: str | None = None,
        lock_wait: float = WRITE_LOCK_WAIT,
    ) -> None:
        self.url = normalize_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        self._open_nodes(read_url)  # first: a refused replica opens nothing
        self._lock_wait = lock_wait
        self._write_begin = _pg_write_begin(lock_wait)
        try:
            self._engine = _make_engine(self.url, writer=False, wait=lock_wait)
            self._writer = (
                _make_engine(self.url, writer=True, wait=lock_wait)
                if self.dialect == "sqlite"
                else self._engine
            )
            if migrate_schema:
                migrate(self._writer)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot open database {self.url}: {e}") from e
        self._lock = threading.Lock()
        self._point = _PointReads(self._engine, self.dialect)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and maintenance; the ledger never needs it)."""
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

    def _execute(self, sql: str, params: Sequence[Any], what: str) -> int:
        """One statement in its own committed transaction; returns the row count."""
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        try:
            with self._engine.begin() as c:
                return int(c.exec_driver_sql(sql, tuple(params)).rowcount)
        except _ERRORS as e:
            raise StorageError(f"cannot {what}: {e}") from e

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
                        conn.exec_driver_sql(self._write_begin)
                    yield _Txn(conn, self.dialect)
            except _ERRORS as e:
                if _lock_wait_over(e):
                    raise WriterBusy(
                        f"another writer held the log's write lock for over {self._lock_wait:g} s "
                        "(a stalled node or a long maintenance command); nothing was written: "
                        "retry with the same bytes, and find the process that holds it"
                    ) from e
                raise StorageError(f"write transaction failed, nothing was written: {e}") from e

    def close(self) -> None:
        self._point.close()
        self._close_nodes()
        self._engine.dispose()
        if self._writer is not self._engine:
            self._writer.dispose()

    # ------------------------------------------------------------------ the log
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

    def chains(self, lots: Sequence[str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for chunk in _chunks(list(lots)):
            sql = f"SELECT lot, seq FROM event_lots WHERE lot IN ({_marks(len(chunk))})"
            for lot, seq in self._query(sql, chunk):
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

    def lot_states(self, points: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Lot]:
        out: dict[tuple[str, int], Lot] = {}
        for chunk in _chunks(list(dict.fromkeys(points))):
            where = " OR ".join(["(lot = ? AND seq = ?)"] * len(chunk))
            params = [x for point in chunk for x in point]
            for lot, seq, data in self._query(
                f"SELECT lot, seq, data FROM lot_states WHERE {where}", params
            ):
                out[(str(lot), int(seq))] = _LOTS.parse(str(data))
        return out

    def visible_lots(
        self,
        party: str,
        *,
        after: str | None,
        limit: int,
        where: LotFilter = ALL_LOTS,
    ) -> list[tuple[Lot, int | None]]:
        sql, params = _visible_lots_sql(party, after, where)
        rows = self._query(sql, (*params, limit))
        return [
            (_LOTS.parse(str(data)), None if upto is None else int(upto)) for upto, data in rows
        ]

    def custody_lots(self, party: str) -> list[str]:
        stmt = select(_CUSTODY.c.lot).where(_CUSTODY.c.party == party).distinct()
        return sorted(str(x) for (x,) in self._run(lambda c: c.execute(stmt).all()))

    def checkpoint_at(self, size: int) -> CheckpointRecord | None:
        rows = self._query(_select(_CHECKPOINTS, "size = ?"), (size,))
        return _checkpoint_record(rows[0]) if rows else None

    # ------------------------------------------------------------------ listings
    def _list(
        self,
        d: _Derived[_R],
        after: str | None,
        limit: int,
        where: Mapping[str, str | None],
        prefix: str | None = None,
    ) -> list[_R]:
        t = d.table
        pk = t.c[d.key]
        stmt = select(t.c.data)
        if after is not None:
            stmt = stmt.where(pk > after)
        if prefix:
            stmt = stmt.where(func.substr(pk, 1, len(prefix)) == prefix)
        for col, value in where.items():
            if value is not None:
                stmt = stmt.where(t.c[col] == value)
        stmt = stmt.order_by(pk).limit(limit)
        return [d.parse(data) for (data,) in self._run(lambda c: c.execute(stmt).all())]

    def list_lots(
        self,
        *,
        after: str | None,
        limit: int,
        where: LotFilter = ALL_LOTS,
    ) -> list[Lot]:
        columns = {"custodian": where.custodian, "status": where.status, "material": where.material}
        return self._list(_LOTS, after, limit, columns, where.prefix)

    def list_parties(self, *, after: str | None, limit: int) -> list[Party]:
        return self._list(_PARTIES, after, limit, {})


def _state_row(point: tuple[str, int], lot: Lot) -> tuple[Any, ...]:
    return (*point, lot.custodian, lot.status, _ENCODER.encode(lot.to_dict()))


def _certificate_record(row: Any) -> CertificateRecord:
    cert_id, lot, credential, bundle, issued_at, status_list, status_index = row
    return CertificateRecord(
        str(cert_id),
        str(lot),
        str(credential),
        str(bundle),
        str(issued_at),
        status_list=None if status_list is None else int(status_list),
        status_index=None if status_index is None else int(status_index),
    )


def _token_record(row: Any) -> TokenRecord:
    h, party, role, created, revoked = row
    return TokenRecord(str(h), str(party), str(role), str(created), bool(revoked))


class _Resting(StorageError):
    """A read not even tried: the database (a read replica) failed a moment ago."""


class _PointReads:
    """One dedicated connection, outside the pool, for the read made on EVERY API request: the
    bearer token by its id (spec §9.3 — tokens are not cached, so that a revocation takes effect
    at the next request on every server).

    Through the pool the lookup costs a checkout, and on PostgreSQL a pre-ping round trip too
    (about 37 µs on SQLite and 310 µs on a local PostgreSQL); here it is one statement (about 7 µs
    and one round trip, 55 µs). The connection reads in autocommit mode, so every lookup sees
    every commit made before it. A broken connection (a restarted server) is replaced and the
    read retried once; a forked child opens its own.
    """

    def __init__(self, engine: Engine, dialect: str, *, rest: float = 0.0) -> None:
        self._engine = engine
        self._postgres = dialect == "postgresql"
        self._lock = threading.Lock()
        self._conn: Any = None  # the detached pool connection
        self._pid = 0
        #: > 0 (a read replica): after a failure, no retry, and every read fails at once for
        #: this many seconds, also the ones that waited for the lock behind the failed one
        self._rest = rest
        self._down_until = 0.0

    def query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows of one read statement (``?`` placeholders).

        Raises:
            StorageError: the database cannot be read, also on a fresh connection;
                ``_Resting`` during the rest after a failure.
        """
        if self._postgres:
            sql = sql.replace("?", "%s")
        with self._lock:
            if self._rest and time.monotonic() < self._down_until:
                raise _Resting("the database failed a moment ago; not asked again yet")
            try:
                return self._read(sql, params)
            except _ERRORS as e:
                self._drop()
                if self._rest:
                    self._down_until = time.monotonic() + self._rest
                    raise StorageError(f"database read failed: {e}") from e
            try:
                return self._read(sql, params)
            except _ERRORS as e:
                self._drop()
                raise StorageError(f"database read failed: {e}") from e

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        if self._conn is None or self._pid != os.getpid():
            self._conn = None  # a forked child never uses (or closes) its parent's connection
            conn = self._engine.raw_connection()
            conn.detach()  # closed for real by close(), never handed back to the pool
            if self._postgres:
                conn.rollback()
                conn.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            self._conn, self._pid = conn, os.getpid()
        cur = self._conn.dbapi_connection.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            with contextlib.suppress(*_ERRORS):
                conn.close()
