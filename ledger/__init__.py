"""LTL/1 lot traceability ledger: signed custody events, lot chains, an RFC 9162 Merkle log with
C2SP checkpoints, storage, and offline audit-bundle verification."""

__version__ = "0.1.0"
