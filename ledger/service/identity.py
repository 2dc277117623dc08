"""What a database is, recorded in it the first time a ledger opens it (``log_meta``,
append-only): the log key that signs its checkpoints (spec §10.1).

* **The log key is pinned.** The first open records the log's verifier key (key name = origin,
  key id, public key). Every later open with another key or origin is refused
  (``log_key_mismatch``): otherwise a wrong ``LEDGER_KEY_DIR`` or ``LEDGER_ORIGIN`` would sign
  the next checkpoint of the same log with another key. A database from before the pin adopts
  the configured key only if its latest stored checkpoint verifies under it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.checkpoint import CheckpointError, Verifier, note_signers, verify_checkpoint
from ..errors import LedgerError
from ..store.protocol import CheckpointRecord, Store, WriteTxn

__all__ = ["LOG_VKEY", "LogKeyMismatch", "claim_database"]

#: ``log_meta`` name of the pinned log verifier key (C2SP vkey)
LOG_VKEY = "log_vkey"

_WHAT_TO_DO = (
    "A log signs every checkpoint with one key for its whole life (a checkpoint under another "
    "key is a forged log to its verifiers): configure the log key and origin this database "
    "was made with (LEDGER_KEY_DIR/log.pem, LEDGER_ORIGIN), or use a new database for a new log"
)


class LogKeyMismatch(LedgerError):
    """The configured log key (or origin) is not the one this database's log is signed with."""

    code = "log_key_mismatch"


def _key(vkey: str) -> str:
    try:
        v = Verifier.parse(vkey)
    except CheckpointError:
        return repr(vkey)
    return f"{v.vkey} (key name {v.name}, key id {v.key_id.hex()})"


def claim_database(store: Store, verifier: Verifier) -> None:
    """Check that ``store`` holds the log of ``verifier``; on the first open, record it in
    ``log_meta``. Concurrent first opens are serialized by the write transaction, so exactly
    one records.

    Raises:
        LogKeyMismatch: another log key or origin than the pinned one; or, for a database
            from before the pin, a latest checkpoint that does not verify under ``verifier``.
        StorageError: the database failed.
    """
    meta = store.log_meta()
    if LOG_VKEY not in meta:
        with store.write() as tx:
            meta = tx.log_meta()
            if LOG_VKEY not in meta:
                meta = _record(tx, meta, verifier)
    _check(meta, verifier)


def _record(tx: WriteTxn, meta: Mapping[str, str], verifier: Verifier) -> dict[str, str]:
    """The first open: pin the key (adopting it for an older database)."""
    latest = tx.latest_checkpoint()
    if latest is not None:
        _adopt(latest, verifier)
    values = {LOG_VKEY: verifier.vkey}
    tx.add_log_meta(values)
    return {**meta, **values}


def _adopt(latest: CheckpointRecord, verifier: Verifier) -> None:
    """A database from before the pin: the configured key must have signed its latest
    checkpoint."""
    try:
        verify_checkpoint(latest.note, verifier, origin=verifier.name)
    except CheckpointError as e:
        try:
            signers = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note_signers(latest.note))
        except CheckpointError:
            signers = "an unreadable signature"
        raise LogKeyMismatch(
            f"the latest checkpoint in this database (size {latest.size}) is signed by "
            f"{signers}, not by the configured log key {_key(verifier.vkey)}: {e.message}. "
            f"{_WHAT_TO_DO}"
        ) from e


def _check(meta: Mapping[str, str], verifier: Verifier) -> None:
    pinned = meta[LOG_VKEY]
    if pinned != verifier.vkey:
        raise LogKeyMismatch(
            f"this database's log is signed with the log key {_key(pinned)}, pinned when a "
            f"ledger first opened it; the configured log key is {_key(verifier.vkey)}. "
            f"{_WHAT_TO_DO}"
        )
