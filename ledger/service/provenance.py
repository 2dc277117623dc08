"""Provenance reads: a lot's upstream graph, and which lots a partner may see (spec §9)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..audit.verify import replay
from ..core.events import SignedEvent
from ..core.rules import Lot, RuleConfig
from ..errors import NotFound
from .bundles import closure_seqs
from .reads import Reads

__all__ = ["lots_as_of", "partner_view", "provenance", "upstream", "visible_lots"]


def upstream(reads: Reads, lots: Iterable[str]) -> dict[str, Lot]:
    """The given lots and every lot upstream of them (through transform inputs), by id."""
    found: dict[str, Lot] = {}
    todo = list(dict.fromkeys(lots))
    while todo:
        batch = [lot for lot in todo if lot not in found]
        todo = []
        for lot_id, lot in reads.lots(batch).items():
            found[lot_id] = lot
            todo.extend(p for p in lot.parents if p not in found)
    return found


def partner_view(reads: Reads, party: str) -> dict[str, int | None]:
    """What a partner may read: lot -> the last log index it may see of that lot.

    Lots it holds, has held or has in transit to it: ``None`` (all of their history). Lots
    upstream of those: up to the transform that made the downstream lot (the moment the
    upstream lot entered the partner's lineage); what happened to them afterwards belongs to
    other companies. A lot reached by several paths gets the latest such index.
    """
    custody = reads.store.custody_lots(party)
    view: dict[str, int | None] = dict.fromkeys(custody)
    lots = upstream(reads, custody)
    todo = list(custody)
    while todo:
        lot = lots.get(todo.pop())
        if lot is None or not lot.parents:
            continue
        for parent in lot.parents:
            if parent in view and view[parent] is None:
                continue
            old = view.get(parent)
            if old is None or lot.created_seq > old:
                view[parent] = lot.created_seq
                todo.append(parent)
    return view


def visible_lots(reads: Reads, party: str) -> set[str]:
    """Lots a partner may read (see :func:`partner_view` for how much of each)."""
    return set(partner_view(reads, party))


def lots_as_of(reads: Reads, config: RuleConfig, cutoffs: Mapping[str, int]) -> dict[str, Lot]:
    """The state of each lot as it was right after log index ``cutoffs[lot]``.

    Replays (without re-verifying signatures: the log is trusted here) the union of the lots'
    provenance closures up to their cut-offs, in one pass.
    """
    if not cutoffs:
        return {}
    events: dict[int, SignedEvent] = {}
    for lot, cutoff in cutoffs.items():
        events.update(closure_seqs(reads.store, lot, cutoff + 1))
    # the stored log replays (fsck says if not); signatures were checked on append
    state = replay(sorted(events.items()), config, verify_signature=False)
    return {lot: found for lot in cutoffs if (found := state.lot(lot)) is not None}


def provenance(
    reads: Reads, config: RuleConfig, lot_id: str, view: Mapping[str, int | None] | None = None
) -> dict[str, Any]:
    """The upstream graph of a lot: nodes (lots) and edges (transforms and shipments).

    Args:
        view: a partner's :func:`partner_view`; each lot is then shown as of its cut-off.

    Raises:
        NotFound: no such lot.
    """
    lots = upstream(reads, [lot_id])
    if lot_id not in lots:
        raise NotFound(f"no lot {lot_id!r} in this ledger")
    cutoffs = {} if view is None else {k: v for k in lots if (v := view.get(k)) is not None}
    lots.update(lots_as_of(reads, config, cutoffs))
    edges: list[dict[str, Any]] = []
    for lid in sorted(lots):
        for seq, ev in reads.chain(lid):
            if lid in cutoffs and seq > cutoffs[lid]:
                break
            if ev.type == "lot.transform" and lid in ev.lots_created:
                for item in ev.body["inputs"]:
                    edges.append(
                        {
                            "kind": "transform",
                            "from": item["lot"],
                            "to": lid,
                            "seq": seq,
                            "event": ev.hash,
                            "mass_kg": item["mass_kg"],
                            "party": ev.actor,
                            "process": ev.body["process"],
                            "country": ev.body["site"]["country"],
                        }
                    )
            elif ev.type == "lot.ship":
                edges.append(
                    {
                        "kind": "ship",
                        "from": ev.actor,
                        "to": ev.body["to"],
                        "lot": lid,
                        "seq": seq,
                        "event": ev.hash,
                        "mass_kg": ev.body["mass_kg"],
                    }
                )
    nodes = [
        {
            "lot": lot.lot,
            "material": lot.material,
            "mass_kg": str(lot.mass),
            "custodian": lot.custodian,
            "status": lot.status,
            "site": {"country": lot.site_country, "name": lot.site_name},
            "source": lot.source,
            "model": lot.model,
        }
        for lot in sorted(lots.values(), key=lambda x: x.lot)
    ]
    return {"lot": lot_id, "nodes": nodes, "edges": edges}
