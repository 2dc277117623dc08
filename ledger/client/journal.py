"""The posting journal (spec §5.11): a local, append-only record of every event this client
posts, so that a monitor can tell the party's own events from ones signed with a stolen key.

One JSON line per event, written and flushed to disk BEFORE the event is sent: a crash between
writing and posting leaves a line for an event that may never reach the log (harmless), never
an event in the log without its line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..core.events import SignedEvent
from .errors import ClientError

__all__ = ["JOURNAL_ENV", "Journal", "journaled_hashes"]

#: environment variable naming the journal file when ``journal=`` is not passed
JOURNAL_ENV = "LEDGER_JOURNAL"


def journal_line(ev: SignedEvent) -> str:
    """The journal line of ``ev``: hash, id, type, actor, kid and time, as one JSON object."""
    record = {
        "hash": ev.hash,
        "id": ev.id,
        "type": ev.type,
        "actor": ev.actor,
        "kid": ev.kid,
        "time": ev.time,
    }
    return json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"


class Journal:
    """Appends to the journal file at ``path`` (created with mode 0600 when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, evs: Iterable[SignedEvent]) -> None:
        """Write one line per event and flush it to disk.

        Raises:
            ClientError: the journal cannot be written (then nothing must be posted).
        """
        text = "".join(journal_line(ev) for ev in evs)
        if not text:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, text.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise ClientError(f"cannot write the journal {self.path}: {e}") from e


def journaled_hashes(path: str | Path) -> set[str]:
    """The event hashes a journal file lists (a missing file lists none; a line that is not
    a journal record, e.g. cut short by a crash, is skipped).

    Raises:
        ClientError: the file exists but cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return set()
    except OSError as e:
        raise ClientError(f"cannot read the journal {path}: {e}") from e
    hashes: set[str] = set()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("hash"), str):
            hashes.add(record["hash"].lower())
    return hashes
