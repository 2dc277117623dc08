"""The recycled-content report of spec §7: shares per category, per element, lineage, method.

The shares themselves are NOT recomputed here: the rules (``ledger.core.rules.shares``) keep every
lot's ``mass_shares`` and ``element_shares`` exact (``Fraction``) at every transform, assay and
``credit.allocate``, so the report reads them off the target lot and formats them (6 places,
half-even). What this module adds is the lineage, read from the events of the lot's provenance
closure (``ledger.attest.lineage``), so the same report comes out of the server's database
(``ledger.service.sources.LedgerSource``) and out of an offline replay of an audit bundle
(``ReplaySource.from_entries(verify_bundle(...).state, bundle["entries"])``).

Choices made where the original SPEC was silent (normative in docs/spec.md §7):
    * Origin contribution: the mass each ``lot.create`` lot contributes to the target's current
      mass, by proportional (physical) attribution: a transform output is made of its inputs in
      the ratio of the consumed masses ``c_i / Σ c``; losses (transit, adjust, yield) keep the
      ratio. So ``share(origin) = Σ over paths Π c_i/Σc`` and ``mass_kg = share × target mass``.
      The arithmetic is exact (``Fraction``); ``share`` and ``mass_kg`` are rendered rounded
      half-even to 6 places and ``exact`` gives the contributed kg as the exact rational
      ``"p/q"``. Mass balance does not change physical attribution (credits are bookkeeping).
    * Step kinds: ``lot.create`` of a virgin source is ``extraction``, of a recycled source
      ``recycling``; a ``lot.transform`` by a party with the ``recycler`` role is ``recycling``,
      any other ``processing``; ``lot.ship``/``lot.receive`` are ``transport`` (spec names three
      kinds; shipments are listed because they change the country). A create or transform's
      country is its site's; a ship's is the shipper's registered country, a receive's the
      receiver's (shipments carry no site).
    * ``method``: one entry per transform in the lineage (its model) and one per
      ``credit.allocate`` on a lineage lot within the closure.
    * Elements: one entry per element of the target's composition; ``null`` when its share is
      unknown. A lot with unknown composition has ``"composition": null`` and no elements.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from ..core.gc import gc_paused
from ..core.rules import Lot, format_decimal, format_share, share_report
from ..errors import NotFound
from .compliance import evaluate
from .lineage import Lineage, LineageSource, lineage

__all__ = ["recycled_content"]


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


def recycled_content(source: LineageSource, lot_id: str, *, as_of: date) -> dict[str, Any]:
    """The spec §7 recycled-content report of a lot, with the compliance evaluations on ``as_of``.

    Args:
        source: where the lot and its lineage are read: the server's database or a replayed
            bundle (see the module doc).
        as_of: the date the compliance rule packs are evaluated on.

    Returns:
        ``{"lot", "as_of", "material", "mass_kg", "model", "composition", "mass", "elements",
        "lineage": {"origins", "steps"}, "method", "compliance"}``; shares are 6-place
        half-even decimal strings, ``null`` where unknown.

    Raises:
        NotFound: no such lot (or its lineage is not in the source).
    """
    with gc_paused():  # thousands of lots, many small allocations: see ledger.core.gc
        return _report(source, lot_id, as_of=as_of)


def _report(source: LineageSource, lot_id: str, *, as_of: date) -> dict[str, Any]:
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
