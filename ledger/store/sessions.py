"""The console's sign-in sessions in the database (``console_sessions``), a part of
:class:`ledger.store.sql.SqlStore`: every server process and node on one database shares them.

Opening a session is one transaction that purges the expired sessions, evicts the token's and
then everyone's oldest over the caps, and inserts the new one. Opens are serialized across
processes — SQLite by the writer engine's ``BEGIN IMMEDIATE``, PostgreSQL by a transaction-scoped
advisory lock of their own (not the log writers' lock, so a sign-in never waits for a group
commit) — so the caps hold exactly, however many workers sign people in at once. Reading a
session is one primary-key lookup on the store's dedicated connection, like the token lookup
it comes with on every console request.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StorageError
from .models import ConsoleSessionRow
from .protocol import SessionRecord

__all__ = ["PointReader", "SessionQueries"]

_SESSIONS: Table = ConsoleSessionRow.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(c.name for c in _SESSIONS.columns)
if tuple(f.name for f in dataclasses.fields(SessionRecord)) != _COLUMNS:  # pragma: no cover
    raise AssertionError(f"console_sessions columns {_COLUMNS} != SessionRecord's fields")

#: the advisory lock that serializes sign-ins on PostgreSQL ("LTLS"; the writers' is "LTL1")
_SESSIONS_LOCK_ID = 0x4C544C53
_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, psycopg.Error)
_INSERT = f"INSERT INTO console_sessions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * 5)})"
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM console_sessions WHERE sid_hash = ?"
_TOKENS_NEWEST_FIRST = (
    "SELECT sid_hash FROM console_sessions WHERE token_hash = ? "
    "ORDER BY created_us DESC, sid_hash DESC"
)
_DELETE_OLDEST = (
    "DELETE FROM console_sessions WHERE sid_hash IN (SELECT sid_hash FROM console_sessions "
    "ORDER BY created_us, sid_hash LIMIT ?)"
)


class PointReader(Protocol):
    """The store's dedicated connection for per-request reads (``sql._PointReads``)."""

    def query(self, sql: str, params: tuple[Any, ...]) -> list[Any]: ...

    def close(self) -> None: ...


class SessionQueries:
    """The ``console_sessions`` part of the store (a mixin of ``SqlStore``)."""

    dialect: str
    _writer: Engine
    _point: PointReader

    def _execute(self, sql: str, params: Sequence[Any], what: str) -> int:  # pragma: no cover
        raise NotImplementedError

    def open_session(
        self, record: SessionRecord, *, now_us: int, per_token: int, most: int
    ) -> None:
        try:
            with self._writer.begin() as conn:
                if self.dialect == "postgresql":
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_SESSIONS_LOCK_ID,))
                self._open(conn, record, now_us, per_token, most)
        except _ERRORS as e:
            raise StorageError(f"cannot open the console session: {e}") from e

    def _open(
        self, conn: Connection, record: SessionRecord, now_us: int, per_token: int, most: int
    ) -> None:
        def run(sql: str, params: tuple[Any, ...]) -> Any:
            if self.dialect == "postgresql":
                sql = sql.replace("?", "%s")
            return conn.exec_driver_sql(sql, params)

        run("DELETE FROM console_sessions WHERE expires_us <= ?", (now_us,))
        mine = [str(h) for (h,) in run(_TOKENS_NEWEST_FIRST, (record.token_hash,)).all()]
        drop = tuple(mine[max(per_token - 1, 0) :])
        if drop:
            marks = ", ".join("?" * len(drop))
            run(f"DELETE FROM console_sessions WHERE sid_hash IN ({marks})", drop)
        count = int(run("SELECT COUNT(*) FROM console_sessions", ()).scalar_one())
        if count >= most:
            run(_DELETE_OLDEST, (count - max(most, 1) + 1,))
        run(_INSERT, dataclasses.astuple(record))

    def session(self, sid_hash: str) -> SessionRecord | None:
        # read on every console request: one primary-key lookup on the dedicated connection
        rows = self._point.query(_SELECT, (sid_hash,))
        if not rows:
            return None
        sid, token, csrf, created, expires = rows[0]
        return SessionRecord(str(sid), str(token), str(csrf), int(created), int(expires))

    def delete_session(self, sid_hash: str) -> bool:
        sql = "DELETE FROM console_sessions WHERE sid_hash = ?"
        return bool(self._execute(sql, (sid_hash,), "end the console session"))
