"""EPCIS 2.0 XML import (spec §13.2): the scenario's JSON-LD exports, written as EPCIS 2.0 XML
(tests/support/epcis_xml.py), hash like their JSON-LD and import to the same ledger; XML that
cannot be mapped, 1.x forms and entity bombs are refused whole, naming event and field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ledger.cli.epcis import import_with
from ledger.interop.epcis_export import LTL_NS
from ledger.interop.epcis_hash import EpcisError, document_hashes
from ledger.interop.epcis_import import drafts, read_document
from ledger.interop.epcis_xml import xml_document
from ledger.service import Ledger
from tests.interop.test_epcis_io import Api, comparable, fresh, lots_of
from tests.support.epcis_xml import to_xml
from tests.support.ledgers import scenario_ledger
from tests.support.scenario import ENCLOSURE, KEYS, NISO4


@pytest.fixture
def scenario(db_url: str) -> Iterator[Ledger]:
    with scenario_ledger(db_url) as led:
        yield led


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[Callable[[str], Api]]:
    """Fresh ledgers (the scenario's parties, no lot), by name; closed after the test."""
    with ExitStack() as stack:

        def make(name: str) -> Api:
            url = f"sqlite:///{tmp_path / name}.db"
            return Api(stack.enter_context(fresh(url)), url)

        yield make


def test_the_xml_form_of_every_event_hashes_to_its_json_ld_event_id(scenario: Ledger) -> None:
    for lot in lots_of(scenario):
        doc = scenario.epcis_document(lot)
        ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
        for prefix in ("ltl", "t"):  # the extension's prefix is the XML's own business
            xml = to_xml(doc, prefix=prefix)
            assert document_hashes(xml) == ids, (lot, prefix)
            converted, hashes = xml_document(xml)
            assert hashes == ids
            events = converted["epcisBody"]["eventList"]
            assert [e["eventID"] for e in events] == ids
            assert converted["@context"][1] == {"ltl": LTL_NS}


def test_the_conversion_reads_the_xml_binding() -> None:
    xml = """<?xml version="1.0"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:ex="https://ex.test/ns/"
  xmlns:l="https://ltl.example/epcis#" schemaVersion="2.0" creationDate="2025-06-01T00:00:00Z">
 <EPCISBody><EventList>
  <TransformationEvent>
   <eventTime>2025-06-01T10:00:00.000+02:00</eventTime>
   <eventTimeZoneOffset>+02:00</eventTimeZoneOffset>
   <inputQuantityList><quantityElement><epcClass>urn:ltl:lot:A</epcClass>
     <quantity>100.50</quantity><uom>KGM</uom></quantityElement></inputQuantityList>
   <outputQuantityList><quantityElement><epcClass>urn:ltl:lot:B</epcClass>
     <quantity>90</quantity><uom>KGM</uom></quantityElement></outputQuantityList>
   <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
   <bizLocation><id>urn:ltl:site:US:Plant%201</id><ex:dock>4</ex:dock></bizLocation>
   <bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:po">urn:x:po:1</bizTransaction>
   </bizTransactionList>
   <ilmd><l:outputs><lot>B</lot><material>ingot</material><composition/></l:outputs></ilmd>
   <l:process>smelting</l:process>
   <ex:note lang="en">hot</ex:note>
  </TransformationEvent>
 </EventList></EPCISBody>
</epcis:EPCISDocument>"""
    doc, hashes = xml_document(xml)
    assert hashes == document_hashes(xml)
    assert doc["@context"][1] == {"ex": "https://ex.test/ns/", "ltl": LTL_NS}
    (event,) = doc["epcisBody"]["eventList"]
    assert event == {
        "type": "TransformationEvent",
        "eventTime": "2025-06-01T10:00:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "inputQuantityList": [{"epcClass": "urn:ltl:lot:A", "quantity": 100.5, "uom": "KGM"}],
        "outputQuantityList": [{"epcClass": "urn:ltl:lot:B", "quantity": 90, "uom": "KGM"}],
        "bizStep": "urn:epcglobal:cbv:bizstep:commissioning",
        "bizLocation": {"id": "urn:ltl:site:US:Plant%201", "ex:dock": "4"},
        "bizTransactionList": [
            {"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:x:po:1"}
        ],
        "ilmd": {"ltl:outputs": [{"lot": "B", "material": "ingot", "composition": {}}]},
        "ltl:process": "smelting",
        "ex:note": {"lang": "en", "#text": "hot"},
    }
    (draft,) = drafts(xml.encode())
    assert draft.epcis_event == hashes[0]
    assert draft.body["site"] == {"country": "US", "name": "Plant 1"}
    assert draft.body["inputs"] == [{"lot": "A", "mass_kg": "100.5"}]
    assert draft.body["outputs"] == [
        {"lot": "B", "material": "ingot", "mass_kg": "90", "composition": {}}
    ]


def test_xml_imports_to_the_same_ledger_as_json_ld(
    scenario: Ledger, targets: Callable[[str], Api]
) -> None:
    by_xml, by_json = targets("xml"), targets("json")
    for lot in lots_of(scenario):
        doc = scenario.epcis_document(lot)
        xml = to_xml(doc, prefix="t").encode()
        with by_xml.sdk(by_xml.admin) as sdk:
            receipts = import_with(sdk, xml, dict(KEYS))
        with by_json.sdk(by_json.admin) as sdk:
            import_with(sdk, doc, dict(KEYS))
        # each body names the CBV hash of its source XML event, computed from the XML
        for source_hash, r in zip(document_hashes(xml), receipts, strict=True):
            _, ev = by_xml.led.event(r.hash)
            if ev.type != "credit.allocate":
                assert ev.body["epcis_event"] == source_hash
    assert lots_of(by_xml.led) == lots_of(by_json.led) == lots_of(scenario)
    for lot in lots_of(scenario):
        assert comparable(by_xml.led, lot) == comparable(by_json.led, lot), lot
        assert comparable(by_xml.led, lot) == comparable(scenario, lot), lot
    # one event, two representations, one hash: the same signed events, so nothing new
    assert by_xml.led.size() == by_json.led.size()
    size = by_xml.led.size()
    with by_xml.sdk(by_xml.admin) as sdk:
        again = import_with(sdk, scenario.epcis_document(NISO4), dict(KEYS))
    assert not any(r.created for r in again) and by_xml.led.size() == size


def _events(xml: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of each event element of a ``to_xml`` document."""
    out, pos = [], xml.index("<EventList>")
    while True:
        found = [(xml.find(f"<{t}>", pos), t) for t in ("ObjectEvent", "TransformationEvent")]
        found = [(at, t) for at, t in found if at >= 0]
        if not found:
            return out
        at, tag = min(found)
        pos = xml.index(f"</{tag}>", at) + len(tag) + 3
        out.append((at, pos))


EDITS = {
    "quantityList[0].uom": [("<uom>KGM</uom>", "<uom>LBR</uom>")],
    "quantityList[0].quantity": [("<quantity>", "<quantity>about ")],
    "ilmd.ltl:source": [("<t:source>", "<t:origin>"), ("</t:source>", "</t:origin>")],
    "bizLocation.id": [("<bizLocation><id>urn:ltl:site:", "<bizLocation><id>urn:epc:id:sgln:")],
    "epcList": [
        ("<quantityList>", "<epcList><epc>urn:epc:id:sgtin:1.2.3</epc></epcList><quantityList>")
    ],
    "extension": [
        ("<quantityList>", "<extension><quantityList>"),
        ("</quantityList>", "</quantityList></extension>"),
    ],
}


@pytest.mark.parametrize("field", EDITS)
def test_unmappable_xml_is_refused_whole_naming_event_and_field(
    scenario: Ledger, targets: Callable[[str], Api], field: str
) -> None:
    xml = to_xml(scenario.epcis_document(ENCLOSURE), prefix="t")
    spans = _events(xml)
    index = next(
        i
        for i, (start, end) in enumerate(spans)
        if i > 0 and "<ObjectEvent>" in xml[start:end] and "BizStep-commissioning" in xml[start:end]
    )
    start, end = spans[index]
    part = xml[start:end]
    for old, new in EDITS[field]:
        assert old in part, old
        part = part.replace(old, new, 1)
    broken = xml[:start] + part + xml[end:]
    target = targets("t")
    size = target.led.size()
    with target.sdk(target.admin) as sdk, pytest.raises(EpcisError) as info:
        import_with(sdk, broken.encode(), dict(KEYS))
    assert info.value.code == "invalid_epcis"
    assert f"EPCIS event #{index} (" in info.value.message, info.value.message
    assert f"): {field}:" in info.value.message, info.value.message
    assert target.led.size() == size


HEAD = '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:{v}" schemaVersion="{s}">'


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (
            HEAD.format(v=1, s="1.2") + "<EPCISBody><EventList/></EPCISBody></epcis:EPCISDocument>",
            r"EPCIS 1\.x XML document",
        ),
        (
            HEAD.format(v=2, s="2.0")
            + "<EPCISBody><EventList><extension><TransformationEvent/></extension>"
            "</EventList></EPCISBody></epcis:EPCISDocument>",
            r"EPCIS event #0: extension: an EPCIS 1\.x <extension> around the event",
        ),
        (
            HEAD.format(v=2, s="2.0")
            + "<EPCISBody><EventList><AggregationEvent><eventTime>2025-06-01T00:00:00Z</eventTime>"
            "<action>ADD</action></AggregationEvent>"
            "</EventList></EPCISBody></epcis:EPCISDocument>",
            r"EPCIS event #0 \(.*\): type: AggregationEvent",
        ),
        (
            HEAD.format(v=2, s="2.0")
            + "<EPCISBody><EventList><ObjectEvent><sourceList><src>urn:x</src></sourceList>"
            "</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>",
            r"EPCIS event #0 \(ObjectEvent\): sourceList\[0\]: <src> in a sourceList",
        ),
        (
            HEAD.format(v=2, s="2.0") + "<EPCISBody/></epcis:EPCISDocument>",
            "EPCISBody has no <EventList>",
        ),
        (
            '<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2"/>',
            "EPCISQueryDocument",
        ),
        (HEAD.format(v=2, s="2.0") + "<EPCISBody>", "not well-formed XML"),
        (
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            + HEAD.format(v=2, s="2.0")
            + "<EPCISBody><EventList><ObjectEvent><ex>&c;</ex></ObjectEvent>"
            "</EventList></EPCISBody></epcis:EPCISDocument>",
            "XML refused: EntitiesForbidden",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + HEAD.format(v=2, s="2.0")
            + "<EPCISBody><EventList/></EPCISBody></epcis:EPCISDocument>",
            "XML refused",
        ),
    ],
    ids=[
        "epcis-1.x",
        "1.x-extension",
        "aggregation",
        "pair-item",
        "no-eventlist",
        "query",
        "bad",
        "bomb",
        "ext",
    ],
)
def test_other_xml_is_refused_with_a_clear_message(
    xml: str, message: str, targets: Callable[[str], Api]
) -> None:
    with pytest.raises(EpcisError, match=message):
        drafts(xml.encode())
    target = targets("t")
    size = target.led.size()
    with target.sdk(target.admin) as sdk, pytest.raises(EpcisError, match=message):
        import_with(sdk, xml, dict(KEYS))
    assert target.led.size() == size


def test_documents_are_sniffed() -> None:
    with pytest.raises(EpcisError, match="neither JSON-LD nor XML"):
        read_document(b"EPCIS")
    doc, hashes = read_document(b' {"epcisBody": {"eventList": []}}')
    assert hashes is None and doc["epcisBody"] == {"eventList": []}
    with pytest.raises(EpcisError, match="not a JSON-LD document"):
        read_document(b'{"a": 1, "a": 2}')
