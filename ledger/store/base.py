"""The one narrow storage interface the ledger service talks to.

Rows are plain tuples and bytes here; the service turns them into domain values. Two
implementations share one SQL code path (``ledger.store.sql.SqlStore``): SQLite (WAL, the embedded
default) and PostgreSQL (production).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CheckpointRecord", "EventRecord", "Reads", "Store", "WriteTxn"]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored event: its log index, hash (32 raw bytes), id and canonical JCS bytes."""

    seq: int
    hash: bytes
    id: str
    canonical: bytes


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """A stored signed checkpoint."""

    size: int
    root: bytes
    note: str
    signed_at: str


class Reads(Protocol):
    """Reads available both outside and inside a write transaction."""

    def size(self) -> int:
        """Number of events in the log (the next ``seq``)."""
        ...

    def events_by_ids(self, ids: Sequence[str]) -> dict[str, EventRecord]: ...

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]: ...

    def state_rows(self, table: str, keys: Sequence[str]) -> dict[str, str]:
        """JSON ``data`` of derived rows (``parties``/``keys``/``lots``) by primary key."""
        ...

    def credit_rows(
        self, accounts: Sequence[tuple[str, str, str, str]]
    ) -> dict[tuple[str, str, str, str], str]: ...

    def latest_checkpoint(self) -> CheckpointRecord | None: ...


class WriteTxn(Reads, Protocol):
    """One atomic, serialized write transaction (all rows or none; durable on commit)."""

    def insert_events(
        self, rows: Iterable[EventRecord], types: Sequence[tuple[str, str, str]]
    ) -> None:
        """Insert events; ``types[i]`` is (type, actor, time) of ``rows[i]``."""
        ...

    def insert_index(self, table: str, pairs: Iterable[tuple[str, int]]) -> None:
        """Insert (lot, seq) into ``event_lots`` or (party, seq) into ``party_events``."""
        ...

    def insert_custody(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """Insert (party, lot, seq) custody-history rows."""
        ...

    def insert_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None: ...

    def upsert_state(self, table: str, rows: Mapping[str, tuple[str, ...]]) -> None:
        """Insert or replace derived rows of ``parties``/``keys``/``lots``."""
        ...

    def upsert_credits(self, rows: Mapping[tuple[str, str, str, str], str]) -> None: ...

    def insert_checkpoint(self, record: CheckpointRecord) -> None: ...


class Store(Reads, Protocol):
    """The storage of one ledger."""

    dialect: str

    def write(self) -> AbstractContextManager[WriteTxn]:
        """Open the single writer's transaction (serialized across threads and processes)."""
        ...

    def events_by_seqs(self, seqs: Sequence[int]) -> list[EventRecord]: ...

    def event_by_hash(self, h: bytes) -> EventRecord | None: ...

    def lot_seqs(self, lot: str, upto: int | None = None) -> list[int]: ...

    def party_seqs(self, parties: Sequence[str], upto: int | None = None) -> list[int]: ...

    def checkpoint_at(self, size: int) -> CheckpointRecord | None: ...

    def custody_lots(self, party: str) -> list[str]: ...

    def list_state(
        self, table: str, *, after: str | None, limit: int, where: Mapping[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """(key, data) of derived rows in key order, for listings with a cursor."""
        ...

    def iter_events(self, start: int = 0, batch: int = 10_000) -> Iterable[EventRecord]: ...

    def all_rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of a table (fsck only)."""
        ...

    def close(self) -> None: ...
