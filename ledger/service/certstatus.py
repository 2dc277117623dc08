"""Certificate status (spec §8.9): superseded when the ledger no longer supports a certificate's
figures, revoked when an operator withdraws it; recorded append-only, published as W3C
Bitstring Status Lists.

Supersession is found when status is read (the certificate's own status, a status list, its
page), never on the write path: a certificate is re-checked only when an event was appended
since its checkpoint on a lot of its provenance closure (the lot, its inputs, theirs...), and
then its figures (:func:`~ledger.attest.certificates.certified_figures`) are recomputed from the
ledger on the certificate's ``as_of`` and compared. A change is recorded once (the first node to
see it records it; the others' inserts are no-ops), with the log size it was found at.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..attest.certificates import certified_figures
from ..core.checkpoint import Checkpoint
from ..core.values import format_time
from ..core.visibility import closure
from ..errors import NotFound
from ..store.protocol import CertificateRecord, CertificateStatusRecord, Store

__all__ = ["CertificateStatus", "StatusBook"]

#: who records a supersession: the ledger itself (revocations name the revoking party)
LEDGER = "ledger"
#: how long a status list's bits are reused before its certificates are re-examined
LIST_REUSE_SECONDS = 30.0


@dataclass(frozen=True)
class CertificateStatus:
    """A certificate's current status (spec §8.9)."""

    cert_id: str
    #: the credential's ``id`` (its public page for certificates with a status entry)
    credential_id: str
    status: str  # "valid" | "superseded" | "revoked"
    #: the recorded changes, oldest first (a superseded certificate may be revoked later)
    history: tuple[CertificateStatusRecord, ...]
    #: the credential id of the newest valid certificate of the same lot issued after this one
    #: was superseded, if any
    superseded_by: str | None
    #: the log size up to which the figures were checked
    checked_size: int
    status_list: int | None = None
    status_index: int | None = None

    @property
    def reason(self) -> str | None:
        return self.history[-1].reason if self.history else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.credential_id,
            "status": self.status,
            "reason": self.reason,
            "superseded_by": self.superseded_by,
            "checked_size": self.checked_size,
            "history": [
                {
                    "status": h.status,
                    "reason": h.reason,
                    "log_size": h.log_size,
                    "recorded_at": h.recorded_at,
                    "recorded_by": h.recorded_by,
                }
                for h in self.history
            ],
        }


def _status(history: Sequence[CertificateStatusRecord]) -> str:
    kinds = {h.status for h in history}
    return "revoked" if "revoked" in kinds else "superseded" if kinds else "valid"


def _custodian(record: CertificateRecord) -> object:
    subject = json.loads(record.credential).get("credentialSubject") or {}
    return subject.get("custodian")


class StatusBook:
    """Reads and records certificate statuses for one ledger.

    Args:
        store: the ledger's store.
        report: ``(lot, as_of) -> the spec §7 report`` computed from the ledger now.
        size: the current log size.
        clock: the ledger clock.
    """

    def __init__(
        self,
        store: Store,
        *,
        report: Callable[[str, date], Mapping[str, Any]],
        size: Callable[[], int],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._report = report
        self._size = size
        self._clock = clock
        #: certificate id -> the log size its figures were last found unchanged at
        self._checked: dict[str, int] = {}
        self._lock = threading.Lock()
        #: certificate id -> the lots of its provenance closure at its checkpoint
        self._closures: dict[str, list[str]] = {}
        #: status list -> (when, its set bits): see :meth:`set_indexes`
        self._lists: dict[int, tuple[float, list[int]]] = {}

    # ------------------------------------------------------------------ reads
    def status(self, record: CertificateRecord) -> CertificateStatus:
        """The certificate's status, after re-checking its figures if the log grew."""
        size = self.refresh([record])
        history = tuple(self._store.certificate_statuses([record.id]))
        status = _status(history)
        credential = json.loads(record.credential)
        return CertificateStatus(
            cert_id=record.id,
            credential_id=str(credential.get("id", record.id)),
            status=status,
            history=history,
            superseded_by=self._successor(record) if status == "superseded" else None,
            checked_size=size,
            status_list=record.status_list,
            status_index=record.status_index,
        )

    def set_indexes(self, status_list: int) -> list[int]:
        """The set bits of one status list, every certificate in it re-checked first. The
        answer is reused for :data:`LIST_REUSE_SECONDS` (a token-free route must not let anyone
        make the server re-examine every certificate at will), except after a revocation on
        this node; a supersession shows at most that much later."""
        now = time.monotonic()
        with self._lock:
            kept = self._lists.get(status_list)
        if kept is not None and now - kept[0] < LIST_REUSE_SECONDS:
            return kept[1]
        records = [r for r in self._store.certificates() if r.status_list == status_list]
        self.refresh(records)
        ids = {r.id: r.status_index for r in records}
        changed = {h.cert_id for h in self._store.certificate_statuses(sorted(ids))}
        found = sorted(i for c, i in ids.items() if c in changed and i is not None)
        with self._lock:
            self._lists[status_list] = (now, found)
        return found

    def _successor(self, record: CertificateRecord) -> str | None:
        """The newest still-valid certificate of the same lot issued after ``record`` while the
        lot was with the custodian ``record`` names. The record is public (its URL is the old
        certificate's capability) and readable by every partner that may read the old
        certificate: a certificate issued after the lot moved on tells of history those
        readers may not see (spec §9.4), so it is never named as the successor."""
        custodian = _custodian(record)
        later = [
            r
            for r in self._store.certificates(lot=record.lot)
            if r.id != record.id and r.issued_at >= record.issued_at and _custodian(r) == custodian
        ]
        for other in sorted(later, key=lambda r: r.issued_at, reverse=True):
            self.refresh([other])
            if not self._store.certificate_statuses([other.id]):
                return str(json.loads(other.credential).get("id", other.id))
        return None

    # ------------------------------------------------------------------ writes
    def refresh(self, records: Sequence[CertificateRecord]) -> int:
        """Re-check the figures of every valid certificate of ``records`` against the ledger
        (when an event touched its closure since it was last checked) and record a
        supersession where they changed. Returns the log size checked at."""
        size = self._size()
        with self._lock:
            todo = [r for r in records if self._checked.get(r.id, -1) < size]
        if not todo:
            return size
        done = {h.cert_id for h in self._store.certificate_statuses([r.id for r in todo])}
        for record in todo:
            if record.id not in done:
                self._check(record, size)
            with self._lock:
                self._checked[record.id] = max(size, self._checked.get(record.id, -1))
        return size

    def _check(self, record: CertificateRecord, size: int) -> None:
        credential = json.loads(record.credential)
        subject = credential.get("credentialSubject") or {}
        note = str((subject.get("evidence") or {}).get("checkpoint", ""))
        issued_size = Checkpoint.parse(note.split("\n\n", 1)[0] + "\n").size
        since = self._checked.get(record.id, issued_size)
        lots = self._closures.get(record.id)
        if lots is None:  # the closure at the certificate's checkpoint never changes
            lots = sorted(closure(self._store, {record.lot: issued_size - 1}))
            with self._lock:
                self._closures[record.id] = lots
        chains = self._store.chains(lots)
        if not any(s >= since for seqs in chains.values() for s in seqs):
            return
        claimed = subject.get("recycled_content") or {}
        try:
            as_of = date.fromisoformat(str(claimed.get("as_of")))
            now = self._report(record.lot, as_of)
        except NotFound:
            now = {}
        before, after = certified_figures(claimed), certified_figures(now)
        if before == after:
            return
        changed = sorted(k for k, v in before.items() if after.get(k) != v)
        self._record(
            record,
            "superseded",
            "the ledger no longer supports its figures: "
            + ", ".join(changed)
            + f" changed by events appended after log size {issued_size}",
            by=LEDGER,
            size=size,
        )

    def _record(
        self, record: CertificateRecord, status: str, reason: str, *, by: str, size: int
    ) -> bool:
        """Append a status change (False: the certificate already has that status)."""
        return self._store.add_certificate_status(
            CertificateStatusRecord(
                cert_id=record.id,
                status=status,
                reason=reason,
                log_size=size,
                recorded_at=format_time(self._clock().replace(microsecond=0)),
                recorded_by=by,
            )
        )

    def revoke(self, record: CertificateRecord, *, reason: str, by: str) -> bool:
        """Record a revocation; False when it was already revoked."""
        with self._lock:
            self._lists.clear()
        return self._record(record, "revoked", reason, by=by, size=self._size())
