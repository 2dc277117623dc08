"""Provenance reads: a lot's upstream graph, and which lots a partner may see (spec §9)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..audit.verify import replay
from ..core.events import SignedEvent
from ..core.rules import Lot, RuleConfig
from ..core.visibility import Cutoff
from ..errors import NotFound
from ..store.protocol import Store
from .bundles import closure_seqs
from .reads import Reads

__all__ = [
    "PartnerView",
    "lots_as_of",
    "partner_view",
    "provenance",
    "upstream",
]


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


class PartnerView(Mapping[str, Cutoff]):
    """What a partner may read (spec §9.4): lot -> the last log index it may see of that lot
    (``None``: all of it). Read lazily from the visibility index: a lookup is one indexed query,
    iterating reads the party's whole view."""

    def __init__(self, store: Store, party: str) -> None:
        self.store = store
        self.party = party
        self._known: dict[str, Cutoff] = {}
        self._absent: set[str] = set()
        self._all = False

    def _lookup(self, lot: str) -> bool:
        if lot in self._known:
            return True
        if self._all or lot in self._absent:
            return False
        found = self.store.visibility(self.party, [lot])
        if lot in found:
            self._known[lot] = found[lot]
            return True
        self._absent.add(lot)
        return False

    def __contains__(self, lot: object) -> bool:
        return isinstance(lot, str) and self._lookup(lot)

    def __getitem__(self, lot: str) -> Cutoff:
        if not self._lookup(lot):
            raise KeyError(lot)
        return self._known[lot]

    def _load(self) -> dict[str, Cutoff]:
        if not self._all:
            after: str | None = None
            while True:
                page = self.store.visible_lots(self.party, after=after, limit=1000)
                self._known.update({lot.lot: cut for lot, cut in page})
                if len(page) < 1000:
                    break
                after = page[-1][0].lot
            self._all = True
        return self._known

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._load()))

    def __len__(self) -> int:
        return len(self._load())


def partner_view(reads: Reads, party: str) -> PartnerView:
    """What a partner may read (spec §9.4), see :class:`PartnerView`."""
    return PartnerView(reads.store, party)


def lots_as_of(reads: Reads, config: RuleConfig, cutoffs: Mapping[str, int]) -> dict[str, Lot]:
    """The state of each lot as it was right after log index ``cutoffs[lot]``.

    A view's cut-offs are kept states (``lot_states``); any other point is found by replaying
    (without re-verifying signatures: the log is trusted here) the union of the lots'
    provenance closures up to their cut-offs, in one pass.
    """
    if not cutoffs:
        return {}
    kept = reads.store.lot_states(list(cutoffs.items()))
    out = {lot: kept[(lot, cut)] for lot, cut in cutoffs.items() if (lot, cut) in kept}
    rest = {lot: cut for lot, cut in cutoffs.items() if lot not in out}
    if rest:
        events: dict[int, SignedEvent] = {}
        for lot, cutoff in rest.items():
            events.update(closure_seqs(reads.store, lot, cutoff + 1))
        # the stored log replays (fsck says if not); signatures were checked on append
        state = replay(sorted(events.items()), config, verify_signature=False)
        out.update({lot: found for lot in rest if (found := state.lot(lot)) is not None})
    return out


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
