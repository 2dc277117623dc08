"""Re-derive the indexes a newer schema added, from the log itself (migration 0004).

The visibility index (spec §9.4: transform inputs, cut-off lot states, each party's view) and the
key members of spec §4.2 (who added a key) are functions of the log. A ledger written before
they existed is re-indexed once, when it is next opened for writing: its log is replayed through
the same rules and the rows are written in one transaction. ``fsck`` then compares them as it
compares every derived row.
"""

from __future__ import annotations

import dataclasses

from ..core import rules
from ..core.events import parse_event
from ..core.visibility import MemoryVisibility
from ..errors import LedgerError
from ..store.protocol import AppendBatch, Store

__all__ = ["needs_reindex", "reindex"]


def needs_reindex(store: Store) -> bool:
    """Whether the store has lots but no visibility rows (every lot is visible to its maker)."""
    return bool(store.list_lots(after=None, limit=1)) and not store.visibility_any()


def reindex(store: Store, config: rules.RuleConfig) -> None:
    """Replay the log and write the derived rows the newer schema holds.

    A log accepted under revision 1 may hold events a later rule refuses (a key added through a
    key later declared compromised kept signing); such a log is re-indexed under the rules it
    was accepted by, and ``fsck`` names those events.
    """
    try:
        batch = _replay(store, config)
    except LedgerError:
        batch = _replay(store, dataclasses.replace(config, revoke_descendants=False))
    with store.write() as tx:
        if tx.visibility_any():
            return  # another process re-indexed first
        tx.append(batch)


def _replay(store: Store, config: rules.RuleConfig) -> AppendBatch:
    state = rules.MemoryState()
    views = MemoryVisibility()
    for rec in store.iter_events():
        ev = parse_event(rec.canonical)
        # the stored log was accepted once; replay it as fsck does (no clock, no signatures)
        views.follow(state, rec.seq, ev, config=config, verify_signature=False)
    batch = AppendBatch(keys=dict(state.keys))
    batch.inputs.extend(sorted(views.all_inputs()))
    batch.states.update(views.states)
    batch.visibility.update(views.rows)
    return batch
