"""The one exception hierarchy of the ledger.

Every refusal carries a spec code (``code``) and a message that says what went wrong and what to
do about it. Foreign exceptions (SQLAlchemy, cryptography) are wrapped at the boundary with
``raise ... from e`` so callers only ever catch :class:`LedgerError`.
"""

from __future__ import annotations

__all__ = [
    "RULE_CODES",
    "LedgerError",
    "NotFound",
    "RuleViolation",
    "StorageError",
    "VerificationError",
    "WriterBusy",
]

#: The rejection codes of spec §4.
RULE_CODES = frozenset(
    {
        "invalid_event",
        "bad_signature",
        "unknown_party",
        "unknown_key",
        "key_revoked",
        "forbidden",
        "not_custodian",
        "stale_head",
        "lot_exists",
        "unknown_lot",
        "in_transit",
        "not_in_transit",
        "overdraw",
        "mass_not_conserved",
        "bad_time",
        "duplicate_id",
        "insufficient_credits",
    }
)


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose.

    Attributes:
        code: a stable machine-readable code (the spec codes for rule failures).
        message: a human sentence saying what is wrong and what to do.
    """

    code: str = "ledger_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class RuleViolation(LedgerError):
    """An event (or a JSON document) was refused; ``code`` is one of :data:`RULE_CODES`."""

    code = "invalid_event"

    def __init__(self, code: str, message: str) -> None:
        if code not in RULE_CODES:
            raise ValueError(f"unknown rule code {code!r}")
        super().__init__(message, code=code)


class VerificationError(LedgerError):
    """A proof, signature, checkpoint or bundle did not verify."""

    code = "verification_failed"


class StorageError(LedgerError):
    """The database failed or holds something it must not (tampering, corruption)."""

    code = "storage_error"


class WriterBusy(StorageError):
    """Another writer held the log's write lock longer than a writer waits for it: nothing was
    written, and nothing about the events themselves is wrong (retry them as they are)."""


class NotFound(LedgerError):
    """A lot, event, party or checkpoint that was asked for does not exist."""

    code = "not_found"
