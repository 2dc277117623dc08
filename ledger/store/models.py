"""Storage rows (SQLModel ``table=True``). They never leave ``ledger.store``.

Append-only tables (database triggers refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE; see
the Alembic migrations): :data:`APPEND_ONLY_TABLES`. Derived tables (rebuilt and compared by
``fsck``): ``parties``, ``keys``, ``lots``, ``credits``, ``visibility``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "APPEND_ONLY_TABLES",
    "CertificateRow",
    "CheckpointRow",
    "ConsoleSessionRow",
    "CreditRow",
    "CustodyRow",
    "EventLotRow",
    "EventRow",
    "KeyRow",
    "LogMetaRow",
    "LotRow",
    "LotStateRow",
    "NodeRow",
    "PartyEventRow",
    "PartyRow",
    "TokenRow",
    "TransformInputRow",
    "VisibilityRow",
    "WitnessCosignatureRow",
]


class EventRow(SQLModel, table=True):
    """One accepted signed event at log index ``seq``; ``canonical`` is JCS of the envelope."""

    __tablename__ = "events"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    id: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    type: str = Field(sa_column=Column(Text, nullable=False))
    actor: str = Field(sa_column=Column(Text, nullable=False))
    time: str = Field(sa_column=Column(Text, nullable=False))
    canonical: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class EventLotRow(SQLModel, table=True):
    """Index: event ``seq`` is on the chain of ``lot`` (it created or touched it)."""

    __tablename__ = "event_lots"
    lot: str = Field(sa_column=Column(Text, primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class PartyEventRow(SQLModel, table=True):
    """Index: event ``seq`` registers ``party`` or adds/revokes one of its keys."""

    __tablename__ = "party_events"
    party: str = Field(sa_column=Column(Text, primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class CustodyRow(SQLModel, table=True):
    """Index: ``party`` created, received, or was sent ``lot`` at ``seq`` (its custody history)."""

    __tablename__ = "custody"
    party: str = Field(sa_column=Column(Text, primary_key=True))
    lot: str = Field(sa_column=Column(Text, primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class TransformInputRow(SQLModel, table=True):
    """Index: the transform at ``seq`` consumed lot ``input`` (``ledger.core.visibility``): with
    ``event_lots``, the edges of the audit-bundle closure."""

    __tablename__ = "transform_inputs"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    input: str = Field(sa_column=Column(Text, primary_key=True))


class LotStateRow(SQLModel, table=True):
    """A lot's state right after event ``seq``, kept where a partner's view may end
    (``ledger.core.visibility.cut_lots``; ``data`` is ``rules.Lot`` as JSON)."""

    __tablename__ = "lot_states"
    lot: str = Field(sa_column=Column(Text, primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    custodian: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(sa_column=Column(Text, nullable=False))


class VisibilityRow(SQLModel, table=True):
    """Derived: ``party`` may see ``lot`` up to log index ``upto`` (NULL: all of it), spec §9.4."""

    __tablename__ = "visibility"
    party: str = Field(sa_column=Column(Text, primary_key=True))
    lot: str = Field(sa_column=Column(Text, primary_key=True))
    upto: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class NodeRow(SQLModel, table=True):
    """A complete Merkle subtree: leaves [idx*2^level, (idx+1)*2^level)."""

    __tablename__ = "nodes"
    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(SQLModel, table=True):
    """A signed checkpoint (C2SP signed note) of the tree at ``size``."""

    __tablename__ = "checkpoints"
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    signed_at: str = Field(sa_column=Column(Text, nullable=False))


class PartyRow(SQLModel, table=True):
    """Derived: a registered party (``data`` is ``rules.Party`` as JSON)."""

    __tablename__ = "parties"
    id: str = Field(sa_column=Column(Text, primary_key=True))
    data: str = Field(sa_column=Column(Text, nullable=False))


class KeyRow(SQLModel, table=True):
    """Derived: a party key and its validity (``data`` is ``rules.Key`` as JSON)."""

    __tablename__ = "keys"
    kid: str = Field(sa_column=Column(Text, primary_key=True))
    party: str = Field(sa_column=Column(Text, nullable=False, index=True))
    added_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True, index=True))
    data: str = Field(sa_column=Column(Text, nullable=False))


class LotRow(SQLModel, table=True):
    """Derived: a lot's current state (``data`` is ``rules.Lot`` as JSON)."""

    __tablename__ = "lots"
    __table_args__ = (Index("ix_lots_custodian", "custodian"),)
    lot: str = Field(sa_column=Column(Text, primary_key=True))
    custodian: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(Text, nullable=False))
    material: str = Field(sa_column=Column(Text, nullable=False))
    head: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(sa_column=Column(Text, nullable=False))


class CreditRow(SQLModel, table=True):
    """Derived: a mass-balance credit account (party, site, element, category) and its balance."""

    __tablename__ = "credits"
    party: str = Field(sa_column=Column(Text, primary_key=True))
    site: str = Field(sa_column=Column(Text, primary_key=True))
    element: str = Field(sa_column=Column(Text, primary_key=True))
    category: str = Field(sa_column=Column(Text, primary_key=True))
    balance: str = Field(sa_column=Column(Text, nullable=False))


class CertificateRow(SQLModel, table=True):
    """An issued certificate: the signed credential and the bundle it was computed from."""

    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_lot", "lot"),
        Index("ux_certificates_status", "status_list", "status_index", unique=True),
    )
    id: str = Field(sa_column=Column(Text, primary_key=True))
    lot: str = Field(sa_column=Column(Text, nullable=False))
    credential: str = Field(sa_column=Column(Text, nullable=False))
    bundle: str = Field(sa_column=Column(Text, nullable=False))
    issued_at: str = Field(sa_column=Column(Text, nullable=False))
    #: its entry in a Bitstring Status List (spec §8.9); NULL for certificates of revision 1
    status_list: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    status_index: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class CertificateStatusRow(SQLModel, table=True):
    """A status change of a certificate (spec §8.9), at most one per (certificate, status)."""

    __tablename__ = "certificate_status"
    cert_id: str = Field(sa_column=Column(Text, primary_key=True))
    status: str = Field(sa_column=Column(Text, primary_key=True))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    #: the log size when the change was recorded
    log_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    recorded_at: str = Field(sa_column=Column(Text, nullable=False))
    #: who recorded it: ``ledger`` (figures no longer supported) or the revoking party
    recorded_by: str = Field(sa_column=Column(Text, nullable=False))


class WitnessCosignatureRow(SQLModel, table=True):
    """A verified witness cosignature of the checkpoint at ``size`` (spec §5.9)."""

    __tablename__ = "witness_cosignatures"
    witness: str = Field(sa_column=Column(Text, primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    line: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: str = Field(sa_column=Column(Text, nullable=False))


class LogMetaRow(SQLModel, table=True):
    """What the database records about itself, once per name (``log_vkey``: the log key pinned
    when the ledger was first opened; ``demo``: the database was made in demo mode)."""

    __tablename__ = "log_meta"
    name: str = Field(sa_column=Column(Text, primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class TokenRow(SQLModel, table=True):
    """An API bearer token, stored only as its SHA-256."""

    __tablename__ = "tokens"
    token_hash: str = Field(sa_column=Column(Text, primary_key=True))
    party: str = Field(sa_column=Column(Text, nullable=False))
    role: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
    revoked: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class ConsoleSessionRow(SQLModel, table=True):
    """A console sign-in session (spec §9.10), shared by every server process on the database:
    the SHA-256 of its id (never the id), the token's SHA-256, its CSRF token, and its opening
    and end in microseconds since the Unix epoch (UTC). Rows are deleted on sign-out, expiry and
    eviction (not append-only)."""

    __tablename__ = "console_sessions"
    __table_args__ = (
        Index("ix_console_sessions_token", "token_hash", "created_us"),
        Index("ix_console_sessions_created", "created_us"),
        Index("ix_console_sessions_expires", "expires_us"),
    )
    sid_hash: str = Field(sa_column=Column(Text, primary_key=True))
    token_hash: str = Field(sa_column=Column(Text, nullable=False))
    csrf: str = Field(sa_column=Column(Text, nullable=False))
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_us: int = Field(sa_column=Column(BigInteger, nullable=False))


#: Every table whose rows are never changed or removed (guarded by triggers in the database).
APPEND_ONLY_TABLES = (
    "events",
    "event_lots",
    "party_events",
    "custody",
    "transform_inputs",
    "lot_states",
    "nodes",
    "checkpoints",
    "certificates",
    "certificate_status",
    "log_meta",
    "witness_cosignatures",
)
