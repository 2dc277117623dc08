"""``fsck``: re-derive the Merkle tree and all derived state from the stored events and compare.

Detects any tampering with stored rows: changed event bytes (hash mismatch), deleted or
reordered events (seq gaps, chain breaks, tree mismatch), forged or replaced signatures (rules
replay), checkpoints that do not match the re-derived tree or whose signature fails, and derived
tables (lots, parties, keys, credits, indexes) that differ from a fresh replay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core import merkle, rules
from ..core.checkpoint import Verifier, verify_checkpoint
from ..core.events import parse_event
from ..core.visibility import MemoryVisibility
from ..errors import LedgerError
from ..store.protocol import Custody, EventRows, LotEvent, PartyEvent, Store

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


def fsck(store: Store, *, config: rules.RuleConfig, verifier: Verifier, origin: str) -> FsckReport:
    """Check the whole database in ``store`` against the log key; never modifies it.

    Args:
        config: the ledger's rule configuration (the replay must refuse what it refused).
        verifier, origin: the log key and origin every stored checkpoint must be signed with.
    """
    report = FsckReport()
    state = rules.MemoryState()
    views = MemoryVisibility()
    tree = merkle.CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    lot_index: set[LotEvent] = set()
    party_index: set[PartyEvent] = set()
    custody: set[Custody] = set()
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    expected = 0
    meta = store.event_meta()
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
        rows = EventRows.of(rec.seq, ev)
        if meta.get(rec.seq) != rows.meta:
            report.add(
                "event_altered",
                f"the type/actor/time columns of event {ev.id} differ from the signed event",
                rec.seq,
            )
        try:
            views.follow(state, rec.seq, ev, config=config)
        except LedgerError as e:
            report.add(e.code, f"replaying event {ev.id} ({ev.type}) fails: {e.message}", rec.seq)
        lot_index.update(rows.lots)
        party_index.update(rows.parties)
        custody.update(rows.custody)
    _compare_nodes(store.all_nodes(), nodes, report)
    _compare_set("event_lots", store.all_lot_events(), lot_index, report)
    _compare_set("party_events", store.all_party_events(), party_index, report)
    _compare_set(
        "custody",
        {(f"{p}:{lot}", s) for p, lot, s in store.all_custody()},
        {(f"{p}:{lot}", s) for p, lot, s in custody},
        report,
    )
    _compare_state(store, state, report)
    _compare_views(store, views, report)
    for cp_row in store.all_checkpoints():
        report.checkpoints += 1
        size, root, note = cp_row.size, cp_row.root, cp_row.note
        if size not in roots:
            report.add(
                "checkpoint_beyond_log",
                f"checkpoint at size {size} but the log has {tree.size} events",
                None,
            )
            continue
        if root != roots[size]:
            report.add(
                "checkpoint_mismatch",
                f"checkpoint at size {size} signs root "
                f"{root.hex()[:16]}… but the stored events re-derive "
                f"{roots[size].hex()[:16]}…: the log was rewritten after it was signed",
                None,
            )
        try:
            cp = verify_checkpoint(note, verifier, origin=origin)
        except LedgerError as e:
            report.add("bad_checkpoint", f"checkpoint at size {size}: {e.message}", None)
            continue
        if cp.size != size or cp.root != root:
            report.add(
                "bad_checkpoint",
                f"checkpoint row at size {size} differs from its signed note",
                None,
            )
    return report


def _compare_nodes(
    stored: dict[tuple[int, int], bytes], nodes: dict[tuple[int, int], bytes], report: FsckReport
) -> None:
    for key, value in nodes.items():
        got = stored.pop(key, None)
        if got is None:
            report.add("node_missing", f"Merkle node {key} is missing", None)
        elif got != value:
            report.add("node_altered", f"Merkle node {key} differs from the re-derived tree", None)
    for key in list(stored)[:10]:
        report.add("node_extra", f"Merkle node {key} does not belong to the tree", None)


def _compare_set(
    name: str,
    stored: AbstractSet[tuple[str, int]],
    derived: AbstractSet[tuple[str, int]],
    report: FsckReport,
) -> None:
    for key, seq in sorted(derived - stored)[:10]:
        report.add("index_missing", f"{name} lacks ({key}, {seq})", seq)
    for key, seq in sorted(stored - derived)[:10]:
        report.add("index_extra", f"{name} has ({key}, {seq}) that no event justifies", seq)


def _compare_state(store: Store, state: rules.MemoryState, report: FsckReport) -> None:
    snap = state.snapshot()
    for table in ("parties", "keys", "lots"):
        derived = snap[table]
        rows = store.all_state(table)
        stored = {row.key: json.loads(row.data) for row in rows}
        for k in sorted(set(derived) | set(stored)):
            if _norm(derived.get(k)) != _norm(stored.get(k)):
                report.add(
                    "state_mismatch", f"{table} row {k!r} differs from the replay of the log", None
                )
        # the columns copied out of ``data`` for filtering must agree with it too
        for row in rows:
            data = stored[row.key]
            if any(value != str(data.get(name)) for name, value in row.copied.items()):
                report.add(
                    "state_mismatch",
                    f"{table} row {row.key!r}: a filter column disagrees with its data",
                    None,
                )
    stored_credits = store.all_credits()
    derived_credits = {
        (str(p), str(s), str(e), str(c)): str(b) for p, s, e, c, b in snap["credits"]
    }
    for k in sorted(set(stored_credits) | set(derived_credits), key=str):
        if _num(stored_credits.get(k)) != _num(derived_credits.get(k)):
            report.add(
                "state_mismatch", f"credit account {k} differs from the replay of the log", None
            )


def _compare_views(store: Store, views: MemoryVisibility, report: FsckReport) -> None:
    """The visibility index (spec §9.4) against the replay of the log."""
    _compare_set(
        "transform_inputs",
        {(lot, s) for s, lot in store.all_inputs()},
        {(lot, s) for s, lot in views.all_inputs()},
        report,
    )
    stored_states = store.all_lot_states()
    for key in sorted(set(stored_states) | set(views.states)):
        derived = views.states.get(key)
        stored = stored_states.get(key)
        if _norm(None if derived is None else derived.to_dict()) != _norm(
            None if stored is None else json.loads(stored)
        ):
            report.add("state_mismatch", f"lot_states row {key} differs from the replay", key[1])
    stored_views = store.all_visibility()
    for party, lot in sorted(set(stored_views) | set(views.rows)):
        pair = (party, lot)
        if (pair in stored_views) != (pair in views.rows) or (
            stored_views.get(pair) != views.rows.get(pair)
        ):
            report.add(
                "state_mismatch",
                f"visibility of lot {lot!r} to {party!r} differs from the replay of the log",
                None,
            )


def _norm(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _num(value: str | None) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)
