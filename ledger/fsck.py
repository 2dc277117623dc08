"""``fsck``: re-derive the Merkle tree and all derived state from the stored events and compare.

Detects any tampering with stored rows: changed event bytes (hash mismatch), deleted or
reordered events (seq gaps, chain breaks, tree mismatch), forged or replaced signatures (rules
replay), checkpoints that do not match the re-derived tree or whose signature fails, and derived
tables (lots, parties, keys, credits, indexes) that differ from a fresh replay.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import merkle, rules
from .checkpoint import verify_checkpoint
from .errors import LedgerError
from .events import parse_event
from .service import custody_of, party_subjects

if TYPE_CHECKING:
    from .service import Ledger

__all__ = ["FsckReport", "fsck"]


@dataclass(slots=True)
class FsckReport:
    """Problems found; ``ok`` when none. Each problem is (code, message, seq or None)."""

    events: int = 0
    checkpoints: int = 0
    problems: list[tuple[str, str, int | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, code: str, message: str, seq: int | None = None) -> None:
        if len(self.problems) < 1000:
            self.problems.append((code, message, seq))

    def to_text(self) -> str:
        head = f"fsck: {self.events} events, {self.checkpoints} checkpoints: "
        head += "clean" if self.ok else f"{len(self.problems)} problem(s)"
        lines = [head]
        for code, message, seq in self.problems:
            lines.append(f"  {code}{'' if seq is None else f' [seq {seq}]'}: {message}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "problems": [{"code": c, "message": m, "seq": s} for c, m, s in self.problems],
        }


def fsck(ledger: Ledger) -> FsckReport:
    """Check the whole database of ``ledger``; never modifies it."""
    report = FsckReport()
    store = ledger.store
    state = rules.MemoryState()
    tree = merkle.CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    lot_index: set[tuple[str, int]] = set()
    party_index: set[tuple[str, int]] = set()
    custody: set[tuple[str, str, int]] = set()
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    expected = 0
    meta = {int(s): (str(t), str(a), str(tm)) for s, t, a, tm in store.event_meta()}
    for rec in store.iter_events():
        if rec.seq != expected:
            report.add(
                "seq_gap",
                f"log index jumps from {expected - 1} to {rec.seq}: "
                f"{rec.seq - expected} event(s) are missing",
                rec.seq,
            )
            expected = rec.seq
        expected += 1
        report.events += 1
        digest = hashlib.sha256(rec.canonical).digest()
        if digest != rec.hash:
            report.add(
                "event_altered",
                f"stored bytes of event {rec.id} hash to "
                f"{digest.hex()[:16]}…, not its recorded hash {rec.hash.hex()[:16]}…",
                rec.seq,
            )
        for level, idx, value in tree.append(merkle.leaf_hash(rec.hash)):
            nodes[(level, idx)] = value
        roots[tree.size] = tree.root()
        try:
            ev = parse_event(rec.canonical)
        except LedgerError as e:
            report.add("event_unreadable", f"event {rec.id}: {e.message}", rec.seq)
            continue
        if ev.id != rec.id:
            report.add(
                "event_altered", f"stored id {rec.id} differs from the event's id {ev.id}", rec.seq
            )
        if meta.get(rec.seq) != (ev.type, ev.actor, ev.time):
            report.add(
                "event_altered",
                f"the type/actor/time columns of event {ev.id} differ from the signed event",
                rec.seq,
            )
        try:
            state.accept(ev, seq=rec.seq, now=None, config=ledger.config)
        except LedgerError as e:
            report.add(e.code, f"replaying event {ev.id} ({ev.type}) fails: {e.message}", rec.seq)
        lot_index.update((lot, rec.seq) for lot in (*ev.lots_touched, *ev.lots_created))
        party_index.update((p, rec.seq) for p in party_subjects(ev))
        custody.update((p, lot, rec.seq) for p, lot in custody_of(ev))
    _compare_nodes(store.all_rows("nodes"), nodes, report)
    _compare_set(
        "event_lots", {(str(a), int(b)) for a, b in store.all_rows("event_lots")}, lot_index, report
    )
    _compare_set(
        "party_events",
        {(str(a), int(b)) for a, b in store.all_rows("party_events")},
        party_index,
        report,
    )
    _compare_set(
        "custody",
        {(f"{p}:{lot}", int(s)) for p, lot, s in store.all_rows("custody")},
        {(f"{p}:{lot}", s) for p, lot, s in custody},
        report,
    )
    _compare_state(ledger, state, report)
    verifier = ledger.log_signer.verifier
    for size, root, note, _ in store.all_rows("checkpoints"):
        report.checkpoints += 1
        size = int(size)
        if size not in roots:
            report.add(
                "checkpoint_beyond_log",
                f"checkpoint at size {size} but the log has {tree.size} events",
                None,
            )
            continue
        if bytes(root) != roots[size]:
            report.add(
                "checkpoint_mismatch",
                f"checkpoint at size {size} signs root "
                f"{bytes(root).hex()[:16]}… but the stored events re-derive "
                f"{roots[size].hex()[:16]}…: the log was rewritten after it was signed",
                None,
            )
        try:
            cp = verify_checkpoint(str(note), verifier, origin=ledger.origin)
        except LedgerError as e:
            report.add("bad_checkpoint", f"checkpoint at size {size}: {e.message}", None)
            continue
        if cp.size != size or cp.root != bytes(root):
            report.add(
                "bad_checkpoint",
                f"checkpoint row at size {size} differs from its signed note",
                None,
            )
    return report


def _compare_nodes(
    rows: list[tuple[Any, ...]], nodes: dict[tuple[int, int], bytes], report: FsckReport
) -> None:
    stored = {(int(lv), int(i)): bytes(h) for lv, i, h in rows}
    for key, value in nodes.items():
        got = stored.pop(key, None)
        if got is None:
            report.add("node_missing", f"Merkle node {key} is missing", None)
        elif got != value:
            report.add("node_altered", f"Merkle node {key} differs from the re-derived tree", None)
    for key in list(stored)[:10]:
        report.add("node_extra", f"Merkle node {key} does not belong to the tree", None)


def _compare_set(
    name: str, stored: set[tuple[str, int]], derived: set[tuple[str, int]], report: FsckReport
) -> None:
    for key, seq in sorted(derived - stored)[:10]:
        report.add("index_missing", f"{name} lacks ({key}, {seq})", seq)
    for key, seq in sorted(stored - derived)[:10]:
        report.add("index_extra", f"{name} has ({key}, {seq}) that no event justifies", seq)


#: table -> (column index, data member) of the columns copied out of the JSON ``data``
_COPIED: dict[str, tuple[tuple[int, str], ...]] = {
    "keys": ((1, "party"),),
    "lots": ((1, "custodian"), (2, "status"), (3, "material"), (4, "head")),
}


def _compare_state(ledger: Ledger, state: rules.MemoryState, report: FsckReport) -> None:
    snap = state.snapshot()
    for table, kind in (("parties", "parties"), ("keys", "keys"), ("lots", "lots")):
        derived = {k: v for k, v in snap[kind].items()}
        rows = ledger.store.all_rows(table)
        stored = {str(r[0]): json.loads(str(r[-1])) for r in rows}
        for k in sorted(set(derived) | set(stored)):
            if _norm(derived.get(k)) != _norm(stored.get(k)):
                report.add(
                    "state_mismatch", f"{table} row {k!r} differs from the replay of the log", None
                )
        # the columns copied out of ``data`` for filtering must agree with it too
        for row in rows:
            data = json.loads(str(row[-1]))
            copies = _COPIED.get(table, ())
            if any(str(row[i]) != str(data.get(name)) for i, name in copies):
                report.add(
                    "state_mismatch",
                    f"{table} row {row[0]!r}: a filter column disagrees with its data",
                    None,
                )
    stored_credits = {
        (str(p), str(s), str(e), str(c)): str(b)
        for p, s, e, c, b in ledger.store.all_rows("credits")
    }
    derived_credits = {
        (str(p), str(s), str(e), str(c)): str(b) for p, s, e, c, b in snap["credits"]
    }
    for k in sorted(set(stored_credits) | set(derived_credits), key=str):
        if _num(stored_credits.get(k)) != _num(derived_credits.get(k)):
            report.add(
                "state_mismatch", f"credit account {k} differs from the replay of the log", None
            )


def _norm(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _num(value: str | None) -> Any:
    from decimal import Decimal

    return Decimal(0) if value is None else Decimal(value)
