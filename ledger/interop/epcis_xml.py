"""An EPCIS 2.0 XML document as the JSON-LD document the importer reads (spec §13.2).

The EPCIS 2.0 XML binding (``urn:epcglobal:epcis:xsd:2``: ``EPCISDocument/EPCISBody/
EventList``) mapped to its JSON-LD binding, for the fields the importer maps:

* the event element's name is ``type``; a child element with text is a string member
  (``eventTime``, ``eventID``, ``action``, ``bizStep``, ``certificationInfo``, …), one with
  children or attributes an object (``readPoint``/``bizLocation`` ``id``, ``ilmd``);
* the standard lists are JSON arrays: ``epcList`` (and the input/output/child EPC lists) of
  strings, ``quantityList`` (and input/output/child) of ``{epcClass, quantity, uom}`` with
  ``quantity`` a number, ``bizTransactionList``/``sourceList``/``destinationList`` of
  ``{type: <attribute>, <item>: <text>}``, ``sensorElementList`` with ``sensorMetadata`` and a
  ``sensorReport`` array (attributes as members, the numeric ones numbers);
* an element in another namespace is ``prefix:local`` with the namespace declared in the
  produced ``@context``: the ledger's extension ``https://ltl.example/epcis#`` is always
  ``ltl`` (whatever the document called it), another keeps the document's prefix; children
  without a namespace keep their local name; a repeated element is an array, and so are
  ``ltl:outputs`` and ``ltl:documents`` when they occur once; an empty ``composition`` is ``{}``.

Values stay as written (``https://ref.gs1.org/cbv/BizStep-shipping``, ``urn:epcglobal:cbv:…``):
the importer reads every spelling. EPCIS 1.x documents (namespace ``urn:epcglobal:epcis:xsd:1``,
events or fields inside ``<extension>``) and query documents are refused, naming what to send.
The CBV 2.0 hash of each event is computed from the XML itself (``epcis_hash.xml_hashes``),
not from the conversion. Pure: no I/O; parsed once, with ``epcis_hash.read_xml`` (defusedxml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element

from .epcis_export import EPCIS_CONTEXT, LTL_NS, number
from .epcis_hash import EVENT_TYPES, EpcisError, XmlDocument, read_xml, xml_hashes

__all__ = ["EPCIS_XML_NS", "xml_document"]

#: the namespace of EPCIS 2.0 XML's document element
EPCIS_XML_NS = "urn:epcglobal:epcis:xsd:2"
_EPCIS_1_NS = "urn:epcglobal:epcis:xsd:1"
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
_EPC_LISTS = frozenset({"epcList", "inputEPCList", "outputEPCList", "childEPCs"})
_QUANTITY_LISTS = frozenset(
    {"quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList"}
)
_PAIR_LISTS = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
#: members that are JSON numbers, by the element that holds them
_NUMBERS = {
    "quantityElement": frozenset({"quantity"}),
    "sensorReport": frozenset(
        {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
    ),
}
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: members that are arrays even when they occur once (JSON-LD binding; the ltl: extension)
_ARRAYS = frozenset({"sensorReport", "set", "unset", "ltl:outputs", "ltl:documents"})
#: members that are objects even when empty
_OBJECTS = frozenset({"composition", "ltl:composition", "ilmd"})
_WRAPPERS = frozenset({"extension", "baseExtension"})


class _Converter:
    """One document's conversion: its namespace prefixes, and the ones the events used."""

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefix_of: dict[str, str] = {LTL_NS: "ltl"}
        for uri, prefix in prefixes.items():
            taken = set(self.prefix_of.values())
            if uri not in self.prefix_of and prefix and prefix not in taken | {"ltl"}:
                self.prefix_of[uri] = prefix
        self.used: dict[str, str] = {}  # prefix -> namespace, for the @context

    def key(self, tag: str) -> str:
        """``{namespace}local`` -> ``prefix:local``; a tag without a namespace as it is."""
        if not tag.startswith("{"):
            return tag
        uri, _, local = tag[1:].partition("}")
        prefix = self.prefix_of.get(uri)
        if prefix is None:
            prefix = f"ns{len(self.prefix_of)}"
            self.prefix_of[uri] = prefix
        self.used[prefix] = uri
        return f"{prefix}:{local}"

    def fail(self, where: str, path: str, what: str) -> EpcisError:
        return EpcisError(f"{where}: {path}: {what}; nothing of this document was posted")

    @staticmethod
    def scalar(parent: str, name: str, text: str) -> Any:
        if name in _NUMBERS.get(parent, ()) and _DECIMAL.fullmatch(text):
            return number(text)
        return text  # not a number: the importer refuses it, naming the field

    def value(self, el: Element, parent: str, where: str, path: str) -> Any:
        """An element's JSON value: its text, or an object of its attributes and children."""
        name = self.key(el.tag)
        attrs = [(k, v) for k, v in el.attrib.items() if not k.startswith((_XSI, _XML_NS))]
        text = (el.text or "").strip()
        if not len(el) and not attrs:
            return {} if name in _OBJECTS and not text else self.scalar(parent, name, text)
        obj: dict[str, Any] = {}
        for attr, v in attrs:
            member = self.key(attr)
            obj[member] = self.scalar(el.tag, member, v.strip())
        if text:
            obj["#text"] = text
        self.members(el, obj, where, path + ".")
        return obj

    def members(self, el: Element, obj: dict[str, Any], where: str, path: str) -> None:
        """The child elements of ``el`` as members of ``obj`` (repeated ones as arrays)."""
        for child in el:
            member = self.key(child.tag)
            here = path + member
            if child.tag in _WRAPPERS:
                raise self.fail(
                    where,
                    here,
                    "an EPCIS 1.x <extension> wrapper: send the EPCIS 2.0 form (its fields "
                    "directly in the event)",
                )
            if child.tag in _EPC_LISTS:
                value: Any = [(epc.text or "").strip() for epc in child]
            elif child.tag in _QUANTITY_LISTS or child.tag == "sensorElementList":
                value = [self.value(q, "", where, f"{here}[{i}]") for i, q in enumerate(child)]
            elif child.tag in _PAIR_LISTS:
                value = [
                    self.pair(p, child.tag, where, f"{here}[{i}]") for i, p in enumerate(child)
                ]
            else:
                value = self.value(child, el.tag, where, here)
            if member in obj:
                before = obj[member]
                obj[member] = [*(before if isinstance(before, list) else [before]), value]
            elif member in _ARRAYS:
                obj[member] = [value]
            else:
                obj[member] = value

    def pair(self, el: Element, list_tag: str, where: str, path: str) -> dict[str, Any]:
        """``<source type="T">V</source>`` -> ``{"type": T, "source": V}``."""
        item = _PAIR_LISTS[list_tag]
        if el.tag != item:
            raise self.fail(where, path, f"<{el.tag}> in a {list_tag}: expected <{item}>")
        out: dict[str, Any] = {}
        if "type" in el.attrib:
            out["type"] = el.attrib["type"].strip()
        out[item] = (el.text or "").strip()
        return out

    def event(self, index: int, el: Element) -> dict[str, Any]:
        where = f"EPCIS event #{index} ({el.tag})"
        if el.tag in _WRAPPERS:
            raise self.fail(
                f"EPCIS event #{index}",
                "extension",
                "an EPCIS 1.x <extension> around the event: send EPCIS 2.0 XML, where a "
                "TransformationEvent stands directly in the EventList",
            )
        if el.tag not in EVENT_TYPES:
            raise self.fail(where, "type", f"<{el.tag}> is not an EPCIS 2.0 event element")
        out: dict[str, Any] = {"type": el.tag}
        self.members(el, out, where, "")
        return out


def _child(el: Element, tag: str, what: str) -> Element:
    found = el.find(tag)
    if found is None:
        raise EpcisError(f"not an EPCIS 2.0 XML document: {what} has no <{tag}>")
    return found


def xml_document(text: bytes | str | XmlDocument) -> tuple[dict[str, Any], list[str]]:
    """The JSON-LD form of an EPCIS 2.0 XML document, and the CBV 2.0 hash of each of its
    events computed from the XML (the same order).

    Raises:
        EpcisError: not well-formed or refused XML (entities), not an EPCIS 2.0
            ``EPCISDocument``, or an event that cannot be converted (its index and field).
    """
    doc = text if isinstance(text, XmlDocument) else read_xml(text)
    root = doc.root
    if root.tag == "{" + _EPCIS_1_NS + "}EPCISDocument":
        raise EpcisError(
            "an EPCIS 1.x XML document (urn:epcglobal:epcis:xsd:1): the ledger imports EPCIS "
            "2.0 (urn:epcglobal:epcis:xsd:2); convert it, e.g. with GS1's EPCIS converter"
        )
    if root.tag != "{" + EPCIS_XML_NS + "}EPCISDocument":
        raise EpcisError(
            f"the XML document element is {root.tag!r}: the ledger imports an EPCISDocument "
            f"in the EPCIS 2.0 namespace ({EPCIS_XML_NS})"
        )
    version = root.attrib.get("schemaVersion", "2.0").strip()
    if not version.startswith("2."):
        raise EpcisError(f"schemaVersion {version!r}: the ledger imports EPCIS 2.0 documents")
    event_list = _child(_child(root, "EPCISBody", "EPCISDocument"), "EventList", "EPCISBody")
    conv = _Converter(doc.prefixes)
    events = [conv.event(i, el) for i, el in enumerate(event_list)]
    hashes = xml_hashes(doc)
    if len(hashes) != len(events):  # cannot happen: wrappers are refused above
        raise EpcisError("the XML events and their hashes do not pair up")
    document = {
        "@context": [EPCIS_CONTEXT, dict(sorted(conv.used.items()))],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": root.attrib.get("creationDate", "").strip(),
        "epcisBody": {"eventList": events},
    }
    return document, hashes
