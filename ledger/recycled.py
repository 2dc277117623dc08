"""The recycled-content report of SPEC §7: shares per category, per element, lineage, method.

The shares themselves are NOT recomputed here: the rules (``ledger.rules.shares``) keep every
lot's ``mass_shares`` and ``element_shares`` exact (``Fraction``) at every transform, assay and
``credit.allocate``, so the report reads them off the target lot and formats them (6 places,
half-even). What this module adds is the lineage, read from the events of the lot's provenance
closure, so the same report comes out of the server's :class:`~ledger.service.Ledger` and out of
an offline replay of an audit bundle (``verify_bundle(...).state`` plus the bundle's entries).

The lineage closure (the same as the bundle's, SPEC §6): the target lot's whole chain; for each
transform that CREATED a lineage lot, each of its inputs up to and including the latest such
transform that consumed it. Events after that point belong to other companies' products.

Choices where SPEC is silent (see also :func:`recycled_content`):
    * Origin contribution: the mass each ``lot.create`` lot contributes to the target's current
      mass, by proportional (physical) attribution: a transform output is made of its inputs in
      the ratio of the consumed masses ``c_i / Σ c``; losses (transit, adjust, yield) keep the
      ratio. So ``share(origin) = Σ over paths Π c_i/Σc`` and ``mass_kg = share × target mass``.
      The arithmetic is exact (``Fraction``); ``share`` and ``mass_kg`` are rendered rounded
      half-even to 6 places and ``exact`` gives the contributed kg as the exact rational
      ``"p/q"``. Mass balance does not change physical attribution (credits are bookkeeping).
    * Step kinds: ``lot.create`` of a virgin source is ``extraction``, of a recycled source
      ``recycling``; a ``lot.transform`` by a party with the ``recycler`` role is ``recycling``,
      any other ``processing``; ``lot.ship``/``lot.receive`` are ``transport`` (SPEC names three
      kinds; shipments are listed because they change the country). A create or transform's
      country is its site's; a ship's is the shipper's registered country, a receive's the
      receiver's (shipments carry no site).
    * ``method``: one entry per transform in the lineage (its model) and one per
      ``credit.allocate`` on a lineage lot within the closure.
    * Elements: one entry per element of the target's composition; ``null`` when its share is
      unknown. A lot with unknown composition has ``"composition": null`` and no elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from . import rules
from ._gc import gc_paused
from .errors import NotFound
from .events import SignedEvent, event_from_json
from .rules import Lot, Party, format_decimal, format_share, share_report

if TYPE_CHECKING:
    from .service import Ledger

__all__ = [
    "LedgerSource",
    "Lineage",
    "LineageSource",
    "Node",
    "ReplaySource",
    "lineage",
    "recycled_content",
    "source_for",
]

Composition = Mapping[str, Decimal]


class LineageSource(Protocol):
    """What the report reads: lots, parties and lot chains (creating event first, log order)."""

    def lot(self, lot_id: str) -> Lot | None: ...
    def party(self, party_id: str) -> Party | None: ...
    def chain(self, lot_id: str) -> Sequence[tuple[int, SignedEvent]]: ...


class LedgerSource:
    """A :class:`LineageSource` over the server's ledger (current state).

    ``preload(lot)`` reads the lot's whole upstream — lots, chains and events — in a few
    batched queries and parses every event once (a transform's event sits on the chains of all
    its inputs); reads outside the preloaded set fall back to the ledger.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._lots: dict[str, Lot] = {}
        self._chains: dict[str, list[tuple[int, SignedEvent]]] = {}
        self._parties: dict[str, Party | None] = {}

    def preload(self, lot_id: str) -> None:
        """Read the chains of the lot and of everything upstream, level by level (one
        batched query per level for the chains and one for the events)."""
        from .events import stored_event

        store = self._ledger.store
        parsed: dict[int, SignedEvent] = {}
        frontier, seen = [lot_id], {lot_id}
        while frontier:
            chains = store.chains(frontier)
            need = sorted({s for chain in chains.values() for s in chain if s not in parsed})
            for rec in store.events_by_seqs(need):
                parsed[rec.seq] = stored_event(rec.canonical, rec.hash.hex())
            frontier = []
            for lot, chain in chains.items():
                self._chains[lot] = [(s, parsed[s]) for s in chain]
                first = parsed[chain[0]]
                if first.type == "lot.transform" and lot in first.lots_created:
                    for item in first.body["inputs"]:
                        parent = str(item["lot"])
                        if parent not in seen:
                            seen.add(parent)
                            frontier.append(parent)

    def lot(self, lot_id: str) -> Lot | None:
        if lot_id not in self._lots:
            found = self._ledger.lots([lot_id])
            if lot_id not in found:
                return None
            self._lots[lot_id] = found[lot_id]
        return self._lots[lot_id]

    def party(self, party_id: str) -> Party | None:
        if party_id not in self._parties:
            try:
                self._parties[party_id] = self._ledger.party(party_id)
            except NotFound:
                self._parties[party_id] = None
        return self._parties[party_id]

    def chain(self, lot_id: str) -> Sequence[tuple[int, SignedEvent]]:
        if lot_id not in self._chains:
            try:
                self._chains[lot_id] = list(self._ledger.chain(lot_id))
            except NotFound:
                return []
        return self._chains[lot_id]


class ReplaySource:
    """A :class:`LineageSource` over a replayed state and the events it replayed.

    Args:
        state: the replayed state (e.g. ``verify_bundle(bundle, key).state``).
        events: ``(seq, event)`` pairs, or bundle entries (``{"seq", "event", ...}``).

    Raises:
        RuleViolation: an entry's event is not a valid LTL/1 event.
    """

    def __init__(
        self,
        state: rules.MemoryState,
        events: Iterable[tuple[int, SignedEvent] | Mapping[str, Any]],
    ) -> None:
        self._state = state
        pairs: list[tuple[int, SignedEvent]] = []
        for item in events:
            if isinstance(item, Mapping):
                pairs.append((int(item["seq"]), event_from_json(item["event"])))
            else:
                pairs.append(item)
        pairs.sort(key=lambda p: p[0])
        self._chains: dict[str, list[tuple[int, SignedEvent]]] = {}
        for seq, ev in pairs:
            for lot in (*ev.lots_created, *ev.lots_touched):
                self._chains.setdefault(lot, []).append((seq, ev))

    def lot(self, lot_id: str) -> Lot | None:
        return self._state.lot(lot_id)

    def party(self, party_id: str) -> Party | None:
        return self._state.party(party_id)

    def chain(self, lot_id: str) -> Sequence[tuple[int, SignedEvent]]:
        return self._chains.get(lot_id, [])


def source_for(ledger: Ledger, lot_id: str, *, upto: int | None = None) -> LineageSource:
    """The source for a report on ``lot_id``: the ledger now, or (``upto`` set, a partner's
    cut-off) a replay of the lot's provenance closure up to that log index."""
    if upto is None:
        return LedgerSource(ledger)
    from .bundle import closure_seqs
    from .verify import replay

    pairs = sorted(closure_seqs(ledger, lot_id, upto + 1).items())
    return ReplaySource(replay(pairs, ledger.config, verify_signature=False), pairs)


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


def _composition_at(chain: Sequence[tuple[int, SignedEvent]], lot: str, seq: int) -> Any:
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


def _kg(f: Fraction) -> str:
    """Kilograms rounded half-even to 6 places, as a decimal string."""
    return format_share(f)


def _country(source: LineageSource, party: str) -> str | None:
    found = source.party(party)
    return None if found is None else found.country


def _is_recycler(source: LineageSource, party: str) -> bool:
    found = source.party(party)
    return found is not None and "recycler" in found.roles


def _steps(source: LineageSource, lin: Lineage) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for lot, chain in lin.events.items():
        node = lin.nodes[lot]
        for seq, ev in chain:
            if ev.hash in seen:
                if ev.type == "lot.transform" and seq == node.seq:
                    seen[ev.hash]["lots"].append(lot)
                continue
            step: dict[str, Any] = {"seq": seq, "event": ev.hash, "type": ev.type}
            if ev.type == "lot.create":
                kind = "extraction" if node.source == "virgin" else "recycling"
                step |= {"kind": kind, "party": ev.actor, "country": node.country}
                step |= {"site": node.site, "lots": [lot], "source": node.source}
            elif ev.type == "lot.transform" and seq == node.seq:
                kind = "recycling" if _is_recycler(source, ev.actor) else "processing"
                step |= {"kind": kind, "party": ev.actor, "country": node.country}
                step |= {"site": node.site, "lots": [lot], "process": node.process}
                step |= {"model": node.model, "inputs": [dict(x) for x in ev.body["inputs"]]}
            elif ev.type in ("lot.ship", "lot.receive"):
                step |= {"kind": "transport", "party": ev.actor}
                step |= {"country": _country(source, ev.actor), "lots": [lot]}
                step["mass_kg"] = ev.body["mass_kg"]
                if ev.type == "lot.ship":
                    step["to"] = ev.body["to"]
            else:
                continue
            seen[ev.hash] = step
    for step in seen.values():
        step["lots"].sort()
    return sorted(seen.values(), key=lambda s: int(s["seq"]))


def _method(lin: Lineage) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for lot, chain in lin.events.items():
        node = lin.nodes[lot]
        for seq, ev in chain:
            if ev.type == "lot.transform" and seq == node.seq:
                entry = out.setdefault(
                    ev.hash,
                    {
                        "seq": seq,
                        "event": ev.hash,
                        "kind": "transform",
                        "model": node.model,
                        "process": node.process,
                        "lots": [],
                    },
                )
                entry["lots"].append(lot)
            elif ev.type == "credit.allocate" and ev.hash not in out:
                b = ev.body
                out[ev.hash] = {
                    "seq": seq,
                    "event": ev.hash,
                    "kind": "credit.allocate",
                    "model": "mass_balance",
                    "lots": [lot],
                    "site": b["site"],
                    "element": b["element"],
                    "category": b["category"],
                    "kg": b["kg"],
                }
    for entry in out.values():
        entry["lots"].sort()
    return sorted(out.values(), key=lambda e: int(e["seq"]))


def _origins(lin: Lineage, target: Lot) -> list[dict[str, Any]]:
    shares = lin.origins()
    out = []
    for lot in sorted(shares, key=lambda x: (lin.nodes[x].seq, x)):
        node, f = lin.nodes[lot], shares[lot]
        kg = f * Fraction(target.mass)
        out.append(
            {
                "lot": lot,
                "material": node.material,
                "source": node.source,
                "party": node.party,
                "country": node.country,
                "site": node.site,
                "share": format_share(f),
                "mass_kg": _kg(kg),
                "exact": f"{kg.numerator}/{kg.denominator}",
            }
        )
    return out


def _as_source(ledger_or_state: Any, events: Any) -> LineageSource:
    if isinstance(ledger_or_state, rules.MemoryState):
        if events is None:
            raise TypeError("a replayed state needs the events it replayed (events=entries)")
        return ReplaySource(ledger_or_state, events)
    if isinstance(ledger_or_state, (LedgerSource, ReplaySource)):
        return ledger_or_state
    if hasattr(ledger_or_state, "store"):  # the server's Ledger
        return LedgerSource(ledger_or_state)  # preloaded by recycled_content
    src: LineageSource = ledger_or_state
    return src


def recycled_content(
    ledger_or_state: Ledger | rules.MemoryState | LineageSource,
    lot_id: str,
    *,
    as_of: date,
    events: Iterable[tuple[int, SignedEvent] | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The SPEC §7 recycled-content report of a lot, with the compliance evaluations on ``as_of``.

    Args:
        ledger_or_state: the server's ledger, any :class:`LineageSource`, or a replayed
            ``MemoryState`` (then ``events`` must be the replayed events or bundle entries).
        as_of: the date the compliance rule packs are evaluated on.

    Returns:
        ``{"lot", "as_of", "material", "mass_kg", "model", "composition", "mass", "elements",
        "lineage": {"origins", "steps"}, "method", "compliance"}``; shares are 6-place
        half-even decimal strings, ``null`` where unknown.

    Raises:
        NotFound: no such lot (or its lineage is not in the source).
    """
    with gc_paused():  # thousands of lots, many small allocations: see ledger._gc
        return _report(ledger_or_state, lot_id, as_of=as_of, events=events)


def _report(
    ledger_or_state: Ledger | rules.MemoryState | LineageSource,
    lot_id: str,
    *,
    as_of: date,
    events: Iterable[tuple[int, SignedEvent] | Mapping[str, Any]] | None,
) -> dict[str, Any]:
    from .compliance import evaluate

    source = _as_source(ledger_or_state, events)
    if isinstance(source, LedgerSource):
        source.preload(lot_id)
    target = source.lot(lot_id)
    if target is None:
        raise NotFound(f"no lot {lot_id!r} in this ledger or bundle")
    lin = lineage(source, lot_id)
    elements: dict[str, dict[str, str] | None] = {}
    if target.composition is not None:
        es = target.element_shares or {}
        for e in sorted(target.composition):
            s = es.get(e)
            elements[e] = None if s is None else share_report(s)
    report: dict[str, Any] = {
        "lot": lot_id,
        "as_of": as_of.isoformat(),
        "material": target.material,
        "mass_kg": format_decimal(target.mass),
        "model": target.model,
        "composition": None
        if target.composition is None
        else {e: format_decimal(w) for e, w in sorted(target.composition.items())},
        "mass": share_report(target.mass_shares),
        "elements": elements,
        "lineage": {"origins": _origins(lin, target), "steps": _steps(source, lin)},
        "method": _method(lin),
    }
    parties = {s["party"] for s in report["lineage"]["steps"]}
    feoc = sorted(p for p in parties if (found := source.party(p)) is not None and found.feoc)
    report["compliance"] = evaluate(target, lin, as_of=as_of, feoc_parties=feoc)
    return report
