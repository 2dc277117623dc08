"""What a database is, recorded in it the first time a ledger opens it (``log_meta``,
append-only): the log key that signs its checkpoints, and whether demo mode made it (spec §10.1).

* **The log key is pinned.** The first open records the log's verifier key (key name = origin,
  key id, public key). Every later open with another key or origin is refused
  (``log_key_mismatch``): otherwise a wrong ``LEDGER_KEY_DIR`` or ``LEDGER_ORIGIN`` would sign
  the next checkpoint of the same log with another key. A database from before the pin adopts
  the configured key only if its latest stored checkpoint verifies under it.
* **Demo mode only on a demo database.** Demo mode mints an admin token and allows the published
  example keys, so it opens only a database it made (or an empty one, which it then marks).
  A database made in demo mode is refused outside demo mode, for good: its parties sign with
  keys anyone has.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.checkpoint import CheckpointError, Verifier, note_signers, verify_checkpoint
from ..errors import LedgerError
from ..store.protocol import CheckpointRecord, Store, WriteTxn

__all__ = [
    "DEMO",
    "LOG_VKEY",
    "DemoDatabase",
    "DemoRefused",
    "LogKeyMismatch",
    "claim_database",
]

#: ``log_meta`` names: the pinned log verifier key (C2SP vkey), and the demo mark
LOG_VKEY = "log_vkey"
DEMO = "demo"

_WHAT_TO_DO = (
    "A log signs every checkpoint with one key for its whole life (a checkpoint under another "
    "key is a forged log to its verifiers): configure the log key and origin this database "
    "was made with (LEDGER_KEY_DIR/log.pem, LEDGER_ORIGIN), or use a new database for a new log"
)


class LogKeyMismatch(LedgerError):
    """The configured log key (or origin) is not the one this database's log is signed with."""

    code = "log_key_mismatch"


class DemoRefused(LedgerError):
    """Demo mode on a database that demo mode did not make."""

    code = "demo_refused"


class DemoDatabase(LedgerError):
    """A database made in demo mode, opened outside demo mode."""

    code = "demo_database"


def _key(vkey: str) -> str:
    try:
        v = Verifier.parse(vkey)
    except CheckpointError:
        return repr(vkey)
    return f"{v.vkey} (key name {v.name}, key id {v.key_id.hex()})"


def claim_database(store: Store, verifier: Verifier, *, demo: bool) -> None:
    """Check that ``store`` holds the log of ``verifier`` (in or out of demo mode, as it was
    made); on the first open, record both in ``log_meta``. Concurrent first opens are
    serialized by the write transaction, so exactly one records.

    Raises:
        DemoRefused: demo mode on a database with data that demo mode did not make.
        DemoDatabase: a database made in demo mode, outside demo mode.
        LogKeyMismatch: another log key or origin than the pinned one; or, for a database
            from before the pin, a latest checkpoint that does not verify under ``verifier``.
        StorageError: the database failed.
    """
    meta = store.log_meta()
    if LOG_VKEY not in meta:
        with store.write() as tx:
            meta = tx.log_meta()
            if LOG_VKEY not in meta:
                meta = _record(tx, meta, verifier, demo=demo)
    _check(meta, verifier, demo=demo)


def _record(
    tx: WriteTxn, meta: Mapping[str, str], verifier: Verifier, *, demo: bool
) -> dict[str, str]:
    """The first open: pin the key (adopting it for an older database) and mark a demo."""
    fresh = tx.is_empty()
    if demo and not fresh:
        raise DemoRefused(_NOT_MADE_BY_DEMO)
    latest = tx.latest_checkpoint()
    if latest is not None:
        _adopt(latest, verifier)
    values = {LOG_VKEY: verifier.vkey}
    if demo:
        values[DEMO] = "made in demo mode: published example keys allowed; never production"
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


def _check(meta: Mapping[str, str], verifier: Verifier, *, demo: bool) -> None:
    if demo and DEMO not in meta:
        raise DemoRefused(_NOT_MADE_BY_DEMO)
    if not demo and DEMO in meta:
        raise DemoDatabase(
            "this database was made in demo mode, where the published example keys of "
            "keys.example/ (which anyone can sign with) are allowed, so it can never hold a "
            "production log. Open it only in demo mode (`ledger serve --demo` or "
            "LEDGER_DEMO=1), or set LEDGER_DATABASE_URL to a new database and run `ledger init`"
        )
    pinned = meta[LOG_VKEY]
    if pinned != verifier.vkey:
        raise LogKeyMismatch(
            f"this database's log is signed with the log key {_key(pinned)}, pinned when a "
            f"ledger first opened it; the configured log key is {_key(verifier.vkey)}. "
            f"{_WHAT_TO_DO}"
        )


_NOT_MADE_BY_DEMO = (
    "demo mode (`ledger serve --demo`, LEDGER_DEMO=1) refused: this database holds data that "
    "demo mode did not make. Demo mode issues an admin token and allows the published example "
    "keys, so it runs only on a new database or one it made itself. Set LEDGER_DATABASE_URL "
    "to a new database for the demo (e.g. sqlite:///demo.db), or open this one without demo mode"
)
