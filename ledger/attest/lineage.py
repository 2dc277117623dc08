"""A lot's lineage: the lots it was made from and the events that made them (spec §6, §7).

The lineage closure (the same as the audit bundle's): the target lot's whole chain; for each
transform that CREATED a lineage lot, each of its inputs up to and including the latest such
transform that consumed it. Events after that point belong to other companies' products.

A :class:`LineageSource` is what a lineage is read from: lots, parties and lot chains. The
server reads its database (``ledger.service.sources.LedgerSource``); an auditor reads a
replayed audit bundle (:class:`ReplaySource`). The same lineage comes out of both.

Origin attribution (normative in docs/spec.md §7.7): each transform output is made of its
inputs in the ratio of the consumed masses ``c_i / Σ c``; losses (transit, adjust, yield) keep
the ratio. So ``share(origin) = Σ over paths Π c_i/Σc``, exactly (``Fraction``). Mass balance
does not change physical attribution (credits are bookkeeping).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from ..core import rules
from ..core.events import SignedEvent, event_from_json
from ..core.rules import Lot, Party
from ..errors import NotFound

__all__ = ["Composition", "Lineage", "LineageSource", "Node", "ReplaySource", "lineage"]

Composition = Mapping[str, Decimal]


class LineageSource(Protocol):
    """What the report reads: lots, parties and lot chains (creating event first, log order)."""

    def lot(self, lot_id: str) -> Lot | None: ...
    def party(self, party_id: str) -> Party | None: ...
    def chain(self, lot_id: str) -> Sequence[tuple[int, SignedEvent]]: ...


class ReplaySource:
    """A :class:`LineageSource` over a replayed state and the events it replayed.

    Args:
        state: the replayed state (e.g. ``verify_bundle(bundle, key).state``).
        events: ``(seq, event)`` pairs, in any order.
    """

    def __init__(self, state: rules.MemoryState, events: Iterable[tuple[int, SignedEvent]]) -> None:
        self._state = state
        self._chains: dict[str, list[tuple[int, SignedEvent]]] = {}
        for seq, ev in sorted(events, key=lambda p: p[0]):
            for lot in (*ev.lots_created, *ev.lots_touched):
                self._chains.setdefault(lot, []).append((seq, ev))

    @classmethod
    def from_entries(
        cls, state: rules.MemoryState, entries: Iterable[Mapping[str, Any]]
    ) -> ReplaySource:
        """The source over a replayed audit bundle: ``entries`` are its ``{"seq", "event",
        ...}`` entries.

        Raises:
            RuleViolation: an entry's event is not a valid LTL/1 event.
        """
        return cls(state, [(int(e["seq"]), event_from_json(e["event"])) for e in entries])

    def lot(self, lot_id: str) -> Lot | None:
        return self._state.lot(lot_id)

    def party(self, party_id: str) -> Party | None:
        return self._state.party(party_id)

    def chain(self, lot_id: str) -> Sequence[tuple[int, SignedEvent]]:
        return self._chains.get(lot_id, [])


@dataclass(frozen=True, slots=True)
class Node:
    """One lot of a lineage and how it was made.

    Attributes:
        inputs: for a transform output, (input lot, consumed kg, the input's composition when
            the transform consumed it — ``None`` when unknown); empty for a ``lot.create``.
        cutoff: the last log index of the lot's history that belongs to the lineage.
    """

    lot: str
    material: str
    seq: int
    event: str
    party: str
    country: str
    site: str
    source: str | None
    model: str
    process: str | None
    inputs: tuple[tuple[str, Decimal, Composition | None], ...]
    cutoff: int | None


@dataclass(frozen=True, slots=True)
class Lineage:
    """A lot's lineage: ``nodes`` by lot (target first, then parents before grandparents) and
    the chain events of each lot within the closure."""

    target: str
    nodes: Mapping[str, Node]
    events: Mapping[str, tuple[tuple[int, SignedEvent], ...]]

    def topological(self) -> list[Node]:
        """The nodes, parents before children (a lot is created after its inputs)."""
        return sorted(self.nodes.values(), key=lambda n: n.seq)

    def origins(self) -> dict[str, Fraction]:
        """Origin (``lot.create``) lot -> the share of the target's mass that comes from it."""
        of: dict[str, dict[str, Fraction]] = {}
        for node in self.topological():
            if not node.inputs:
                of[node.lot] = {node.lot: Fraction(1)}
                continue
            whole = Fraction(sum((c for _, c, _ in node.inputs), Decimal(0)))
            out: dict[str, Fraction] = {}
            for parent, c, _ in node.inputs:
                if whole == 0:
                    continue
                weight = Fraction(c) / whole
                for origin, f in of[parent].items():
                    out[origin] = out.get(origin, Fraction(0)) + f * weight
            of[node.lot] = out
        return of[self.target]


def _composition(d: Mapping[str, str] | None) -> Composition | None:
    return None if d is None else {e: Decimal(f) for e, f in d.items()}


def _composition_at(
    chain: Sequence[tuple[int, SignedEvent]], lot: str, seq: int
) -> Composition | None:
    """The lot's composition just before log index ``seq`` (creation, then assays)."""
    comp: Composition | None = None
    for s, ev in chain:
        if s >= seq:
            break
        if ev.type == "lot.create" and ev.body["lot"] == lot:
            comp = _composition(ev.body.get("composition"))
        elif ev.type == "lot.transform" and lot in ev.lots_created:
            out = next(o for o in ev.body["outputs"] if o["lot"] == lot)
            comp = _composition(out.get("composition"))
        elif ev.type == "lot.assay":
            comp = _composition(ev.body["composition"])
    return comp


def lineage(source: LineageSource, lot_id: str) -> Lineage:
    """The lineage of ``lot_id`` (see the module doc for the closure).

    Raises:
        NotFound: the lot, or a lot of its lineage, is not in the source.
    """
    chains: dict[str, Sequence[tuple[int, SignedEvent]]] = {}
    order = [lot_id]
    queued = {lot_id}
    consumers: dict[str, int] = {}  # lot -> seq of the latest lineage transform consuming it
    i = 0
    while i < len(order):
        lot = order[i]
        i += 1
        chain = source.chain(lot)
        if not chain or lot not in chain[0][1].lots_created:
            raise NotFound(f"no lot {lot!r} (or not its creation) in this ledger or bundle")
        chains[lot] = chain
        seq, ev = chain[0]
        if ev.type == "lot.transform":
            for item in ev.body["inputs"]:
                parent = str(item["lot"])
                consumers[parent] = max(consumers.get(parent, -1), seq)
                if parent not in queued:
                    queued.add(parent)
                    order.append(parent)
    nodes: dict[str, Node] = {}
    events: dict[str, tuple[tuple[int, SignedEvent], ...]] = {}
    for lot in order:
        chain = chains[lot]
        cutoff = consumers.get(lot)
        events[lot] = tuple(p for p in chain if cutoff is None or p[0] <= cutoff)
        seq, ev = chain[0]
        b = ev.body
        if ev.type == "lot.create":
            material, site, src, model, process = (
                b["material"],
                b["site"],
                b["source"],
                "create",
                None,
            )
            inputs: tuple[tuple[str, Decimal, Composition | None], ...] = ()
        else:
            material = next(o["material"] for o in b["outputs"] if o["lot"] == lot)
            site, src, process = b["site"], None, str(b["process"])
            model = str(b.get("model", "controlled_blending"))
            inputs = tuple(
                (
                    str(x["lot"]),
                    Decimal(x["mass_kg"]),
                    _composition_at(chains[x["lot"]], x["lot"], seq),
                )
                for x in b["inputs"]
            )
        nodes[lot] = Node(
            lot=lot,
            material=str(material),
            seq=seq,
            event=ev.hash,
            party=ev.actor,
            country=str(site["country"]),
            site=str(site.get("name", "")),
            source=src,
            model=model,
            process=process,
            inputs=inputs,
            cutoff=cutoff,
        )
    return Lineage(target=lot_id, nodes=nodes, events=events)
