"""Audit bundles (spec §6): everything needed to verify a lot's provenance offline.

Closure choice (normative in docs/spec.md §6.2): the original SPEC asked for the lot's chain
up to its head and, recursively, each transform input's chain up to and including the transform
that consumed it. A full replay of the custody and mass rules must know the state of EVERY input
of every transform it replays, so the set is closed under that rule for every transform that
appears in the bundle (including transforms on an included chain that consumed part of a lot
together with other lots): a superset of that closure that replays with no missing state.
Registrations and key events of every party that signed an included event or receives an
included shipment (and of the parties that signed those) are added, all up to the checkpoint.
"""

from __future__ import annotations

import base64
from typing import Any

from ..audit.verify import BUNDLE_FORMAT
from ..core import merkle
from ..core.events import SignedEvent, parse_event
from ..core.visibility import closure
from ..errors import NotFound
from ..store.protocol import CheckpointRecord, Store
from .log import Log

__all__ = ["build_bundle", "closure_seqs"]


def closure_seqs(store: Store, lot: str, size: int) -> dict[int, SignedEvent]:
    """Log indexes (< ``size``) of the provenance closure of ``lot`` with their events.

    The closure is the visibility rule's (``ledger.core.visibility.closure``): a partner's view
    of a lot and the bundle it gets of it hold the same events.

    Raises:
        NotFound: the lot does not exist in the tree of that size.
    """
    need = closure(store, {lot: size - 1})
    chains = store.chains(sorted(need))
    top = {other: size - 1 if cut is None else cut for other, cut in need.items()}
    seqs = sorted({s for other, cut in top.items() for s in chains.get(other, ()) if s <= cut})
    events = {rec.seq: parse_event(rec.canonical) for rec in store.events_by_seqs(seqs)}
    if not any(lot in (*ev.lots_created, *ev.lots_touched) for ev in events.values()):
        raise NotFound(f"no lot {lot!r} in the log up to size {size}")
    # every party that signed an included event, and every party an event names (a ship's
    # receiver must be registered for the ship to replay)
    signers = {ev.actor for ev in events.values()}
    signers.update(str(ev.body["to"]) for ev in events.values() if ev.type == "lot.ship")
    done: set[str] = set()
    while signers - done:
        batch = sorted(signers - done)
        done.update(batch)
        seqs = [s for s in store.party_seqs(batch, size - 1) if s not in events]
        for rec in store.events_by_seqs(seqs):
            ev = parse_event(rec.canonical)
            events[rec.seq] = ev
            signers.add(ev.actor)
    return events


def build_bundle(
    store: Store,
    log: Log,
    lot: str,
    *,
    upto: int | None = None,
    checkpoint: CheckpointRecord | None = None,
) -> dict[str, Any]:
    """The audit bundle of ``lot`` against ``checkpoint`` (default: a freshly signed or the
    latest one); its entries and proofs are those of the tree of that checkpoint's size.

    Args:
        upto: only the lot's history up to this log index (a partner's view of an upstream
            lot ends at the transform that consumed it into the partner's lineage).

    Raises:
        NotFound: no such lot.
    """
    if not store.lot_seqs(lot):
        raise NotFound(f"no lot {lot!r} in this ledger")
    cp = log.checkpoint() if checkpoint is None else checkpoint
    events = closure_seqs(store, lot, cp.size if upto is None else min(cp.size, upto + 1))
    entries = []
    for seq in sorted(events):
        proof = merkle.inclusion_proof(seq, cp.size, store)
        entries.append(
            {
                "seq": seq,
                "event": events[seq].envelope,
                "proof": [base64.b64encode(h).decode("ascii") for h in proof],
            }
        )
    return {"format": BUNDLE_FORMAT, "lot": lot, "checkpoint": cp.note, "entries": entries}
