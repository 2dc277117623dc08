"""Rules of the lot events (spec §4) and credit allocation (spec §7)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from . import shares
from ._base import Ctx, fail
from .records import Lot, Shares, canonical_decimal, format_decimal, zero_shares

__all__ = ["LOT_HANDLERS"]


def _composition(d: Mapping[str, str] | None) -> dict[str, Decimal] | None:
    return None if d is None else {e: Decimal(f) for e, f in d.items()}


def _kg(d: Decimal | Fraction) -> str:
    """A mass for a message, rounded to 6 decimals."""
    if isinstance(d, Fraction):
        d = Decimal(round(d * 1_000_000)).scaleb(-6)
    return format_decimal(d.quantize(Decimal("0.000001")))


def _mass(text: str) -> Decimal:
    return canonical_decimal(Decimal(text))


def _status(mass: Decimal) -> str:
    return "held" if mass > 0 else "consumed"


def _new_lot(
    c: Ctx,
    spec: Mapping[str, Any],
    site: Mapping[str, str],
    composition: dict[str, Decimal] | None,
    **made: Any,
) -> None:
    """A lot the event creates, held by its actor: ``spec`` has lot, material and mass_kg;
    ``made`` the source, model, shares and parents of how it was made."""
    c.delta.lots[spec["lot"]] = Lot(
        lot=spec["lot"],
        material=spec["material"],
        mass=_mass(spec["mass_kg"]),
        custodian=c.ev.actor,
        status="held",
        head=c.ev.hash,
        created_seq=c.seq,
        time=c.ev.time,
        composition=composition,
        site_country=site["country"],
        site_name=site.get("name", ""),
        transit_to=None,
        transit_ship=None,
        allocated={},
        **made,
    )


def _create(c: Ctx) -> None:
    b = c.body
    c.require_role("producer", "recycler", "processor")
    c.absent(b["lot"])
    comp = _composition(b.get("composition"))
    mass_shares, element_shares = shares.created_shares(b["source"], comp)
    _new_lot(
        c,
        b,
        b["site"],
        comp,
        source=b["source"],
        model="create",
        mass_shares=mass_shares,
        element_shares=element_shares,
        parents=(),
    )


def _ship(c: Ctx) -> None:
    b = c.body
    lot = c.existing(b["lot"])
    c.custodian(lot)
    if c.view.party(b["to"]) is None:
        raise fail(
            "unknown_party",
            f"the receiver {b['to']!r} is not a registered party: "
            "have the operator register it first",
        )
    mass = _mass(b["mass_kg"])
    if mass > lot.mass:
        raise fail(
            "overdraw",
            f"lot {lot.lot!r} holds {_kg(lot.mass)} kg, you ship "
            f"{b['mass_kg']} kg: ship exactly what it holds",
        )
    if mass < lot.mass:
        raise fail(
            "invalid_event",
            f"lot {lot.lot!r} holds {_kg(lot.mass)} kg and a "
            "ship moves the whole lot: ship all of it, or split it first with a "
            "lot.transform and ship an output",
        )
    c.touch(lot, status="in_transit", transit_to=b["to"], transit_ship=c.ev.hash)


def _receive(c: Ctx) -> None:
    b = c.body
    lot = c.existing(b["lot"])
    if lot.status != "in_transit":
        raise fail(
            "not_in_transit",
            f"lot {lot.lot!r} is not in transit (it is {lot.status}, "
            f"held by {lot.custodian!r}): only a shipped lot can be received",
        )
    if lot.transit_to != c.ev.actor:
        raise fail(
            "forbidden",
            f"lot {lot.lot!r} is shipped to {lot.transit_to!r}, not to "
            f"{c.ev.actor!r}: only the receiver named in the ship may receive it",
        )
    if b["ship"] != lot.transit_ship:
        raise fail(
            "invalid_event",
            f"body.ship is {b['ship']}, but the pending ship of lot "
            f"{lot.lot!r} is {lot.transit_ship}: name that ship event's hash",
        )
    mass = _mass(b["mass_kg"])
    if mass > lot.mass:
        raise fail(
            "overdraw",
            f"{b['mass_kg']} kg received is more than the "
            f"{_kg(lot.mass)} kg shipped: receive at most what was shipped",
        )
    c.touch(
        lot,
        custodian=c.ev.actor,
        mass=mass,
        status=_status(mass),
        transit_to=None,
        transit_ship=None,
    )


def _transform(c: Ctx) -> None:
    b = c.body
    consumed: list[tuple[Decimal, Lot]] = []
    for item in b["inputs"]:
        consumed.append((Decimal(item["mass_kg"]), c.existing(item["lot"])))
    for out in b["outputs"]:
        c.absent(out["lot"])
    for (kg, lot), item in zip(consumed, b["inputs"], strict=True):
        c.custodian(lot)
        if kg > lot.mass:
            raise fail(
                "overdraw",
                f"input {lot.lot!r} holds {_kg(lot.mass)} kg, the "
                f"transform consumes {item['mass_kg']} kg: consume at most what it holds",
            )
    outputs = [(Decimal(o["mass_kg"]), _composition(o.get("composition"))) for o in b["outputs"]]
    _check_conservation(c, consumed, outputs)
    model = b.get("model", "controlled_blending")
    site = b["site"]
    site_name = site.get("name", "")
    for (_, lot), item in zip(consumed, b["inputs"], strict=True):
        left = canonical_decimal(lot.mass - Decimal(item["mass_kg"]))
        c.touch(lot, mass=left, status=_status(left))
    parents = tuple(lot.lot for _, lot in consumed)
    for out, (_, comp) in zip(b["outputs"], outputs, strict=True):
        mass_shares: dict[str, Fraction]
        element_shares: dict[str, Shares | None] | None
        if model == "mass_balance":
            mass_shares = zero_shares()
            element_shares = None if comp is None else {e: zero_shares() for e in comp}
        else:
            mass_shares, element_shares = shares.blend(consumed, comp)
        _new_lot(
            c,
            out,
            site,
            comp,
            source=None,
            model=model,
            mass_shares=mass_shares,
            element_shares=element_shares,
            parents=parents,
        )
    if model == "mass_balance":
        earned = shares.mass_balance_credits(consumed, outputs)
        for (element, category), credit in earned.items():
            account = (c.ev.actor, site_name, element, category)
            c.delta.credits[account] = canonical_decimal(c.view.credit(account) + credit)


def _check_conservation(
    c: Ctx,
    consumed: list[tuple[Decimal, Lot]],
    outputs: list[tuple[Decimal, dict[str, Decimal] | None]],
) -> None:
    total_in = shares.total([kg for kg, _ in consumed])
    total_out = shares.total([kg for kg, _ in outputs])
    if total_out > total_in:
        raise fail(
            "mass_not_conserved",
            f"the outputs weigh {_kg(total_out)} kg, more than "
            f"the {_kg(total_in)} kg of inputs consumed: outputs may weigh no more than "
            "what the transform consumes",
        )
    factor = shares.EXACT.add(Decimal(1), c.config.tolerance)
    elements = sorted({e for _, comp in outputs for e in comp or {}})
    for e in elements:
        have = shares.element_mass_in(consumed, e)
        if have is None:
            return  # an input composition is unknown: the element check does not apply
        out = shares.element_mass_out(outputs, e)
        if out > shares.EXACT.multiply(have, factor):
            raise fail(
                "mass_not_conserved",
                f"the outputs hold {_kg(out)} kg of {e}, more than "
                f"the {_kg(have)} kg consumed (tolerance {c.config.tolerance}): correct "
                "the output compositions or masses",
            )


def _assay(c: Ctx) -> None:
    b = c.body
    lot = c.existing(b["lot"], custody="lab" not in c.actor().roles)
    if lot.custodian != c.ev.actor and "lab" not in c.actor().roles:
        raise fail(
            "not_custodian",
            f"lot {lot.lot!r} is held by {lot.custodian!r}: only its "
            "custodian or a party with the lab role may assay it",
        )
    comp = _composition(b["composition"])
    assert comp is not None
    c.touch(lot, composition=comp, element_shares=shares.assay_element_shares(lot, comp))


def _adjust(c: Ctx) -> None:
    b = c.body
    lot = c.existing(b["lot"])
    c.custodian(lot)
    mass = _mass(b["mass_kg"])
    if mass > lot.mass:
        raise fail(
            "mass_not_conserved",
            f"lot {lot.lot!r} holds {_kg(lot.mass)} kg; "
            f"lot.adjust to {b['mass_kg']} kg would raise it: an adjustment only lowers "
            "a mass (new material enters with lot.create)",
        )
    c.touch(lot, mass=mass, status=_status(mass))


def _attest(c: Ctx) -> None:
    c.require_role("auditor")
    c.touch(c.existing(c.body["lot"], custody=False))


def _allocate(c: Ctx) -> None:
    b = c.body
    lot = c.existing(b["lot"])
    c.custodian(lot)
    element, category, site = b["element"], b["category"], b["site"]
    if site != lot.site_name:
        raise fail(
            "invalid_event",
            f"lot {lot.lot!r} was made at site {lot.site_name!r}, not "
            f"{site!r}: credits of a site go only to lots made at that site",
        )
    account = (c.ev.actor, site, element, category)
    balance = c.view.credit(account)
    kg = Decimal(b["kg"])
    if kg > balance:
        raise fail(
            "insufficient_credits",
            f"the {category} {element} credit account of "
            f"{c.ev.actor!r} at site {site!r} holds {_kg(balance)} kg, you "
            f"allocate {b['kg']} kg: allocate at most the balance",
        )
    room, why = shares.allocation_room(lot, element)
    if kg > room:
        why = why or (
            f"it can take at most {_kg(room)} kg more (its virgin {element} mass, "
            "and its virgin mass overall)"
        )
        raise fail(
            "overdraw", f"cannot allocate {b['kg']} kg of {element} to lot {lot.lot!r}: {why}"
        )
    mass_shares, element_shares = shares.allocate(lot, element, category, kg)
    allocated = dict(lot.allocated)
    allocated[(element, category)] = canonical_decimal(
        allocated.get((element, category), Decimal(0)) + kg
    )
    c.touch(lot, mass_shares=mass_shares, element_shares=element_shares, allocated=allocated)
    c.delta.credits[account] = canonical_decimal(balance - kg)


LOT_HANDLERS: dict[str, Callable[[Ctx], None]] = {
    "lot.create": _create,
    "lot.ship": _ship,
    "lot.receive": _receive,
    "lot.transform": _transform,
    "lot.assay": _assay,
    "lot.adjust": _adjust,
    "lot.attest": _attest,
    "credit.allocate": _allocate,
}
