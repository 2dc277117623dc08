"""Compliance rule packs over a recycled-content report (spec §7). Pure: lot, lineage, date in.

Thresholds, dates and country lists live in ``ledger/attest/data/compliance.json`` (shipped with the
package), not in code. Every evaluation carries its ``as_of`` date and ``provisional``.

``eu-2023-1542-art8`` (provisional): for each of Co, Li, Ni, Pb the share is post_consumer +
pre_consumer_battery of that element (pre_consumer_other never counts). The minimum is the one
of the latest table whose ``from`` date is on or before ``as_of`` (none before 2031-08-18).
Choices: the result is ``pass``/``fail`` only when a minimum applies AND the element share is
known AND the element is in the lot (exact comparison of the unrounded share with the minimum,
``share >= minimum`` passes); otherwise ``n/a`` with a ``reason``. An element absent from a
known composition is reported with share ``"0.000000"`` (as in the spec example) and ``n/a``
(Article 8 concerns the elements a battery contains); unknown composition or share gives
``share: null``.

``us-fta-sourcing`` (informational, no minimum: every result is ``n/a`` except the FEOC
screen): per element of the lot, the share of its mass that qualifies, defined on the lineage
(``ledger.attest.lineage.Lineage``) as follows. An origin (``lot.create``) qualifies when it is of a
recycled source and its site is in ``recycled_in`` (US, CA, MX), or virgin and its site is in
``extracted_in`` (US or an FTA country). A transform output qualifies wholly when the transform
site is in ``processed_in`` (US or an FTA country; recycling transforms count as processing);
otherwise its qualifying share is the element-mass-weighted mean of its inputs' (weights
``c_i·w_i[e]`` with the input composition at the time of the transform), unknown when a weight
is. ``checks.mass`` is the same by lot mass. ``checks.feoc`` fails when any party acting in a
lineage step is registered with ``feoc: true``. The FTA list is the countries with a US
free-trade agreement in force plus Japan (critical-minerals agreement, 2023), as Treasury
treats it for §30D.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

from ..core.rules import Lot, format_share
from ..errors import LedgerError
from .lineage import Lineage, Node

__all__ = ["SCHEMES", "eu_art8", "evaluate", "load_packs", "us_fta"]

SCHEMES = ("eu-2023-1542-art8", "us-fta-sourcing")


@cache
def load_packs() -> Mapping[str, Any]:
    """The rule-pack tables of ``ledger/attest/data/compliance.json``.

    Raises:
        LedgerError: the data file is missing or malformed (code ``bad_config``).
    """
    try:
        text = resources.files(__package__).joinpath("data/compliance.json").read_text("utf-8")
        data = json.loads(text)
        packs: Mapping[str, Any] = data["packs"]
        for scheme in SCHEMES:
            if scheme not in packs:
                raise KeyError(scheme)
        for table in packs["eu-2023-1542-art8"]["minimums"]:
            date.fromisoformat(table["from"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LedgerError(
            f"ledger/attest/data/compliance.json is unusable: {e}", code="bad_config"
        ) from e
    return packs


def _minimums(pack: Mapping[str, Any], as_of: date) -> Mapping[str, str]:
    """The minimum shares in force on ``as_of`` ({} when none)."""
    current: Mapping[str, str] = {}
    for table in sorted(pack["minimums"], key=lambda t: str(t["from"])):
        if date.fromisoformat(table["from"]) <= as_of:
            current = table["shares"]
    return current


def _na(share: str | None, minimum: str | None, reason: str) -> dict[str, Any]:
    return {"share": share, "minimum": minimum, "result": "n/a", "reason": reason}


def eu_art8(target: Lot, *, as_of: date, pack: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``eu-2023-1542-art8`` evaluation of a lot on ``as_of`` (see the module doc)."""
    pack = pack or load_packs()["eu-2023-1542-art8"]
    minimums = _minimums(pack, as_of)
    counts: Sequence[str] = pack["counts"]
    elements: dict[str, dict[str, Any]] = {}
    for e in pack["elements"]:
        raw = minimums.get(e)
        minimum = None if raw is None else Fraction(raw)
        shown = None if minimum is None else format_share(minimum)
        if target.composition is None:
            elements[e] = _na(None, shown, "composition unknown")
            continue
        if not target.composition.get(e):
            elements[e] = _na(format_share(Fraction(0)), shown, f"no {e} in the lot")
            continue
        shares = (target.element_shares or {}).get(e)
        if shares is None:
            elements[e] = _na(None, shown, f"{e} share unknown")
            continue
        share = sum((shares.get(k, Fraction(0)) for k in counts), Fraction(0))
        if minimum is None:
            elements[e] = _na(format_share(share), None, "no minimum applies on this date")
            continue
        result = "pass" if share >= minimum else "fail"
        elements[e] = {"share": format_share(share), "minimum": shown, "result": result}
    return {
        "scheme": "eu-2023-1542-art8",
        "as_of": as_of.isoformat(),
        "provisional": bool(pack["provisional"]),
        "counts": list(counts),
        "elements": elements,
    }


def _countries(pack: Mapping[str, Any], key: str) -> frozenset[str]:
    out: set[str] = set()
    for c in pack[key]:
        out.update(pack["fta_countries"] if c == "@fta" else [c])
    return frozenset(out)


Weight = Callable[[Node, str, Decimal, Mapping[str, Decimal] | None], Decimal | None]


def _qualifying(lin: Lineage, weight: Weight, pack: Mapping[str, Any]) -> Fraction | None:
    """The qualifying share of the target (see the module doc), exactly; None when unknown."""
    recycled_in = _countries(pack, "recycled_in")
    extracted_in = _countries(pack, "extracted_in")
    processed_in = _countries(pack, "processed_in")
    q: dict[str, Fraction | None] = {}
    for node in lin.topological():
        lot = node.lot
        if not node.inputs:
            ok = (node.source == "virgin" and node.country in extracted_in) or (
                node.source != "virgin" and node.country in recycled_in
            )
            q[lot] = Fraction(int(ok))
            continue
        if node.country in processed_in:
            q[lot] = Fraction(1)
            continue
        num, den, known = Fraction(0), Fraction(0), True
        for parent, c, comp in node.inputs:
            w = weight(node, parent, c, comp)
            if w is None or (w and q.get(parent) is None):
                known = False
                break
            if w:
                qp = q[parent]
                assert qp is not None
                num += Fraction(w) * qp
                den += Fraction(w)
        q[lot] = num / den if known and den else None
    return q[lin.target]


def us_fta(
    target: Lot,
    lin: Lineage,
    *,
    as_of: date,
    feoc_parties: Sequence[str],
    pack: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``us-fta-sourcing`` evaluation (informational shares and the FEOC screen)."""
    pack = pack or load_packs()["us-fta-sourcing"]
    elements: dict[str, dict[str, Any]] = {}
    for e in sorted(target.composition or {}):

        def by_element(
            node: Node, parent: str, c: Decimal, comp: Mapping[str, Decimal] | None, e: str = e
        ) -> Decimal | None:
            return None if comp is None else c * comp.get(e, Decimal(0))

        share = _qualifying(lin, by_element, pack)
        shown = None if share is None else format_share(share)
        elements[e] = _na(shown, None, "informational")
    mass = _qualifying(lin, lambda node, parent, c, comp: c, pack)
    feoc = list(feoc_parties)
    return {
        "scheme": "us-fta-sourcing",
        "as_of": as_of.isoformat(),
        "provisional": bool(pack["provisional"]),
        "informational": bool(pack["informational"]),
        "elements": elements,
        "checks": {
            "mass": _na(None if mass is None else format_share(mass), None, "informational"),
            "feoc": {"result": "fail" if feoc else "pass", "parties": feoc},
        },
    }


def evaluate(
    target: Lot, lin: Lineage, *, as_of: date, feoc_parties: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every rule pack on ``as_of``, in :data:`SCHEMES` order."""
    return [
        eu_art8(target, as_of=as_of),
        us_fta(target, lin, as_of=as_of, feoc_parties=feoc_parties),
    ]
