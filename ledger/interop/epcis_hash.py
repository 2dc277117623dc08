"""The GS1 CBV 2.0 event hash (§8.9 "Event hash ID") of EPCIS 2.0 events, JSON-LD and XML.

An event's hash is ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920) over its *pre-hash string*:
``eventType=<type>``, then the standard fields in a fixed order, then every remaining field
(user extensions, ``ilmd``, the business-transaction/source/destination lists) sorted; values
normalised (EPC URNs and Digital Link URIs to canonical GS1 Digital Link, CBV URNs and bare
CBV words to ``https://ref.gs1.org/cbv/`` URIs, numbers without padding, times in UTC with
milliseconds). Spec §13.1 states the algorithm; the reference vectors are those of the
reference implementation (github.com/RalphTro/epcis-event-hash-generator), and where CBV 2.0
leaves room this module follows what that implementation computes (docs/DECISIONS.md).

Both formats are first read into one neutral tree of :class:`_Node` (name, text, children),
XML attributes becoming children like elements and JSON-LD keys resolved through the
document's ``@context`` to XML's ``{namespace}local`` names; the pre-hash is computed on that
tree, so the two representations of one event give one hash.

Pure: no I/O. XML is parsed with ``defusedxml``: a DTD may be present, but any entity
declaration (billion laughs) or external reference is refused, JSON with the ledger's strict loader.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..core import canonical
from ..errors import LedgerError
from .gs1_uri import canonical_dl

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "EpcisError",
    "XmlDocument",
    "document_hashes",
    "document_prehashes",
    "event_hash",
    "prehash",
    "read_xml",
    "sniff",
    "xml_hashes",
]

#: the largest document read (a JSON or XML EPCIS document of some thousand events)
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent"}
    | {"AssociationEvent"}
)
#: namespace of the reference implementation's ``ignoreFields`` header (spec §13.1)
IGNORE_FIELDS_NS = "https://repository-x.example.com/"
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"

_QUANTITY = (("epcClass", ()), ("quantity", ()), ("uom", ()))
_EPCS = (("epc", ()),)
_SENSOR_METADATA: tuple[str, ...] = (
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
)
_SENSOR_REPORT: tuple[str, ...] = (
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
)

Order = tuple[tuple[str, "Order"], ...]
#: CBV 2.0 §8.9.1 step 2: the standard fields in canonical order, with their children's order.
#: The three lists of (type, value) pairs have no order of their children: they fall through
#: to the sorted "remaining fields" part (step 3), as in the reference implementation.
ORDER: Order = (
    ("eventTime", ()),
    ("eventTimeZoneOffset", ()),
    ("certificationInfo", ()),
    ("parentID", ()),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", (("quantityElement", _QUANTITY),)),
    ("childQuantityList", (("quantityElement", _QUANTITY),)),
    ("inputQuantityList", (("quantityElement", _QUANTITY),)),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", (("quantityElement", _QUANTITY),)),
    ("action", ()),
    ("transformationID", ()),
    ("bizStep", ()),
    ("disposition", ()),
    ("persistentDisposition", (("set", ()), ("unset", ()))),
    ("readPoint", (("id", ()),)),
    ("bizLocation", (("id", ()),)),
    ("bizTransactionList", ()),
    ("sourceList", ()),
    ("destinationList", ()),
    (
        "sensorElementList",
        (
            (
                "sensorElement",
                (
                    ("sensorMetadata", tuple((n, ()) for n in _SENSOR_METADATA)),
                    ("sensorReport", tuple((n, ()) for n in _SENSOR_REPORT)),
                ),
            ),
        ),
    ),
)
#: never hashed (CBV 2.0 §8.9.1 step 1)
_NOT_HASHED = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})
_PAIR_VALUES = frozenset({"bizTransaction", "source", "destination"})
_PAIR_LISTS = {"bizTransactionList", "sourceList", "destinationList"}

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
_CBV_URNS = (
    ("urn:epcglobal:cbv:bizstep:", CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", CBV + "ER-"),
)
_CURIES = (("gs1:", GS1_VOC), ("cbv:", CBV))
#: JSON-LD bare words of the EPCIS context's vocabularies: (parent, key) -> IRI prefix
#: ("" is the event itself)
_BARE_WORDS = {
    ("", "bizStep"): CBV + "BizStep-",
    ("", "disposition"): CBV + "Disp-",
    ("persistentDisposition", "set"): CBV + "Disp-",
    ("persistentDisposition", "unset"): CBV + "Disp-",
    ("bizTransaction", "type"): CBV + "BTT-",
    ("source", "type"): CBV + "SDT-",
    ("destination", "type"): CBV + "SDT-",
    ("errorDeclaration", "reason"): CBV + "ER-",
    ("sensorReport", "type"): GS1_VOC,
    ("sensorReport", "exception"): GS1_VOC,
    ("sensorReport", "component"): CBV + "Comp-",
}
_BARE = re.compile(r"[A-Za-z0-9_.\-]+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|z|[+-]\d\d:\d\d)?")


class EpcisError(LedgerError):
    """An EPCIS document or event that cannot be read or hashed."""

    code = "invalid_epcis"


@dataclass
class _Node:
    """One element, attribute or JSON member: its name, its text, its children. A *pair* (a
    business transaction, source or destination) keeps its children in order: type, value."""

    name: str
    text: str = ""
    kids: list[_Node] = field(default_factory=list)
    pair: bool = False


# ---------------------------------------------------------------------------- values


def _time(text: str, where: str) -> str:
    """An xsd:dateTime in UTC with exactly three fraction digits (``Z``); a time without a
    zone is taken as UTC. Microseconds round half to even, as the reference does."""
    m = _TIME.fullmatch(text)
    if m is None:
        raise EpcisError(f"{where}: {text!r} is not an xsd:dateTime (e.g. 2024-05-01T10:00:00Z)")
    base, frac, zone = m.groups()
    zone = "+00:00" if zone in (None, "Z", "z") else zone
    try:
        moment = datetime.fromisoformat(base + zone)
    except ValueError as e:
        raise EpcisError(f"{where}: {text!r} is not a valid date and time: {e}") from None
    micros = int(((frac or ".")[1:] + "000000")[:6])
    millis = round(micros, -3)  # int rounding: half to even
    try:  # year 1 east of UTC or year 9999 west of it has no UTC time in Python
        moment = moment.astimezone(UTC) + timedelta(microseconds=millis)
    except OverflowError:
        raise EpcisError(
            f"{where}: {text!r} is out of the range of years 1 to 9999 in UTC"
        ) from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _number(text: str) -> str:
    """A decimal number without sign padding, trailing zeros or ``.0`` (through an IEEE
    double, as the reference implementation does); other text unchanged."""
    if _NUMBER.fullmatch(text) is None:
        return text
    value = float(text)
    if value.is_integer():
        return str(int(value))
    return repr(value)


def _canonical_value(text: str) -> str:
    for urn, iri in _CBV_URNS:
        text = text.replace(urn, iri)
    text = _number(text)
    return canonical_dl(text) or text


# ---------------------------------------------------------------------------- pre-hash


def _gather_extensions(kids: list[_Node]) -> list[_Node]:
    """Pull the user extensions (``{namespace/}name``) out of a nested standard field: they go
    after its ordered children. Not at the event's own level (it has eventTime or action)."""
    if len(kids) <= 1 or any("eventTime" in k.name or "action" in k.name for k in kids):
        return []
    found = [k for k in kids if "{" in k.name and "/}" in k.name]
    for k in found:
        kids.remove(k)
    return found


def _ordered(kids: list[_Node], order: Order, where: str) -> str:
    """The ordered part: each named field in ``order``; consumed nodes leave ``kids``."""
    extensions = _gather_extensions(kids)
    out: list[str] = []
    for name, sub in order:
        values: list[str] = []
        for kid in [k for k in kids if k.name == name]:
            inner = _ordered(kid.kids, sub, where) if sub else ""
            text = kid.text.strip()
            if text:
                timed = "time" in name.lower() and "offset" not in name.lower()
                text = "=" + (_time(text, f"{where}, {name}") if timed else _canonical_value(text))
            if text or inner:
                values.append(name + text + inner)
            if not kid.kids:
                kids.remove(kid)
        out.extend(sorted(values))
    if extensions:
        out.append(_generic(extensions))
    return "".join(out)


def _generic(kids: list[_Node], *, sort: bool = True) -> str:
    """Any other content: ``name=value`` and children, siblings sorted (a pair's not)."""
    values = []
    for kid in kids:
        if kid.pair:
            values.append(_generic(kid.kids, sort=False))
        else:
            text = kid.text.strip()
            text = "=" + _canonical_value(text) if text else ""
            values.append(kid.name + text + _generic(kid.kids))
    if sort and not any(k.name in _PAIR_VALUES for k in kids):
        values.sort()
    return "".join(values)


def _prehash_node(event: _Node, where: str) -> str:
    kids = list(event.kids)
    head = "eventType=" + event.name + _ordered(kids, ORDER, where)
    return head + _generic([k for k in kids if k.name not in _NOT_HASHED])


def _digest(pre: str) -> str:
    return "ni:///sha-256;" + hashlib.sha256(pre.encode("utf-8")).hexdigest() + "?ver=CBV2.0"


# ---------------------------------------------------------------------------- JSON-LD


def _prefixes(context: Any) -> dict[str, str]:
    """The prefixes a JSON-LD ``@context`` defines inline (``{"ex": "https://…/"}``)."""
    items = context if isinstance(context, list) else [context]
    found: dict[str, str] = {}
    for item in items:
        if isinstance(item, Mapping):
            for key, value in item.items():
                if isinstance(value, str) and not key.startswith("@"):
                    found[key] = value
    return found


class _JsonReader:
    """JSON-LD event -> :class:`_Node` tree in XML's shape (list items named as in XML)."""

    def __init__(self, context: Any, ignore: frozenset[str] = frozenset()) -> None:
        self.prefixes = _prefixes(context)
        self.ignore = ignore

    def name(self, key: str) -> str:
        prefix, sep, local = key.partition(":")
        if sep and prefix in self.prefixes:
            return "{" + self.prefixes[prefix] + "}" + local
        return key

    def scalar(self, value: Any, parent: str, key: str, where: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return ""
        if isinstance(value, int | float):
            return repr(value)
        if not isinstance(value, str):
            raise EpcisError(f"{where}: {key} holds a {type(value).__name__}, not a value")
        bare = _BARE_WORDS.get((parent, key))
        if bare is not None and _BARE.fullmatch(value):
            return bare + value
        for curie, iri in _CURIES:
            if value.startswith(curie) and curie[:-1] not in self.prefixes:
                return iri + value[len(curie) :]
        prefix, sep, rest = value.partition(":")
        if sep and prefix in self.prefixes:
            return self.prefixes[prefix] + rest
        return value

    def nodes(self, key: str, value: Any, parent: str, where: str) -> list[_Node]:
        """The nodes of member ``key``: one per list item."""
        items = value if isinstance(value, list) else [value]
        name = self.name(key)
        out = []
        for item in items:
            if isinstance(item, Mapping):
                out.append(self.node(name, item, key, where))
            elif isinstance(item, list):
                raise EpcisError(f"{where}: {key} holds a list of lists")
            else:
                out.append(_Node(name, self.scalar(item, parent, key, where)))
        return out

    def node(self, name: str, obj: Mapping[str, Any], key: str, where: str) -> _Node:
        text = obj.get("#text", "")
        node = _Node(name, text if isinstance(text, str) else self.scalar(text, key, "#", where))
        for member, value in obj.items():
            if member in ("#text", "comment", "rdfs:comment") or member.startswith("@"):
                continue
            if member.endswith("List"):
                node.kids.append(self.list_node(member, value, where))
            elif member == "childEPCs":
                kids = [_Node("epc", n.text) for n in self.nodes("epc", value, member, where)]
                node.kids.append(_Node("childEPCs", "", kids))
            else:
                node.kids.extend(self.nodes(member, value, key, where))
        return node

    def list_node(self, key: str, value: Any, where: str) -> _Node:
        """``fooList: [..]`` -> ``fooList`` with one ``foo`` child per item (XML's shape)."""
        item = key[:-4]
        if item in ("inputEPC", "outputEPC"):
            item = "epc"
        elif item in ("quantity", "inputQuantity", "outputQuantity", "childQuantity"):
            item = "quantityElement"
        kids = self.nodes(item, value if isinstance(value, list) else [value], key, where)
        if key in _PAIR_LISTS:
            kids = [_pair(kid, item) for kid in kids]
        return _Node(self.name(key), "", kids)

    def event(self, event: Mapping[str, Any], where: str) -> _Node:
        kind = event.get("type")
        if not isinstance(kind, str) or kind not in EVENT_TYPES:
            raise EpcisError(f"{where}: type is {kind!r}, not one of {sorted(EVENT_TYPES)}")
        node = self.node(kind, event, "", where)
        node.kids = [k for k in node.kids if k.name not in self.ignore]
        return node


def _pair(node: _Node, value_name: str) -> _Node:
    """A business transaction / source / destination: ``type`` first, then the value."""
    kind = [k for k in node.kids if k.name == "type"]
    value = [k for k in node.kids if k.name == value_name]
    if node.text:  # XML: <bizTransaction type="…">value</bizTransaction>
        value = [_Node(value_name, node.text)]
    return _Node("", "", kind + value, pair=True)


def _where(index: int, event: Any) -> str:
    kind = event.get("type") if isinstance(event, Mapping) else None
    return f"event {index} ({kind})" if isinstance(kind, str) else f"event {index}"


def prehash(event: Mapping[str, Any], context: Any = None) -> str:
    """The CBV 2.0 pre-hash string of one JSON-LD EPCIS event (as in ``epcisBody.eventList``;
    ``context``: the document's ``@context``, for the prefixes of user extensions).

    Raises:
        EpcisError: ``invalid_epcis`` naming the field at fault.
    """
    if not isinstance(event, Mapping):
        raise EpcisError("an EPCIS event is a JSON object")
    return _prehash_node(_JsonReader(context).event(event, _where(0, event)), _where(0, event))


def event_hash(event: Mapping[str, Any], context: Any = None) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0`` of one JSON-LD EPCIS event (see :func:`prehash`)."""
    return _digest(prehash(event, context))


def _json_events(doc: Any) -> tuple[list[Any], Any, list[Mapping[str, Any]]]:
    """The event list of an EPCIS (query) document, its context, the objects that may hold
    an ``ignoreFields`` header (the document, its queryResults)."""
    if not isinstance(doc, Mapping):
        raise EpcisError("the JSON document is not an object (an EPCISDocument)")
    body = doc.get("epcisBody")
    if not isinstance(body, Mapping):
        raise EpcisError("the JSON document has no epcisBody object: not an EPCIS 2.0 document")
    holders: list[Mapping[str, Any]] = [doc]
    if "eventList" in body:
        events = body["eventList"]
    elif "queryResults" in body:
        results = body["queryResults"]
        results_body = results.get("resultsBody") if isinstance(results, Mapping) else None
        if not isinstance(results_body, Mapping):
            raise EpcisError("epcisBody.queryResults has no resultsBody object")
        holders.append(results)
        events = results_body.get("eventList")
    elif "event" in body:
        events = [body["event"]]
    else:
        raise EpcisError("epcisBody has no eventList, queryResults or event")
    if not isinstance(events, list):
        raise EpcisError("epcisBody's eventList is not a list")
    return events, doc.get("@context"), holders


def _json_prehashes(raw: bytes) -> list[str]:
    try:
        doc = canonical.loads(raw, allow_floats=True, max_bytes=MAX_DOCUMENT_BYTES)
    except LedgerError as e:
        raise EpcisError(f"not a JSON-LD document: {e.message}") from None
    events, context, holders = _json_events(doc)
    reader = _JsonReader(context)
    ignore_key = "{" + IGNORE_FIELDS_NS + "}ignoreFields"
    reader.ignore = frozenset(
        reader.name(name)
        for holder in holders
        for key, names in holder.items()
        if reader.name(key) == ignore_key and isinstance(names, list)
        for name in names
        if isinstance(name, str)
    )
    out = []
    for index, event in enumerate(events):
        where = _where(index, event)
        if not isinstance(event, Mapping):
            raise EpcisError(f"{where} is not a JSON object")
        out.append(_prehash_node(reader.event(event, where), where))
    return out


# ---------------------------------------------------------------------------- XML


def _xml_node(element: Element, depth: int = 0) -> _Node:
    if depth > canonical.MAX_DEPTH:  # as for JSON: no event is that deep, a recursion bomb is
        raise EpcisError(
            f"XML nesting deeper than {canonical.MAX_DEPTH} levels in an event; flatten it"
        )
    node = _Node(element.tag, (element.text or "").strip())
    node.kids = [
        _Node(name, value.strip())
        for name, value in element.attrib.items()
        if not name.startswith(_XSI)  # xsi:type and co. annotate the XML, they are no data
    ]
    for child in _unwrapped(element, depth):
        kid = _xml_node(child, depth + 1)
        if child.tag in _PAIR_VALUES:
            kid = _pair(kid, child.tag)
        node.kids.append(kid)
    for kid in node.kids:  # gs1:/cbv: CURIEs in values (XML has no @context)
        for curie, iri in _CURIES:
            if kid.text.startswith(curie):
                kid.text = iri + kid.text[len(curie) :]
    return node


def _unwrapped(element: Element, depth: int = 0) -> list[Element]:
    """Children, with the EPCIS 1.x ``extension``/``baseExtension`` wrappers dissolved."""
    if depth > canonical.MAX_DEPTH:
        raise EpcisError(f"XML nesting deeper than {canonical.MAX_DEPTH} levels; flatten it")
    out: list[Element] = []
    for child in element:
        if child.tag in ("extension", "baseExtension"):
            out.extend(_unwrapped(child, depth + 1))
        else:
            out.append(child)
    return out


class _Builder(TreeBuilder):
    """The standard tree builder, also keeping each namespace's first declared prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.prefixes: dict[str, str] = {}

    def start_ns(self, prefix: str, uri: str) -> None:
        self.prefixes.setdefault(uri, prefix)


@dataclass(frozen=True)
class XmlDocument:
    """A parsed XML document: its root, and namespace URI -> the prefix it was declared with
    (``""``: the default namespace). ElementTree names elements ``{namespace}local``."""

    root: Element
    prefixes: Mapping[str, str]


def read_xml(text: bytes | str) -> XmlDocument:
    """Parse an XML document safely: at most :data:`MAX_DOCUMENT_BYTES`; a DTD may be present
    but entity declarations (billion laughs) and external references are refused. The one XML
    parser of the EPCIS code (the hash and the importer's conversion, ``epcis_xml``).

    Raises:
        EpcisError: too large, refused, or not well-formed.
    """
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise EpcisError(f"document of {len(raw)} bytes is over the {MAX_DOCUMENT_BYTES} limit")
    if not raw.startswith(b"\xef\xbb\xbf"):
        raw = raw.lstrip()
    builder = _Builder()
    parser = DefusedXMLParser(
        target=builder, forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(raw)
        root: Element = parser.close()
    except DefusedXmlException as e:
        refused = type(e).__name__
        raise EpcisError(
            f"XML refused: {refused} (entity declarations and external references are not read)"
        ) from None
    except ParseError as e:
        raise EpcisError(f"not well-formed XML: {e}") from None
    return XmlDocument(root, dict(builder.prefixes))


def _xml_prehashes(doc: XmlDocument) -> list[str]:
    root = doc.root
    event_list = next((el for el in root.iter() if el.tag == "EventList"), None)
    if event_list is None:
        raise EpcisError("the XML document has no EventList: not an EPCIS document")
    ignore = {
        child.tag
        for holder in root.iter("{" + IGNORE_FIELDS_NS + "}ignoreFields")
        for child in holder
    }
    out = []
    for index, element in enumerate(_unwrapped(event_list)):
        where = f"event {index} ({element.tag})"
        if element.tag not in EVENT_TYPES:
            raise EpcisError(f"{where}: not an EPCIS 2.0 event element")
        node = _xml_node(element)
        node.kids = [k for k in node.kids if k.name not in ignore]
        out.append(_prehash_node(node, where))
    return out


def xml_hashes(doc: XmlDocument) -> list[str]:
    """The CBV 2.0 hash of every event of a parsed XML EPCIS document, in document order."""
    return [_digest(pre) for pre in _xml_prehashes(doc)]


# ---------------------------------------------------------------------------- documents


def sniff(raw: bytes) -> str:
    """``"xml"`` or ``"json"``, by the first character after a BOM and blanks.

    Raises:
        EpcisError: neither.
    """
    start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    fmt = {b"<": "xml", b"{": "json", b"[": "json"}.get(start)
    if fmt is None:
        raise EpcisError("neither JSON-LD nor XML: an EPCIS document starts with { or <")
    return fmt


def document_prehashes(text: bytes | str, *, fmt: str | None = None) -> list[str]:
    """The pre-hash string of every event of an EPCIS 2.0 document, in document order.

    Args:
        text: the document (JSON-LD or XML).
        fmt: ``"json"`` or ``"xml"``; ``None`` sniffs the first non-blank character.

    Raises:
        EpcisError: ``invalid_epcis``: the document cannot be parsed, or which event and
            field are at fault.
    """
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise EpcisError(f"document of {len(raw)} bytes is over the {MAX_DOCUMENT_BYTES} limit")
    if fmt is None:
        fmt = sniff(raw)
    if fmt == "xml":
        return _xml_prehashes(read_xml(raw))
    if fmt == "json":
        return _json_prehashes(raw)
    raise EpcisError(f"unknown format {fmt!r}: use 'json' or 'xml'")


def document_hashes(text: bytes | str, *, fmt: str | None = None) -> list[str]:
    """The CBV 2.0 hash of every event of an EPCIS 2.0 document, in document order."""
    return [_digest(pre) for pre in document_prehashes(text, fmt=fmt)]
