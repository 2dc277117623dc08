"""Recycled shares, exactly (spec §7), computed incrementally per event.

Masses stay exact Decimals (``EXACT`` traps any rounding, so a sum or product is never
approximated); shares are :class:`fractions.Fraction`. Zero shares are skipped and a
single-input transform copies its input's shares, because Fraction arithmetic is the cost of a
transform.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded
from fractions import Fraction
from types import MappingProxyType

from ..values import CATEGORIES
from .records import Lot, Shares, canonical_decimal, zero_shares

__all__ = [
    "EXACT",
    "allocation_room",
    "assay_element_shares",
    "blend",
    "created_shares",
    "element_mass_in",
    "floor_micro",
    "mass_balance_credits",
    "total",
]

#: Decimal context for mass arithmetic: raises instead of rounding (100 digits is ample for
#: sums of products of 18-digit masses and 7-digit fractions).
EXACT = Context(prec=100, traps=[Inexact, Rounded, InvalidOperation, Overflow])
_ZERO = Decimal(0)

#: (consumed kg, input lot state before the transform)
Consumed = Sequence[tuple[Decimal, Lot]]
#: (output kg, output composition or None)
Outputs = Sequence[tuple[Decimal, Mapping[str, Decimal] | None]]


def total(values: Sequence[Decimal]) -> Decimal:
    """Exact sum."""
    acc = _ZERO
    for v in values:
        acc = EXACT.add(acc, v)
    return acc


def _make_source(source: str) -> Shares:
    shares = zero_shares()
    if source != "virgin":
        shares[source] = Fraction(1)
    return MappingProxyType(shares)


#: the shares of a lot.create lot per source: shared, read-only (every create uses one)
_SOURCE_SHARES = {s: _make_source(s) for s in ("virgin", *CATEGORIES)}


def _source(source: str) -> Shares:
    return _SOURCE_SHARES[source]


def created_shares(
    source: str, composition: Mapping[str, Decimal] | None
) -> tuple[Shares, dict[str, Shares | None] | None]:
    """A ``lot.create`` lot is 100 % its source, as a whole and in every element."""
    es: dict[str, Shares | None] | None = None
    if composition is not None:
        es = {e: _source(source) for e in composition}
    return _source(source), es


def element_mass_in(consumed: Consumed, element: str) -> Decimal | None:
    """Σ c_i·w_i[e] over the inputs, or ``None`` when an input's composition is unknown."""
    acc = _ZERO
    for c, lot in consumed:
        if lot.composition is None:
            return None
        w = lot.composition.get(element)
        if w:
            acc = EXACT.add(acc, EXACT.multiply(c, w))
    return acc


def element_mass_out(outputs: Outputs, element: str) -> Decimal:
    """Σ m_o·w_o[e] over the outputs whose composition lists the element."""
    acc = _ZERO
    for m, comp in outputs:
        w = comp.get(element) if comp else None
        if w:
            acc = EXACT.add(acc, EXACT.multiply(m, w))
    return acc


def _weighted(pairs: Iterable[tuple[Decimal, Mapping[str, Fraction]]]) -> dict[str, Fraction]:
    """Σ weight·share per category, exactly.

    Inputs are grouped by share value first (exact Decimal sums of their weights), so a
    transform of many inputs with the same shares (the common case: lots that are 100 % one
    category) costs one Fraction product per distinct share instead of one per input.
    """
    groups: dict[str, dict[Fraction, Decimal]] = {k: {} for k in CATEGORIES}
    for weight, shares in pairs:
        for k, v in shares.items():
            if v:
                g = groups[k]
                g[v] = EXACT.add(g.get(v, _ZERO), weight)
    return {k: sum((v * Fraction(w) for v, w in g.items()), Fraction(0)) for k, g in groups.items()}


def _recycled_element_mass(consumed: Consumed, element: str) -> dict[str, Fraction] | None:
    """Σ c_i·w_i[e]·r_i[e][k] per category, or ``None`` when any needed share is unknown."""
    pairs: list[tuple[Decimal, Mapping[str, Fraction]]] = []
    for c, lot in consumed:
        if lot.composition is None:
            return None
        w = lot.composition.get(element)
        if not w:
            continue
        r = None if lot.element_shares is None else lot.element_shares.get(element)
        if r is None:
            return None
        pairs.append((EXACT.multiply(c, w), r))
    return _weighted(pairs)


def _copy_shares(lot: Lot, composition: Mapping[str, Decimal]) -> dict[str, Shares | None]:
    """Element shares of the only input, for the elements of an output (the blend of one)."""
    es: dict[str, Shares | None] = {}
    for e in composition:
        w = None if lot.composition is None else lot.composition.get(e)
        r = None if not w or lot.element_shares is None else lot.element_shares.get(e)
        es[e] = None if r is None else dict(r)
    return es


def blend(
    consumed: Consumed, composition: Mapping[str, Decimal] | None
) -> tuple[dict[str, Fraction], dict[str, Shares | None] | None]:
    """Controlled blending: the shares of one output of a transform.

    Mass shares are the consumed-mass-weighted mean of the inputs'; the share of element e is
    Σ c_i·w_i[e]·r_i[e][k] / Σ c_i·w_i[e], unknown (``None``) when any input composition or any
    needed input element share is unknown, or when no input holds the element.
    """
    if len(consumed) == 1:
        only = consumed[0][1]
        return dict(only.mass_shares), None if composition is None else _copy_shares(
            only, composition
        )
    mass = _weighted((c, lot.mass_shares) for c, lot in consumed)
    whole = Fraction(total([c for c, _ in consumed]))
    mass = {k: v / whole if v else v for k, v in mass.items()}
    if composition is None:
        return mass, None
    es: dict[str, Shares | None] = {}
    for e in composition:
        den = element_mass_in(consumed, e)
        num = _recycled_element_mass(consumed, e)
        if not den or num is None:
            es[e] = None
        else:
            fden = Fraction(den)
            es[e] = {k: v / fden if v else v for k, v in num.items()}
    return mass, es


def floor_micro(x: Fraction) -> Decimal:
    """``x`` rounded DOWN to 6 decimals (a credit is never rounded up)."""
    return canonical_decimal(Decimal(math.floor(x * 1_000_000)).scaleb(-6))


def mass_balance_credits(consumed: Consumed, outputs: Outputs) -> dict[tuple[str, str], Decimal]:
    """Mass balance, credit method: (element, category) -> credit kg earned by a transform.

    For each element listed in an output composition: output element mass × Σ c_i·w_i·r_i[k] /
    Σ c_i·w_i, i.e. the recycled element mass consumed times the conversion factor. No credit
    for an element whose input element mass or shares are unknown. Rounded down to 6 decimals.
    """
    elements = sorted({e for _, comp in outputs for e in comp or {}})
    credits: dict[tuple[str, str], Decimal] = {}
    for e in elements:
        den = element_mass_in(consumed, e)
        num = _recycled_element_mass(consumed, e)
        if not den or num is None:
            continue
        factor = Fraction(element_mass_out(outputs, e)) / Fraction(den)
        for k in CATEGORIES:
            kg = floor_micro(num[k] * factor)
            if kg > 0:
                credits[(e, k)] = kg
    return credits


def allocation_room(lot: Lot, element: str) -> tuple[Fraction, str | None]:
    """The most credit kg of ``element`` the lot can still take, and why it is 0 when it is.

    An allocation turns virgin into recycled content, so it is bounded by the lot's virgin mass
    of the element AND by its virgin mass overall (shares never exceed 1).
    """
    if lot.composition is None or not lot.composition.get(element):
        return Fraction(0), f"lot {lot.lot} has no known {element} (assay it first)"
    r = None if lot.element_shares is None else lot.element_shares.get(element)
    if r is None:
        return Fraction(0), f"the {element} share of lot {lot.lot} is unknown"
    el_mass = Fraction(lot.mass) * Fraction(lot.composition[element])
    virgin_el = el_mass * (1 - sum(r.values()))
    virgin = Fraction(lot.mass) * (1 - sum(lot.mass_shares.values()))
    return min(virgin_el, virgin), None


def allocate(
    lot: Lot, element: str, category: str, kg: Decimal
) -> tuple[dict[str, Fraction], dict[str, Shares | None]]:
    """New (mass_shares, element_shares) after allocating ``kg`` (checked against the room)."""
    assert lot.composition is not None and lot.element_shares is not None
    f = Fraction(kg)
    mass = dict(lot.mass_shares)
    mass[category] += f / Fraction(lot.mass)
    es = dict(lot.element_shares)
    old = es[element]
    assert old is not None
    new = dict(old)
    new[category] += f / (Fraction(lot.mass) * Fraction(lot.composition[element]))
    es[element] = new
    return mass, es


def assay_element_shares(lot: Lot, composition: Mapping[str, Decimal]) -> dict[str, Shares | None]:
    """Element shares after an assay replaces the composition.

    Elements already known keep their share; a newly listed element gets the source share for a
    ``lot.create`` lot (it is single-source), 0 for a mass-balance output (its shares start at 0),
    and unknown for a blended output (the inputs are not at hand to recompute it).
    """
    old = lot.element_shares or {}
    es: dict[str, Shares | None] = {}
    for e in composition:
        if e in old:
            es[e] = old[e]
        elif lot.model == "create" and lot.source is not None:
            es[e] = _source(lot.source)
        elif lot.model == "mass_balance":
            es[e] = zero_shares()
        else:
            es[e] = None
    return es
