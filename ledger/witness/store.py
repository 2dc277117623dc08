"""The witness's state: the latest cosigned size and root per log, moved by compare-and-swap.

Two tables in the witness's own database (SQLite by default): ``witness_state`` (origin, size,
root), changed only by ``UPDATE ... WHERE origin AND size AND root`` still hold what the request
was checked against (or an INSERT for a log's first checkpoint), so two concurrent requests can
never roll it back; and the append-only ``witness_cosigned``, one row per cosignature given.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

__all__ = ["LogState", "WitnessStore"]

_meta = MetaData()
_state = Table(
    "witness_state",
    _meta,
    Column("origin", String, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
)
_cosigned = Table(
    "witness_cosigned",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String, nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("cosigned_at", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("cosignature", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class LogState:
    """The latest checkpoint the witness cosigned for one log."""

    size: int
    root: bytes


class WitnessStore:
    """The witness database at a SQLAlchemy ``url`` (tables are created when missing)."""

    def __init__(self, url: str = "sqlite:///witness.db") -> None:
        kw: dict[str, object] = {}
        if url.startswith("sqlite"):
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kw["poolclass"] = StaticPool
        self.engine: Engine = create_engine(url, **kw)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _meta.create_all(self.engine)

    def get(self, origin: str) -> LogState | None:
        """The latest cosigned size and root of ``origin``, or None before its first."""
        with self.engine.connect() as c:
            row = c.execute(
                select(_state.c.size, _state.c.root).where(_state.c.origin == origin)
            ).first()
        return None if row is None else LogState(int(row.size), bytes(row.root))

    def advance(
        self,
        origin: str,
        expected: LogState | None,
        new: LogState,
        *,
        note: str,
        cosignature: str,
        cosigned_at: int,
    ) -> bool:
        """Move ``origin`` from ``expected`` (None: no state yet) to ``new`` and record the
        cosignature, atomically; False (and nothing written) when the state is no longer
        ``expected`` — another request moved it first."""
        try:
            with self.engine.begin() as c:
                if not self._swap(c, origin, expected, new):
                    c.rollback()
                    return False
                c.execute(
                    insert(_cosigned).values(
                        origin=origin,
                        size=new.size,
                        root=new.root,
                        cosigned_at=cosigned_at,
                        note=note,
                        cosignature=cosignature,
                    )
                )
        except IntegrityError:  # a concurrent first checkpoint of the same log
            return False
        return True

    @staticmethod
    def _swap(c: Connection, origin: str, expected: LogState | None, new: LogState) -> bool:
        if expected is None:
            c.execute(insert(_state).values(origin=origin, size=new.size, root=new.root))
            return True
        done = c.execute(
            update(_state)
            .where(
                _state.c.origin == origin,
                _state.c.size == expected.size,
                _state.c.root == expected.root,
            )
            .values(size=new.size, root=new.root)
        )
        return done.rowcount == 1

    def cosigned(self, origin: str) -> list[LogState]:
        """Every checkpoint cosigned for ``origin``, oldest first."""
        with self.engine.connect() as c:
            rows = c.execute(
                select(_cosigned.c.size, _cosigned.c.root)
                .where(_cosigned.c.origin == origin)
                .order_by(_cosigned.c.id)
            ).all()
        return [LogState(int(r.size), bytes(r.root)) for r in rows]

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()
