"""The storage interface every caller types against, and the records that cross it.

Rows come back as typed records: events as :class:`EventRecord`, derived state as the rules'
own records (``Party``, ``Key``, ``Lot``), tokens and certificates as their records. One group
commit hands the store ONE :class:`AppendBatch`; which table and column each part goes to is
the store's business alone (``ledger.store.sql``, whose column lists come from the table
models in ``ledger.store.models``). The implementation is :class:`ledger.store.sql.SqlStore`,
on SQLite (WAL, the embedded default) and PostgreSQL (production).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple, Protocol

from ..core.custody import custody_of, party_subjects
from ..core.events import SignedEvent
from ..core.rules import Account, Key, Lot, Party
from ..core.visibility import InputRow, inputs_of

__all__ = [
    "ALL_LOTS",
    "AppendBatch",
    "CertificateRecord",
    "CertificateStatusRecord",
    "CheckpointRecord",
    "CosignatureRecord",
    "Custody",
    "EventMeta",
    "EventRecord",
    "EventRows",
    "LotEvent",
    "LotFilter",
    "PartyEvent",
    "SessionRecord",
    "StateRow",
    "Store",
    "StoreReads",
    "TokenRecord",
    "WriteTxn",
]


@dataclass(frozen=True, slots=True)
class LotFilter:
    """What a lot listing keeps (spec §9.8.4); None keeps every lot. ``custodian`` and
    ``status`` apply to the lot as the caller may see it; ``material`` never changes after a
    lot's creation; ``prefix`` keeps the lots whose id starts with it."""

    custodian: str | None = None
    status: str | None = None
    material: str | None = None
    prefix: str | None = None


#: the filter that keeps every lot
ALL_LOTS = LotFilter()


# The rows one event adds besides itself. Their fields ARE the columns of their tables, in
# order (``ledger.store.sql`` asserts it against the table models when it is imported).
class EventMeta(NamedTuple):
    """The members of an event copied into their own columns of ``events``."""

    type: str
    actor: str
    time: str


class LotEvent(NamedTuple):
    """A row of ``event_lots``: event ``seq`` is on the chain of ``lot``."""

    lot: str
    seq: int


class PartyEvent(NamedTuple):
    """A row of ``party_events``: event ``seq`` registers ``party`` or one of its keys."""

    party: str
    seq: int


class Custody(NamedTuple):
    """A row of ``custody``: ``party`` created, received or was sent ``lot`` at ``seq``."""

    party: str
    lot: str
    seq: int


class EventRows(NamedTuple):
    """Everything the index tables hold for one event (the writer writes it, fsck re-derives
    it: one derivation for both)."""

    meta: EventMeta
    lots: list[LotEvent]
    parties: list[PartyEvent]
    custody: list[Custody]
    inputs: list[InputRow]

    @classmethod
    def of(cls, seq: int, ev: SignedEvent) -> EventRows:
        """The rows of event ``ev`` at log index ``seq``."""
        return cls(
            EventMeta(ev.type, ev.actor, ev.time),
            [LotEvent(lot, seq) for lot in dict.fromkeys((*ev.lots_touched, *ev.lots_created))],
            [PartyEvent(party, seq) for party in party_subjects(ev)],
            [Custody(party, lot, seq) for party, lot in custody_of(ev)],
            inputs_of(seq, ev),
        )


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


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: its SHA-256 (never the token), party, role and state."""

    hash: str
    party: str
    role: str
    created_at: str
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A console sign-in session as stored: the SHA-256 of its id (never the id itself, so a
    copy of the table gives no live cookie), its token's SHA-256, its CSRF token, and when it
    was opened and when it ends, in microseconds since the Unix epoch (wall clock, UTC)."""

    sid_hash: str
    token_hash: str
    csrf: str
    created_us: int
    expires_us: int


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """An issued certificate: the signed credential and the bundle it was computed from (JSON)."""

    id: str
    lot: str
    credential: str
    bundle: str
    issued_at: str
    #: its Bitstring Status List entry (spec §8.9); None for certificates of revision 1
    status_list: int | None = None
    status_index: int | None = None


@dataclass(frozen=True, slots=True)
class CertificateStatusRecord:
    """A recorded status change of a certificate (spec §8.9): append-only, at most one per
    (certificate, status)."""

    cert_id: str
    status: str  # "superseded" | "revoked"
    reason: str
    log_size: int
    recorded_at: str
    recorded_by: str


@dataclass(frozen=True, slots=True)
class CosignatureRecord:
    """A witness cosignature (c2sp.org/tlog-cosignature) of the checkpoint at ``size``, verified
    before it was stored: append-only, at most one per (witness, size)."""

    witness: str  # the witness's verifier key (vkey)
    size: int
    line: str  # the signature line, ending in a newline
    recorded_at: str


@dataclass(frozen=True, slots=True)
class StateRow:
    """A derived row as stored, for ``fsck``: its key, the columns copied out of its record for
    filtering (name -> stored text), and the record's JSON ``data``."""

    key: str
    copied: Mapping[str, str]
    data: str


@dataclass(slots=True)
class AppendBatch:
    """Everything one group commit writes, in one transaction.

    ``events[i]`` has the copied columns ``meta[i]``; ``lot_index``, ``party_index`` and
    ``custody`` the index rows of every event (:class:`EventRows`); ``nodes`` the new complete
    Merkle subtrees as ``ledger.core.merkle.CompactRange.append`` returns them (level, index,
    hash); ``parties``/``keys``/``lots``/``credits`` the new value of every changed derived
    record.
    """

    events: list[EventRecord] = field(default_factory=list)
    meta: list[EventMeta] = field(default_factory=list)
    lot_index: list[LotEvent] = field(default_factory=list)
    party_index: list[PartyEvent] = field(default_factory=list)
    custody: list[Custody] = field(default_factory=list)
    inputs: list[InputRow] = field(default_factory=list)
    nodes: list[tuple[int, int, bytes]] = field(default_factory=list)
    #: (lot, seq) -> the lot's state right after event seq, where a view may end there
    states: dict[tuple[str, int], Lot] = field(default_factory=dict)
    #: (party, lot) -> the party's new cut-off of the lot (None: all of it)
    visibility: dict[tuple[str, str], int | None] = field(default_factory=dict)

    def add(self, record: EventRecord, rows: EventRows) -> None:
        """Add one accepted event and its index rows."""
        self.events.append(record)
        self.meta.append(rows.meta)
        self.lot_index.extend(rows.lots)
        self.party_index.extend(rows.parties)
        self.custody.extend(rows.custody)
        self.inputs.extend(rows.inputs)

    parties: dict[str, Party] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)
    credits: dict[Account, Decimal] = field(default_factory=dict)


class StoreReads(Protocol):
    """Reads available both outside and inside a write transaction."""

    def size(self) -> int:
        """Number of events in the log (the next ``seq``)."""
        ...

    def events_by_ids(self, ids: Sequence[str]) -> dict[str, EventRecord]: ...

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """Complete Merkle subtree hashes by (level, index) (``merkle.NodeReader``)."""
        ...

    def parties(self, ids: Sequence[str]) -> dict[str, Party]:
        """The registered parties among ``ids``."""
        ...

    def keys(self, kids: Sequence[str]) -> dict[str, Key]:
        """The registered keys among ``kids``."""
        ...

    def lots(self, ids: Sequence[str]) -> dict[str, Lot]:
        """The current state of the lots that exist among ``ids``."""
        ...

    def keys_added_by(self, kid: str) -> list[Key]:
        """Keys whose registering event ``kid`` signed."""
        ...

    def prefix_claims(self) -> dict[str, str]:
        """Every claimed lot-id prefix -> the party that owns it."""
        ...

    def credits(self, accounts: Sequence[Account]) -> dict[Account, Decimal]:
        """The balances of the credit accounts that exist among ``accounts``."""
        ...

    def latest_checkpoint(self) -> CheckpointRecord | None: ...

    def visibility(self, party: str, lots: Sequence[str]) -> dict[str, int | None]:
        """The party's cut-offs of those of ``lots`` it may see (spec §9.4; None: all)."""
        ...

    def transforms_of(self, lots: Sequence[str]) -> list[tuple[str, int]]:
        """(lot, seq) of every ``lot.transform`` on the chains of ``lots``."""
        ...

    def inputs_of(self, seqs: Sequence[int]) -> dict[int, list[str]]:
        """The input lots of the transforms at ``seqs``."""
        ...

    def visibility_any(self) -> bool:
        """Whether the visibility index has any row."""
        ...

    def log_meta(self) -> dict[str, str]:
        """What the database records about itself (``log_meta``), name -> value."""
        ...

    def is_empty(self) -> bool:
        """True when no event, checkpoint, token, certificate or ``log_meta`` row was ever
        written (a database only just created)."""
        ...


class WriteTxn(StoreReads, Protocol):
    """One atomic, serialized write transaction (all rows or none; durable on commit)."""

    def append(self, batch: AppendBatch) -> None:
        """Write one group commit's events, indexes, Merkle nodes and derived records."""
        ...

    def insert_checkpoint(self, record: CheckpointRecord) -> None: ...

    def add_log_meta(self, values: Mapping[str, str]) -> None:
        """Record ``log_meta`` rows; each name is recorded once and never changed."""
        ...


class Store(StoreReads, Protocol):
    """The storage of one ledger."""

    def write(self) -> AbstractContextManager[WriteTxn]:
        """Open the single writer's transaction (serialized across threads and processes)."""
        ...

    def close(self) -> None: ...

    # --- the log
    def events_by_seqs(self, seqs: Sequence[int]) -> list[EventRecord]: ...

    def event_by_hash(self, h: bytes) -> EventRecord | None: ...

    def iter_events(self, start: int = 0, batch: int = 10_000) -> Iterator[EventRecord]: ...

    def lot_seqs(self, lot: str, upto: int | None = None) -> list[int]:
        """The log indexes on a lot's chain (up to ``upto``), in order."""
        ...

    def chains(self, lots: Sequence[str]) -> dict[str, list[int]]:
        """The log indexes on each lot's chain, in order, for many lots at once."""
        ...

    def party_seqs(self, parties: Sequence[str], upto: int | None = None) -> list[int]:
        """Log indexes of the registration and key events of ``parties``, in order."""
        ...

    def lot_states(self, points: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Lot]:
        """The states of lots right after the given (lot, seq) cut-off points (those kept)."""
        ...

    def visible_lots(
        self,
        party: str,
        *,
        after: str | None,
        limit: int,
        where: LotFilter = ALL_LOTS,
    ) -> list[tuple[Lot, int | None]]:
        """The lots ``party`` may see, in id order after ``after``, each as the party may see
        it (with its cut-off), filtered on that state: one bounded query."""
        ...

    def all_visibility(self) -> dict[tuple[str, str], int | None]: ...

    def all_inputs(self) -> set[InputRow]: ...

    def all_lot_states(self) -> dict[tuple[str, int], str]:
        """(lot, seq) -> the stored state JSON."""
        ...

    def custody_lots(self, party: str) -> list[str]:
        """Lots ``party`` holds, has held, or has had shipped to it."""
        ...

    def checkpoint_at(self, size: int) -> CheckpointRecord | None: ...

    # --- listings with a cursor
    def list_lots(
        self,
        *,
        after: str | None,
        limit: int,
        where: LotFilter = ALL_LOTS,
    ) -> list[Lot]: ...

    def list_parties(self, *, after: str | None, limit: int) -> list[Party]: ...

    # --- tokens and certificates
    def add_token(self, token: TokenRecord) -> None: ...

    def token(self, token_hash: str) -> TokenRecord | None:
        """A LIVE token by its SHA-256 (None when unknown or revoked)."""
        ...

    def tokens(self) -> list[TokenRecord]:
        """Every token ever issued, oldest first."""
        ...

    def revoke_token(self, token_hash: str) -> bool:
        """Revoke a live token; False when there is none with that hash."""
        ...

    # --- console sessions (shared by every server process on the database)
    def open_session(
        self, record: SessionRecord, *, now_us: int, per_token: int, most: int
    ) -> None:
        """Store a new session, in one transaction serialized with every other ``open_session``
        on the database: first drop the sessions expired at ``now_us``, then the token's oldest
        so that it keeps at most ``per_token`` with the new one, then the oldest of all so that
        at most ``most`` remain with it."""
        ...

    def session(self, sid_hash: str) -> SessionRecord | None:
        """The stored session whose id has this SHA-256 (expired or not; None: none)."""
        ...

    def delete_session(self, sid_hash: str) -> bool:
        """Forget a session; False when there was none."""
        ...

    def add_certificate(self, certificate: CertificateRecord) -> bool:
        """Store a certificate; False (nothing stored) when its status entry is taken."""
        ...

    def certificate(self, cert_id: str) -> CertificateRecord | None: ...

    def certificates(
        self,
        *,
        lot: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        seen_by: str | None = None,
    ) -> list[CertificateRecord]:
        """Issued certificates by id (of one lot when ``lot`` is given), after ``after``;
        with ``seen_by``, only those of lots in that party's view (spec §9.4, any cut-off)."""
        ...

    def certificate_count(self) -> int: ...

    def status_indexes(self, status_list: int) -> set[int]:
        """The indexes taken in one status list."""
        ...

    def add_certificate_status(self, record: CertificateStatusRecord) -> bool:
        """Record a status change; False when that certificate already has that status."""
        ...

    def certificate_statuses(
        self, cert_ids: Sequence[str] | None = None
    ) -> list[CertificateStatusRecord]:
        """Recorded status changes (of ``cert_ids``, or all), oldest first."""
        ...

    def add_cosignature(self, record: CosignatureRecord) -> bool:
        """Store a verified witness cosignature; False when that witness's cosignature of that
        size is already stored."""
        ...

    def cosignatures(self, size: int | None = None) -> list[CosignatureRecord]:
        """Stored cosignatures (of the checkpoint at ``size``, or all), by size then witness."""
        ...

    def latest_cosigned_size(self, witnesses: Sequence[str], quorum: int) -> int | None:
        """The largest checkpoint size cosigned by at least ``quorum`` of ``witnesses`` (vkeys)."""
        ...

    # --- whole-table reads for fsck
    def event_meta(self) -> dict[int, EventMeta]:
        """The copied columns of every event, by seq."""
        ...

    def all_nodes(self) -> dict[tuple[int, int], bytes]: ...

    def all_lot_events(self) -> set[LotEvent]: ...

    def all_party_events(self) -> set[PartyEvent]: ...

    def all_custody(self) -> set[Custody]: ...

    def all_state(self, table: str) -> list[StateRow]:
        """Every derived row of ``parties``, ``keys`` or ``lots``."""
        ...

    def all_credits(self) -> dict[Account, str]: ...

    def all_checkpoints(self) -> list[CheckpointRecord]: ...
