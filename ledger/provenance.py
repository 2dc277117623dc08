"""Provenance reads: a lot's upstream graph, and which lots a partner may see (SPEC §9)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import NotFound
from .rules import Lot

if TYPE_CHECKING:
    from .service import Ledger

__all__ = ["provenance", "upstream", "visible_lots"]


def upstream(ledger: Ledger, lots: Iterable[str]) -> dict[str, Lot]:
    """The given lots and every lot upstream of them (through transform inputs), by id."""
    found: dict[str, Lot] = {}
    todo = list(dict.fromkeys(lots))
    while todo:
        batch = [lot for lot in todo if lot not in found]
        todo = []
        for lot_id, lot in ledger.lots(batch).items():
            found[lot_id] = lot
            todo.extend(p for p in lot.parents if p not in found)
    return found


def visible_lots(ledger: Ledger, party: str) -> set[str]:
    """Lots a partner may read: those it holds, has held or has in transit to it, and their
    upstream provenance."""
    return set(upstream(ledger, ledger.store.custody_lots(party)))


def provenance(ledger: Ledger, lot_id: str) -> dict[str, Any]:
    """The upstream graph of a lot: nodes (lots) and edges (transforms and shipments).

    Raises:
        NotFound: no such lot.
    """
    lots = upstream(ledger, [lot_id])
    if lot_id not in lots:
        raise NotFound(f"no lot {lot_id!r} in this ledger")
    edges: list[dict[str, Any]] = []
    for lid in sorted(lots):
        for seq, ev in ledger.chain(lid):
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
