"""A lot's history as a GS1 EPCIS 2.0 JSON-LD document (spec §13.2).

Pure: the caller picks the events (the lot's provenance closure as the reader may see it,
``Ledger.epcis_document``) and passes the time of the document; nothing here reads a clock or a
database. The mapping, one EPCIS event per LTL lot event, in log order:

=================  =====================================================================
``lot.create``     ObjectEvent ``ADD``, bizStep ``commissioning``, disposition ``active``;
                   ``ilmd``: ``ltl:material``, ``ltl:source``, ``ltl:composition``
``lot.ship``       ObjectEvent ``OBSERVE``, ``shipping`` / ``in_transit``, source and
                   destination lists (``owning_party``: shipper, receiver)
``lot.receive``    ObjectEvent ``OBSERVE``, ``receiving`` / ``in_progress``, the same lists,
                   ``ltl:ship`` (the LTL hash of the ship it ends)
``lot.transform``  TransformationEvent, ``commissioning`` / ``active``, input and output
                   quantity lists in ``KGM``; ``ilmd``: ``ltl:outputs``
``lot.assay``      ObjectEvent ``OBSERVE``, ``inspecting``, one ``sensorReport`` per element
                   (``Dimensionless``, value in percent, ``uom`` ``P1``)
``lot.adjust``     ObjectEvent ``OBSERVE`` ``stock_taking`` / ``active`` (a lower mass), or
                   ``DELETE`` ``destroying`` / ``destroyed`` (mass 0)
``lot.attest``     ObjectEvent ``OBSERVE``, ``inspecting``, ``certificationInfo``
``credit.allocate``ObjectEvent ``OBSERVE``, bizStep ``ltl:creditAllocation`` (no CBV step
                   moves bookkeeping credit), ``ltl:credit``
=================  =====================================================================

Every event carries ``eventID`` (its CBV 2.0 hash, ``epcis_hash.event_hash``) and the LTL
extension: ``ltl:eventHash``, ``ltl:logIndex``, ``ltl:inclusionProof`` (a relative reference to
the log's inclusion proof route) and ``ltl:actor`` (the party that signed it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..core.events import SignedEvent
from .epcis_hash import event_hash

__all__ = [
    "CONTEXT",
    "EPCIS_CONTEXT",
    "LTL_NS",
    "epcis_document",
    "epcis_event",
    "lot_class",
    "lot_of_class",
    "number",
    "party_of_uri",
    "party_uri",
    "quote",
    "site_of_uri",
    "site_uri",
    "unquote",
]

#: the EPCIS 2.0 JSON-LD context and the ledger's extension namespace (prefix ``ltl``)
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
LTL_NS = "https://ltl.example/epcis#"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"ltl": LTL_NS}]
#: the bizStep of a credit allocation (a URI outside the CBV, as EPCIS 2.0 allows)
CREDIT_STEP = "ltl:creditAllocation"
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]")
_ESCAPE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_LOT_URN = "urn:ltl:lot:"
_PARTY_URN = "urn:ltl:party:"
_SITE_URN = "urn:ltl:site:"


def quote(text: str) -> str:
    """RFC 3986 percent-encoding of every character but the unreserved ones (UTF-8)."""
    return "".join(
        c if _UNRESERVED.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
        for c in text
    )


def unquote(text: str) -> str:
    """The inverse of :func:`quote` (invalid UTF-8 is replaced)."""
    return _ESCAPE.sub(
        lambda m: bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "replace"), text
    )


def lot_class(lot: str) -> str:
    """The class-level identifier (``epcClass``) of a lot: a lot id that already is a URN
    (an EPC class, an LGTIN) or a GS1 Digital Link stays as it is; any other becomes
    ``urn:ltl:lot:<percent-encoded id>``."""
    if lot.startswith(("urn:", "https://id.gs1.org/")):
        return lot
    return _LOT_URN + quote(lot)


def lot_of_class(uri: str) -> str:
    """The inverse of :func:`lot_class`."""
    return unquote(uri[len(_LOT_URN) :]) if uri.startswith(_LOT_URN) else uri


def party_uri(party: str) -> str:
    """``urn:ltl:party:<id>`` (party ids are lower-case letters, digits and ``-``)."""
    return _PARTY_URN + party


def party_of_uri(uri: str) -> str | None:
    """The party id of a ``urn:ltl:party:`` URN, or None for another identifier."""
    return uri[len(_PARTY_URN) :] if uri.startswith(_PARTY_URN) else None


def site_uri(site: Mapping[str, Any]) -> str:
    """``urn:ltl:site:<country>`` or ``urn:ltl:site:<country>:<percent-encoded name>``."""
    name = str(site.get("name") or "")
    return _SITE_URN + str(site["country"]) + (":" + quote(name) if name else "")


def site_of_uri(uri: str) -> dict[str, str] | None:
    """The LTL site of a ``urn:ltl:site:`` URN, or None for another identifier."""
    if not uri.startswith(_SITE_URN):
        return None
    country, _, name = uri[len(_SITE_URN) :].partition(":")
    site = {"country": country}
    if name:
        site["name"] = unquote(name)
    return site


def number(text: str) -> int | float:
    """A decimal string as a JSON number (an int when whole; a float otherwise: exact for the
    up to 15 significant digits that masses and percentages of real lots have)."""
    d = Decimal(text)
    return int(d) if d == d.to_integral_value() else float(text)


def _qty(lot: str, mass: str) -> dict[str, Any]:
    return {"epcClass": lot_class(lot), "quantity": number(mass), "uom": "KGM"}


def _parties(shipper: str, receiver: str) -> dict[str, Any]:
    return {
        "sourceList": [{"type": "owning_party", "source": party_uri(shipper)}],
        "destinationList": [{"type": "owning_party", "destination": party_uri(receiver)}],
    }


def _site(site: Mapping[str, Any]) -> dict[str, Any]:
    uri = site_uri(site)
    return {"readPoint": {"id": uri}, "bizLocation": {"id": uri}}


def _percent(fraction: str) -> int | float:
    return number(str(Decimal(fraction) * 100))


def _body_fields(ev: SignedEvent, ship_receivers: Mapping[str, str]) -> dict[str, Any]:
    """The type-specific members of the EPCIS event of ``ev``."""
    b = ev.body
    t = ev.type
    if t == "lot.create":
        ilmd: dict[str, Any] = {"ltl:material": b["material"], "ltl:source": b["source"]}
        if "composition" in b:
            ilmd["ltl:composition"] = dict(b["composition"])
        return {
            "type": "ObjectEvent",
            "action": "ADD",
            "quantityList": [_qty(b["lot"], b["mass_kg"])],
            "bizStep": "commissioning",
            "disposition": "active",
            **_site(b["site"]),
            "ilmd": ilmd,
        }
    if t == "lot.ship":
        out = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "quantityList": [_qty(b["lot"], b["mass_kg"])],
            "bizStep": "shipping",
            "disposition": "in_transit",
            **_parties(ev.actor, b["to"]),
        }
        if "documents" in b:
            out["ltl:documents"] = [dict(d) for d in b["documents"]]
        return out
    if t == "lot.receive":
        shipper = ship_receivers.get(b["ship"])
        out = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "quantityList": [_qty(b["lot"], b["mass_kg"])],
            "bizStep": "receiving",
            "disposition": "in_progress",
        }
        if shipper is not None:
            out |= _parties(shipper, ev.actor)
        out["ltl:ship"] = b["ship"]
        return out
    if t == "lot.transform":
        outputs = []
        for o in b["outputs"]:
            item = {"lot": o["lot"], "material": o["material"]}
            if "composition" in o:
                item["composition"] = dict(o["composition"])
            outputs.append(item)
        return {
            "type": "TransformationEvent",
            "inputQuantityList": [_qty(i["lot"], i["mass_kg"]) for i in b["inputs"]],
            "outputQuantityList": [_qty(o["lot"], o["mass_kg"]) for o in b["outputs"]],
            "bizStep": "commissioning",
            "disposition": "active",
            **_site(b["site"]),
            "ilmd": {"ltl:outputs": outputs},
            "ltl:process": b["process"],
            "ltl:model": b.get("model", "controlled_blending"),
        }
    if t == "lot.assay":
        reports = [
            {
                "type": "Dimensionless",
                "chemicalSubstance": f"urn:ltl:element:{el}",
                "value": _percent(frac),
                "uom": "P1",
            }
            for el, frac in sorted(b["composition"].items())
        ]
        out = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "quantityList": [{"epcClass": lot_class(b["lot"])}],
            "bizStep": "inspecting",
            "ltl:composition": dict(b["composition"]),
        }
        if reports:
            out["sensorElementList"] = [{"sensorReport": reports}]
        if "report" in b:
            out["ltl:report"] = dict(b["report"])
        return out
    if t == "lot.adjust":
        gone = not Decimal(b["mass_kg"])
        return {
            "type": "ObjectEvent",
            "action": "DELETE" if gone else "OBSERVE",
            "quantityList": [_qty(b["lot"], b["mass_kg"])],
            "bizStep": "destroying" if gone else "stock_taking",
            "disposition": "destroyed" if gone else "active",
            "ltl:reason": b["reason"],
        }
    if t == "lot.attest":
        attestation = {"scheme": b["scheme"], "statement": b["statement"]}
        if "expires" in b:
            attestation["expires"] = b["expires"]
        return {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "quantityList": [{"epcClass": lot_class(b["lot"])}],
            "bizStep": "inspecting",
            "certificationInfo": "urn:ltl:scheme:" + quote(b["scheme"]),
            "ltl:attestation": attestation,
        }
    if t == "credit.allocate":
        return {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "quantityList": [{"epcClass": lot_class(b["lot"])}],
            "bizStep": CREDIT_STEP,
            "ltl:credit": {k: b[k] for k in ("site", "element", "category", "kg")},
        }
    raise ValueError(f"{t} is not a lot event")


def epcis_event(
    seq: int,
    ev: SignedEvent,
    *,
    ship_receivers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The EPCIS 2.0 event of one logged LTL lot event, with its ``eventID``.

    Args:
        seq: the event's log index.
        ship_receivers: LTL ship hash -> shipper, for the party lists of a receive.
    """
    out: dict[str, Any] = {
        "type": "",
        "eventTime": ev.time,
        "eventTimeZoneOffset": "+00:00",
    }
    out |= _body_fields(ev, ship_receivers or {})
    out["ltl:actor"] = party_uri(ev.actor)
    out["ltl:eventHash"] = ev.hash
    out["ltl:logIndex"] = seq
    # a relative reference (RFC 3986 §4.2), resolved against the ledger that serves the
    # document: the eventID hashes it, so it must not depend on the name the ledger is reached
    # by (a Host header, a proxy) — one signed event, one eventID
    out["ltl:inclusionProof"] = f"/v1/log/proof/inclusion?hash={ev.hash}"
    # the CBV 2.0 hash covers the event as it will be published, the extension included
    return {"eventID": event_hash(out, CONTEXT), **out}


def epcis_document(entries: Sequence[tuple[int, SignedEvent]], *, created: str) -> dict[str, Any]:
    """An ``EPCISDocument`` of the lot events ``entries`` (log index, event), in log order.

    Events that are not about lots (party and key events) are left out.
    """
    ordered = sorted(entries, key=lambda e: e[0])
    shippers = {ev.hash: ev.actor for _, ev in ordered if ev.type == "lot.ship"}
    events = [
        epcis_event(seq, ev, ship_receivers=shippers)
        for seq, ev in ordered
        if ev.type.startswith("lot.") or ev.type == "credit.allocate"
    ]
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"eventList": events},
    }
