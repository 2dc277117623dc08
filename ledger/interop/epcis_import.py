"""An EPCIS 2.0 document as signed LTL events (spec §13.2).

Two steps, both pure (the caller does the I/O through the callables it passes):

1. :func:`drafts` maps every event of the document (JSON-LD, or EPCIS 2.0 XML converted to
   the same JSON-LD by ``epcis_xml``) to an LTL event draft (type, actor, time, body with
   ``epcis_event``: the CBV 2.0 hash of the event as written, an XML event's computed from the
   XML) or refuses the whole document with an :class:`EpcisError` naming the event (its index
   and eventID) and the field that cannot be mapped. Nothing is signed.
2. :func:`sign_drafts` signs the drafts in document order with the signers' keys (the keys
   never leave the caller), filling ``prev`` from the heads of lots the document made or
   touched earlier (computed locally: an event hash is the hash of its canonical form) and,
   for the other lots, from ``heads`` (the ledger's current heads, read once per lot). A
   receive names the new hash of its ship when the ship is in the document, else the
   lot's pending ship on the ledger (``transit_ship``). Event ids are derived from the
   EPCIS event hash, so importing the same document again is an idempotent repeat.

The caller then posts the signed events in order (``ledger.cli.epcis``, or the tests through
the SDK). Mapping is the reverse of ``epcis_export``; documents from other systems map when
they carry what a ledger event needs (a mass in kg, a lot, a party, a site, the source
category of new material).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ..core import canonical, events
from ..core.keys import Ed25519PrivateKey
from ..core.schema import check_envelope, touched_lots
from ..core.values import LOT_ID_RE, format_mass, format_time
from ..errors import LedgerError
from .epcis_export import CONTEXT, CREDIT_STEP, LTL_NS, lot_of_class, party_of_uri, site_of_uri
from .epcis_hash import MAX_DOCUMENT_BYTES, EpcisError, event_hash, sniff
from .epcis_xml import xml_document

__all__ = ["Document", "Draft", "drafts", "import_document", "read_document", "sign_drafts"]

_CBV_PREFIXES = tuple(
    prefix
    for urn, word in (("bizstep", "BizStep"), ("disp", "Disp"), ("sdt", "SDT"))
    for prefix in (
        f"urn:epcglobal:cbv:{urn}:",
        f"https://ref.gs1.org/cbv/{word}-",
        f"https://gs1.org/voc/{word}-",
    )
)
#: how ``epcis_hash`` names the one event it was given (replaced by the event's index)
_HASH_WHERE = re.compile(r"^event 0(?: \([^)]*\))?(?:, | )?")
_UUID_NS = uuid.UUID("1b3a3a8e-6c2f-5b0e-9d7e-2f7a0c1e9a10")


@dataclass
class Draft:
    """One LTL event to be signed: what the EPCIS event says, before heads are known."""

    index: int
    epcis_event: str
    type: str
    actor: str | None
    time: str
    body: dict[str, Any]
    lots_made: tuple[str, ...] = field(default=())


class _Event:
    """Field access on one EPCIS event, each refusal naming the event and the field."""

    def __init__(self, index: int, ev: Mapping[str, Any], ident: str) -> None:
        self.index, self.ev, self.ident = index, ev, ident

    def fail(self, path: str, what: str) -> EpcisError:
        return EpcisError(
            f"EPCIS event #{self.index} ({self.ident}): {path}: {what}; "
            "nothing of this document was posted"
        )

    def get(self, *names: str) -> Any:
        """The first member present under any of ``names`` (compact ``ltl:x`` or full IRI)."""
        for name in names:
            for key in (name, name.replace("ltl:", LTL_NS, 1)):
                if key in self.ev:
                    return self.ev[key]
        return None

    def text(self, name: str, where: Mapping[str, Any] | None = None, path: str = "") -> str:
        """A required string member of the event (or of ``where``, reported under ``path``)."""
        scope = self.ev if where is None else where
        v = next((scope[k] for k in (name, name.replace("ltl:", LTL_NS, 1)) if k in scope), None)
        if v is None:
            raise self.fail(path + name, "missing; the ledger needs it")
        if type(v) is not str:
            raise self.fail(path + name, "must be a string")
        return v


def _vocab(value: Any) -> str | None:
    """A CBV bizStep/disposition in its bare form (``shipping``), whatever its spelling."""
    if type(value) is not str:
        return None
    for prefix in _CBV_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    if value.startswith(LTL_NS):
        return "ltl:" + value[len(LTL_NS) :]
    return value


def _mass(e: _Event, q: Any, path: str, *, zero: bool = False) -> str:
    if not isinstance(q, Mapping):
        raise e.fail(path, "must be a quantity element")
    uom = q.get("uom")
    if "quantity" not in q:
        raise e.fail(path + ".quantity", "missing: the ledger needs a mass in kg")
    if uom != "KGM":
        raise e.fail(path + ".uom", f"{uom!r} is not KGM: the ledger records masses in kg only")
    value = q["quantity"]
    if type(value) not in (int, float):
        raise e.fail(path + ".quantity", "must be a number")
    try:
        text = format_mass(Decimal(repr(value)))
    except (ValueError, InvalidOperation):
        raise e.fail(path + ".quantity", f"{value!r} is not a mass in kg") from None
    if not zero and not Decimal(text):
        raise e.fail(path + ".quantity", "must be more than 0 kg")
    return text


def _lot(e: _Event, q: Any, path: str) -> str:
    if not isinstance(q, Mapping) or type(q.get("epcClass")) is not str:
        raise e.fail(path + ".epcClass", "missing: the ledger needs the lot (a class identifier)")
    lot = lot_of_class(q["epcClass"])
    if LOT_ID_RE.fullmatch(lot) is None:
        raise e.fail(path + ".epcClass", f"{lot!r} is not a ledger lot id")
    return lot


def _one(e: _Event, name: str) -> Mapping[str, Any]:
    items = e.get(name)
    if e.get("epcList", "inputEPCList", "outputEPCList", "childEPCs"):
        raise e.fail(
            "epcList",
            "instance-level identifiers: the ledger tracks lots by mass, send a quantityList",
        )
    if type(items) is not list or len(items) != 1:
        raise e.fail(name, "must list exactly one lot (one quantity element)")
    item: Mapping[str, Any] = items[0]
    return item


def _party(e: _Event, name: str, member: str) -> str | None:
    items = e.get(name)
    if items is None:
        return None
    if type(items) is not list:
        raise e.fail(name, "must be a list")
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and _vocab(item.get("type")) == "owning_party":
            party = party_of_uri(str(item.get(member)))
            if party is None:
                raise e.fail(f"{name}[{i}].{member}", "is not a urn:ltl:party: identifier")
            return party
    return None


def _site(e: _Event) -> dict[str, str]:
    for name in ("bizLocation", "readPoint"):
        loc = e.get(name)
        if isinstance(loc, Mapping) and type(loc.get("id")) is str:
            site = site_of_uri(loc["id"])
            if site is None:
                raise e.fail(f"{name}.id", "is not a urn:ltl:site: identifier (country, name)")
            return site
    raise e.fail("bizLocation", "missing: the ledger needs the site (a urn:ltl:site: id)")


def _time(e: _Event) -> str:
    raw = e.get("eventTime")
    if type(raw) is not str:
        raise e.fail("eventTime", "missing or not a string")
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise e.fail("eventTime", f"{raw!r} is not a time") from None
    if when.tzinfo is None:
        raise e.fail("eventTime", "has no time zone")
    return format_time(when.astimezone(UTC))


def _composition(e: _Event, value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(type(v) is str for v in value.values()):
        raise e.fail(path, "must be an object of element -> fraction string")
    return dict(value)


def _assay(e: _Event) -> dict[str, str]:
    given = e.get("ltl:composition")
    if given is not None:
        return _composition(e, given, "ltl:composition")
    out: dict[str, str] = {}
    elements = e.get("sensorElementList")
    if type(elements) is not list or not elements:
        raise e.fail("sensorElementList", "missing: an assay needs its results per element")
    for i, element in enumerate(elements):
        reports = element.get("sensorReport", []) if isinstance(element, Mapping) else None
        if type(reports) is not list:
            where = f"sensorElementList[{i}]" + ("" if reports is None else ".sensorReport")
            raise e.fail(where, "must be a sensor element with a list of sensorReport")
        for j, rep in enumerate(reports):
            path = f"sensorElementList[{i}].sensorReport[{j}]"
            if not isinstance(rep, Mapping):
                raise e.fail(path, "must be a sensor report object")
            sub = str(rep.get("chemicalSubstance", ""))
            if not sub.startswith("urn:ltl:element:"):
                raise e.fail(path + ".chemicalSubstance", "is not a urn:ltl:element: symbol")
            if rep.get("uom") != "P1" or type(rep.get("value")) not in (int, float):
                raise e.fail(path + ".value", "must be a percentage (uom P1)")
            try:  # NaN, infinities and negative values are no fraction
                frac = format_mass(Decimal(repr(rep["value"])) / 100)
            except (ValueError, InvalidOperation):
                raise e.fail(path + ".value", f"{rep['value']!r} is not a percentage") from None
            out[sub.rsplit(":", 1)[1]] = frac
    return out


def _draft(index: int, ev: Mapping[str, Any], source_hash: str | None = None) -> Draft:
    if not isinstance(ev, Mapping):
        raise EpcisError(f"EPCIS event #{index}: not a JSON object")
    ident = ev.get("eventID") if type(ev.get("eventID")) is str else None
    try:
        hashed = source_hash or event_hash({k: v for k, v in ev.items() if k != "eventID"}, CONTEXT)
    except EpcisError as err:  # the hash sees one event, "event 0": name this one
        why = _HASH_WHERE.sub("", err.message, count=1)
        raise EpcisError(
            f"EPCIS event #{index} ({ident or 'no eventID'}): {why}; "
            "nothing of this document was posted"
        ) from None
    e = _Event(index, ev, ident or hashed)
    kind = ev.get("type")
    step = _vocab(ev.get("bizStep"))
    action = ev.get("action")
    actor_uri = e.get("ltl:actor")
    actor = party_of_uri(actor_uri) if type(actor_uri) is str else None
    if actor_uri is not None and actor is None:
        raise e.fail("ltl:actor", "is not a urn:ltl:party: identifier")
    time = _time(e)

    def draft(type_: str, body: dict[str, Any], **kw: Any) -> Draft:
        if type_ != "credit.allocate":
            body["epcis_event"] = hashed
        return Draft(index, hashed, type_, actor, time, body, **kw)

    if kind in ("AggregationEvent", "AssociationEvent", "TransactionEvent"):
        raise e.fail("type", f"{kind}: the ledger has no notion of aggregation or transactions")
    if kind == "TransformationEvent":
        ins = e.get("inputQuantityList")
        outs = e.get("outputQuantityList")
        if e.get("inputEPCList", "outputEPCList"):
            raise e.fail("inputEPCList", "instance-level identifiers: send quantity lists in KGM")
        if type(ins) is not list or not ins:
            raise e.fail("inputQuantityList", "missing: a transform consumes lots by mass")
        if type(outs) is not list or not outs:
            raise e.fail("outputQuantityList", "missing: a transform makes lots by mass")
        ilmd = e.get("ilmd") or {}
        if not isinstance(ilmd, Mapping):
            raise e.fail("ilmd", "must be an object (holding ltl:outputs)")
        described = {}
        given = ilmd.get("ltl:outputs", ilmd.get(LTL_NS + "outputs", []))
        for i, o in enumerate(given if type(given) is list else []):
            if isinstance(o, Mapping):
                described[str(o.get("lot"))] = (i, o)
        outputs = []
        for i, q in enumerate(outs):
            lot = _lot(e, q, f"outputQuantityList[{i}]")
            item: dict[str, Any] = {"lot": lot}
            found = described.get(lot)
            if found is None:
                raise e.fail(f"ilmd.ltl:outputs ({lot})", "missing: the ledger needs its material")
            j, desc = found
            item["material"] = e.text("material", desc, f"ilmd.ltl:outputs[{j}].")
            item["mass_kg"] = _mass(e, q, f"outputQuantityList[{i}]")
            if "composition" in desc:
                item["composition"] = _composition(
                    e, desc["composition"], f"ilmd.ltl:outputs[{j}].composition"
                )
            outputs.append(item)
        body: dict[str, Any] = {
            "process": e.text("ltl:process"),
            "site": _site(e),
            "inputs": [
                {
                    "lot": _lot(e, q, f"inputQuantityList[{i}]"),
                    "mass_kg": _mass(e, q, f"inputQuantityList[{i}]"),
                }
                for i, q in enumerate(ins)
            ],
            "outputs": outputs,
        }
        model = e.get("ltl:model")
        if model is not None and model != "controlled_blending":
            body["model"] = model
        return draft("lot.transform", body, lots_made=tuple(o["lot"] for o in outputs))
    if kind != "ObjectEvent":
        raise e.fail("type", f"{kind!r} is not an EPCIS 2.0 event type the ledger maps")
    if step == "commissioning" and action == "ADD":
        q = _one(e, "quantityList")
        ilmd = e.get("ilmd")
        if not isinstance(ilmd, Mapping):
            raise e.fail("ilmd", "missing: the ledger needs ltl:material and ltl:source")
        lot = _lot(e, q, "quantityList[0]")
        body = {
            "lot": lot,
            "material": e.text("ltl:material", ilmd, "ilmd."),
            "mass_kg": _mass(e, q, "quantityList[0]"),
            "source": e.text("ltl:source", ilmd, "ilmd."),
            "site": _site(e),
        }
        comp = ilmd.get("ltl:composition", ilmd.get(LTL_NS + "composition"))
        if comp is not None:
            body["composition"] = _composition(e, comp, "ilmd.ltl:composition")
        return draft("lot.create", body, lots_made=(lot,))
    if action == "ADD":
        raise e.fail(
            "bizStep",
            f"{ev.get('bizStep')!r} with action ADD: only commissioning adds a lot (lot.create)",
        )
    if step == "shipping":
        q = _one(e, "quantityList")
        to = _party(e, "destinationList", "destination")
        if to is None:
            raise e.fail(
                "destinationList", "missing an owning_party: the ledger needs the receiver"
            )
        body = {
            "lot": _lot(e, q, "quantityList[0]"),
            "to": to,
            "mass_kg": _mass(e, q, "quantityList[0]"),
        }
        docs = e.get("ltl:documents")
        if docs is not None:
            body["documents"] = docs
        if actor is None:
            actor = _party(e, "sourceList", "source")
        return Draft(index, hashed, "lot.ship", actor, time, body | {"epcis_event": hashed})
    if step == "receiving":
        q = _one(e, "quantityList")
        if actor is None:
            actor = _party(e, "destinationList", "destination")
        body = {
            "lot": _lot(e, q, "quantityList[0]"),
            "ship": "",
            "mass_kg": _mass(e, q, "quantityList[0]", zero=True),
            "epcis_event": hashed,
        }
        return Draft(index, hashed, "lot.receive", actor, time, body)
    if step == "inspecting":
        q = _one(e, "quantityList")
        lot = _lot(e, q, "quantityList[0]")
        attestation = e.get("ltl:attestation")
        if e.get("certificationInfo") is not None or attestation is not None:
            if not isinstance(attestation, Mapping):
                raise e.fail(
                    "ltl:attestation", "missing: an attestation needs scheme and statement"
                )
            body = {
                "lot": lot,
                "scheme": e.text("scheme", attestation, "ltl:attestation."),
                "statement": e.text("statement", attestation, "ltl:attestation."),
            }
            if "expires" in attestation:
                body["expires"] = attestation["expires"]
            return draft("lot.attest", body)
        body = {"lot": lot, "composition": _assay(e)}
        report = e.get("ltl:report")
        if report is not None:
            body["report"] = report
        return draft("lot.assay", body)
    if step in ("stock_taking", "cycle_counting", "destroying"):
        q = _one(e, "quantityList")
        zero = step == "destroying"
        mass = _mass(e, q, "quantityList[0]", zero=True) if "quantity" in q or not zero else "0"
        reason = e.get("ltl:reason")
        body = {
            "lot": _lot(e, q, "quantityList[0]"),
            "mass_kg": mass,
            "reason": reason if type(reason) is str else step.replace("_", " "),
        }
        return draft("lot.adjust", body)
    if step == CREDIT_STEP:
        q = _one(e, "quantityList")
        credit = e.get("ltl:credit")
        if not isinstance(credit, Mapping):
            raise e.fail("ltl:credit", "missing: a credit allocation needs site, element, kg")
        body = {
            "lot": _lot(e, q, "quantityList[0]"),
            **{k: credit.get(k) for k in ("site", "element", "category", "kg")},
        }
        return draft("credit.allocate", body)
    raise e.fail("bizStep", f"{ev.get('bizStep')!r} is not a business step the ledger maps")


Document = Mapping[str, Any] | bytes | str


def read_document(document: Document) -> tuple[Mapping[str, Any], list[str] | None]:
    """A document as the JSON-LD the mapping reads, and, for XML, the CBV 2.0 hash of each
    event computed from the XML (None for JSON-LD: hashed from the JSON events).

    ``document``: parsed JSON-LD, or the bytes/text of a JSON-LD or an EPCIS 2.0 XML
    document (sniffed by its first character, as ``epcis_hash`` does).

    Raises:
        EpcisError: it cannot be parsed, or is XML outside the EPCIS 2.0 binding.
    """
    if isinstance(document, Mapping):
        return document, None
    raw = document.encode("utf-8") if isinstance(document, str) else bytes(document)
    if sniff(raw) == "xml":
        return xml_document(raw)
    try:
        parsed = canonical.loads(raw, allow_floats=True, max_bytes=MAX_DOCUMENT_BYTES)
    except LedgerError as e:
        raise EpcisError(f"not a JSON-LD document: {e.message}") from None
    if not isinstance(parsed, Mapping):
        raise EpcisError("the JSON document is not an object (an EPCISDocument)")
    return parsed, None


def drafts(document: Document) -> list[Draft]:
    """Map every event of an EPCIS 2.0 document: JSON-LD (parsed, or its bytes) or XML
    (bytes or text; see :func:`read_document`). Each draft's ``epcis_event`` is the CBV 2.0
    hash of the source event, as written (an XML event is hashed as XML).

    Raises:
        EpcisError: ``invalid_epcis``, naming the first event and field that cannot be mapped.
    """
    parsed, hashes = read_document(document)
    body = parsed.get("epcisBody")
    if not isinstance(body, Mapping) or type(body.get("eventList")) is not list:
        raise EpcisError("not an EPCIS 2.0 document: epcisBody.eventList is missing")
    events = body["eventList"]
    return [_draft(i, ev, hashes[i] if hashes else None) for i, ev in enumerate(events)]


Heads = Callable[[Sequence[str]], Mapping[str, str]]


def sign_drafts(
    items: Sequence[Draft],
    signers: Mapping[str, Ed25519PrivateKey],
    *,
    heads: Heads,
    transit_ship: Callable[[str], str | None],
    stored: Callable[[str], Sequence[events.SignedEvent]] | None = None,
) -> list[events.SignedEvent]:
    """Sign the drafts in order (see the module docstring).

    Args:
        signers: party -> its private key; a draft without a stated actor is signed by the
            only signer when there is one.
        heads: the ledger's current heads of the lots that exist among those asked.
        transit_ship: the ledger's pending ship of a lot (None: not in transit).
        stored: the events of a lot's chain already in the ledger (as the caller may read
            them): a draft whose event id is among them was imported before, and that stored
            event is returned in its place, so posting it again is an idempotent repeat.

    Raises:
        EpcisError: a draft has no signer, names a lot the ledger does not know, or would
            not be a valid LTL event. Nothing is posted by this function.
    """
    local: dict[str, str] = {}  # lot -> head, for lots this document made or touched
    last_ship: dict[str, str] = {}  # lot -> new hash of its latest ship in this document
    seen: dict[str, int] = {}  # event id -> index of the event that has it
    out: list[events.SignedEvent] = []
    for d in items:
        e = f"EPCIS event #{d.index} ({d.epcis_event})"
        actor = d.actor
        if actor is None and len(signers) == 1:
            actor = next(iter(signers))
        if actor is None:
            raise EpcisError(f"{e}: ltl:actor: missing; say which party signs it")
        ident = str(uuid.uuid5(_UUID_NS, f"{d.epcis_event} {actor}"))
        if ident in seen:  # one id, two events: the ledger would refuse the second mid-import
            raise EpcisError(
                f"{e}: eventID: the same event as EPCIS event #{seen[ident]} "
                "(equal CBV 2.0 hash and signer); remove the repeat"
            )
        seen[ident] = d.index
        key = signers.get(actor)
        if key is None:
            raise EpcisError(f"{e}: ltl:actor: no key for party {actor!r}; pass it to sign")
        body = dict(d.body)
        touched = touched_lots(d.type, body)
        before = _imported_before(stored, (*touched, *d.lots_made), ident, local)
        if before is not None:
            out.append(before)
            continue
        missing = [lot for lot in touched if lot not in local]
        known = dict(heads(missing)) if missing else {}
        for lot in missing:
            if lot not in known:
                raise EpcisError(f"{e}: lot {lot!r}: not in this document nor in the ledger")
        prev = {lot: local.get(lot) or known[lot] for lot in touched}
        if d.type == "lot.receive":
            lot = str(body["lot"])
            ship = last_ship.get(lot) or transit_ship(lot)
            if ship is None:
                raise EpcisError(f"{e}: ltl:ship: the lot has no pending shipment to receive")
            body["ship"] = ship
        try:
            ev = events.sign(
                type=d.type, actor=actor, key=key, body=body, prev=prev, time=d.time, id=ident
            )
            check_envelope(dict(ev.envelope))
        except LedgerError as err:
            raise EpcisError(f"{e}: {err.message}") from None
        for lot in (*touched, *d.lots_made):
            local[lot] = ev.hash
        if d.type == "lot.ship":
            last_ship[str(body["lot"])] = ev.hash
        out.append(ev)
    return out


def _imported_before(
    stored: Callable[[str], Sequence[events.SignedEvent]] | None,
    lots: Sequence[str],
    ident: str,
    local: Mapping[str, str],
) -> events.SignedEvent | None:
    """The event with id ``ident`` already on the chain of one of ``lots`` (event ids of an
    import are derived from the EPCIS event and the signer, so a repeat has the same id)."""
    if stored is None:
        return None
    for lot in lots:
        if lot in local:  # made or changed by this document: not in the ledger yet
            continue
        for ev in stored(lot):
            if ev.id == ident:
                return ev
    return None


_T = TypeVar("_T")


def import_document(
    document: Document,
    signers: Mapping[str, Ed25519PrivateKey],
    *,
    heads: Heads,
    transit_ship: Callable[[str], str | None],
    post: Callable[[events.SignedEvent], _T],
    stored: Callable[[str], Sequence[events.SignedEvent]] | None = None,
) -> list[_T]:
    """Map, sign and post a whole EPCIS document, in order: what ``post`` returned per event.

    Everything is mapped and signed before the first ``post``, so a document that cannot be
    mapped posts nothing. ``post`` raising stops the import there (the events before it stay
    posted; importing the same document again repeats them idempotently).

    Raises:
        EpcisError: the document cannot be mapped or signed (nothing was posted).
    """
    signed = sign_drafts(
        drafts(document), signers, heads=heads, transit_ship=transit_ship, stored=stored
    )
    return [post(ev) for ev in signed]
