"""An exported EPCIS 2.0 JSON-LD document written as EPCIS 2.0 XML (the test side of §13.2).

Written independently of ``ledger.interop.epcis_xml`` (which reads XML) for the fields the
ledger's export uses: bare CBV words become ``https://ref.gs1.org/cbv/`` URIs as the XML binding
has them, ``ltl:`` CURIE values become IRIs, lists become their XML item elements, source /
destination / business-transaction pairs a ``type`` attribute, sensor reports attributes, and
``ltl:`` members elements in the extension namespace (their members unqualified). ``prefix``
names the extension namespace in the XML (the reader must not care which prefix it is).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ledger.interop.epcis_export import LTL_NS

CBV = "https://ref.gs1.org/cbv/"
GS1 = "https://gs1.org/voc/"
_EPC_LISTS = {"epcList", "inputEPCList", "outputEPCList", "childEPCs"}
_QUANTITY_LISTS = {"quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList"}
_PAIRS = {"bizTransactionList": "bizTransaction", "sourceList": "source"}
_PAIRS["destinationList"] = "destination"
_PAIR_TYPE = {"bizTransaction": "BTT-", "source": "SDT-", "destination": "SDT-"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    return LTL_NS + text[4:] if text.startswith("ltl:") else text


def _cbv(word: str, kind: str) -> str:
    return word if ":" in word else CBV + kind + word


class _Writer:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def tag(self, key: str) -> str:
        return self.prefix + ":" + key[4:] if key.startswith("ltl:") else key

    def element(self, key: str, value: Any) -> str:
        """``<key>`` for a value (an object's members as children; a list repeats it)."""
        if isinstance(value, list):
            return "".join(self.element(key, v) for v in value)
        tag = self.tag(key)
        if isinstance(value, dict):
            inner = "".join(self.element(k, v) for k, v in value.items())
            return f"<{tag}>{inner}</{tag}>"
        return f"<{tag}>{escape(_text(value))}</{tag}>"

    def member(self, key: str, value: Any) -> str:
        if key in _EPC_LISTS:
            return f"<{key}>" + "".join(f"<epc>{escape(v)}</epc>" for v in value) + f"</{key}>"
        if key in _QUANTITY_LISTS:
            return f"<{key}>{self.element('quantityElement', value)}</{key}>"
        if key in _PAIRS:
            item = _PAIRS[key]
            pairs = "".join(
                f"<{item} type={quoteattr(_cbv(p['type'], _PAIR_TYPE[item]))}>"
                f"{escape(p[item])}</{item}>"
                for p in value
            )
            return f"<{key}>{pairs}</{key}>"
        if key == "sensorElementList":
            out = []
            for element in value:
                reports = "".join(
                    "<sensorReport"
                    + "".join(
                        f" {k}={quoteattr(GS1 + v if k == 'type' else _text(v))}"
                        for k, v in report.items()
                    )
                    + "/>"
                    for report in element["sensorReport"]
                )
                out.append(f"<sensorElement>{reports}</sensorElement>")
            return f"<{key}>{''.join(out)}</{key}>"
        if key == "bizStep":
            return self.element(key, _cbv(value, "BizStep-"))
        if key == "disposition":
            return self.element(key, _cbv(value, "Disp-"))
        return self.element(key, value)

    def event(self, event: dict[str, Any]) -> str:
        kind = event["type"]
        inner = "".join(self.member(k, v) for k, v in event.items() if k != "type")
        return f"<{kind}>{inner}</{kind}>"


def to_xml(doc: dict[str, Any], *, prefix: str = "ltl") -> str:
    """The EPCIS 2.0 XML form of an ``epcis_document`` (JSON-LD)."""
    writer = _Writer(prefix)
    events = "".join(writer.event(e) for e in doc["epcisBody"]["eventList"])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
        f'xmlns:{prefix}="{LTL_NS}" schemaVersion="2.0" '
        f"creationDate={quoteattr(doc['creationDate'])}>"
        f"<EPCISBody><EventList>{events}</EventList></EPCISBody></epcis:EPCISDocument>\n"
    )
