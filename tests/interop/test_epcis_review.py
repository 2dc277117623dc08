"""Red-team review of the EPCIS export/import and the Battery Pass read (issue 10).

What a hostile partner can read through the interoperability routes (exactly what the bundle
shows it, no more), what a hostile EPCIS document does to ``ledger epcis import`` (refused
whole, naming event and field, before anything is posted), and the hash of an exported
document read back from its JSON text.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.cli.epcis import import_with
from ledger.interop.epcis_hash import EpcisError, document_hashes
from ledger.interop.epcis_import import drafts
from tests.interop.test_epcis_io import Api, circularity_validator, fresh, lots_of
from tests.support.ledgers import scenario_ledger
from tests.support.scenario import ENCLOSURE, KEYS

LOT_EVENTS = ("lot.", "credit.allocate")


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    with scenario_ledger(db_url) as led:
        yield Api(led, db_url)


def _bundle_lot_events(api: Api, lot: str, token: str) -> list[str]:
    bundle = api.get(f"/v1/lots/{lot}/bundle", token).json()
    return [
        e["event"]["id"] for e in bundle["entries"] if e["event"]["type"].startswith(LOT_EVENTS)
    ]


def test_a_partner_reads_in_epcis_exactly_the_lot_events_of_its_bundle(api: Api) -> None:
    for party, token in api.partner.items():
        for lot in lots_of(api.led):
            epcis = api.get(f"/v1/lots/{lot}/epcis", token)
            bundle = api.get(f"/v1/lots/{lot}/bundle", token)
            bp = api.get(f"/v1/lots/{lot}/battery-pass/circularity", token)
            assert epcis.status_code == bundle.status_code == bp.status_code, (party, lot)
            if epcis.status_code != 200:
                # invisible: the same answer as a lot that does not exist (the id aside)
                for resp in (epcis, bp):
                    ghost = api.get(resp.request.url.path.replace(lot, "NOPE-0000"), token)
                    assert resp.status_code == ghost.status_code == 404
                    assert resp.content.replace(lot.encode(), b"NOPE-0000") == ghost.content
                continue
            circularity_validator().validate(bp.json())  # shares within 0..100
            events = epcis.json()["epcisBody"]["eventList"]
            ids = [api.led.event(e["ltl:eventHash"])[1].id for e in events]
            assert ids == _bundle_lot_events(api, lot, token), (party, lot)


def test_the_event_id_does_not_depend_on_the_host_header(api: Api) -> None:
    """The eventID names the event: the same ledger event has one eventID whichever name
    the server was reached by (an EPCIS repository deduplicates on it)."""
    token = api.partner["packco"]
    path = f"/v1/lots/{ENCLOSURE}/epcis"
    a = api.http.get(path, headers={"Authorization": f"Bearer {token}"})
    b = api.http.get(path, headers={"Authorization": f"Bearer {token}", "Host": "attacker.example"})
    ids_a = [e["eventID"] for e in a.json()["epcisBody"]["eventList"]]
    ids_b = [e["eventID"] for e in b.json()["epcisBody"]["eventList"]]
    assert ids_a == ids_b
    # the inclusion proof is referenced relative to the ledger that served the document
    proofs = {e["ltl:inclusionProof"] for e in b.json()["epcisBody"]["eventList"]}
    assert all(p.startswith("/v1/log/proof/inclusion?hash=") for p in proofs)


def test_the_exported_json_text_hashes_to_its_event_ids(api: Api) -> None:
    for lot in lots_of(api.led):
        doc = api.led.epcis_document(lot)
        ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
        for text in (json.dumps(doc), json.dumps(doc, indent=1, sort_keys=True)):
            assert document_hashes(text.encode("utf-8")) == ids, lot


# ---------------------------------------------------------------------- hostile documents
_CREATE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2025-06-01T10:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "ADD",
    "bizStep": "commissioning",
    "quantityList": [{"epcClass": "LOT-1", "quantity": 1250.5, "uom": "KGM"}],
    "bizLocation": {"id": "urn:ltl:site:US:Bartlesville"},
    "ilmd": {"ltl:material": "black mass", "ltl:source": "post_consumer"},
}
_ASSAY: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2025-06-01T11:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "OBSERVE",
    "bizStep": "inspecting",
    "quantityList": [{"epcClass": "LOT-1"}],
    "sensorElementList": [
        {"sensorReport": [{"chemicalSubstance": "urn:ltl:element:Ni", "value": 10, "uom": "P1"}]}
    ],
}
_SHIP: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2025-06-01T12:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "OBSERVE",
    "bizStep": "shipping",
    "quantityList": [{"epcClass": "LOT-1", "quantity": 1250.5, "uom": "KGM"}],
    "destinationList": [{"type": "owning_party", "destination": "urn:ltl:party:alus"}],
}


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {"type": "EPCISDocument", "epcisBody": {"eventList": [copy.deepcopy(e) for e in events]}}


def _report(sensor: Any) -> dict[str, Any]:
    return dict(_ASSAY, sensorElementList=sensor)


def _nan_report(value: float) -> list[Any]:
    rep = {"chemicalSubstance": "urn:ltl:element:Ni", "value": value, "uom": "P1"}
    return [{"sensorReport": [rep]}]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (dict(_CREATE, eventTime="0001-01-01T00:00:00+05:00"), "eventTime"),
        (dict(_CREATE, eventTime="9999-12-31T23:59:59-05:00"), "eventTime"),
        (_report(_nan_report(float("nan"))), "sensorElementList[0].sensorReport[0].value"),
        (_report(_nan_report(float("inf"))), "sensorElementList[0].sensorReport[0].value"),
        (_report(_nan_report(-5.0)), "sensorElementList[0].sensorReport[0].value"),
        (_report(["x"]), "sensorElementList[0]"),
        (_report([{"sensorReport": 5}]), "sensorElementList[0].sensorReport"),
        (_report([{"sensorReport": ["x"]}]), "sensorElementList[0].sensorReport[0]"),
    ],
)
def test_a_malformed_event_is_refused_naming_event_and_field(
    event: dict[str, Any], field: str
) -> None:
    """Not a Python exception out of the mapping: the refusal the CLI prints."""
    with pytest.raises(EpcisError) as info:
        drafts(_doc(_CREATE, event))
    assert "EPCIS event #1 (" in info.value.message
    assert f"): {field}:" in info.value.message, info.value.message


def test_the_same_event_twice_is_refused_before_anything_is_posted(target: Api) -> None:
    """Both copies map to one event id: the second would be refused (duplicate_id) by the
    ledger after the first was posted."""
    size = target.led.size()
    doc = _doc(_CREATE, _ASSAY, _ASSAY)
    with target.sdk(target.partner["bwm"]) as sdk, pytest.raises(EpcisError) as info:
        import_with(sdk, doc, {"bwm": KEYS["bwm"]})
    assert "EPCIS event #2 (" in info.value.message and "event #1" in info.value.message
    assert target.led.size() == size


def test_re_importing_a_receive_is_an_idempotent_repeat(target: Api) -> None:
    with target.sdk(target.partner["bwm"]) as sdk:
        import_with(sdk, _doc(_CREATE, _SHIP), {"bwm": KEYS["bwm"]})
    receive = dict(_SHIP, bizStep="receiving", eventTime="2025-06-01T13:00:00Z")
    receive.pop("destinationList")
    with target.sdk(target.partner["alus"]) as sdk:
        first = import_with(sdk, _doc(receive), {"alus": KEYS["alus"]})
        size = target.led.size()
        try:
            again = import_with(sdk, _doc(receive), {"alus": KEYS["alus"]})
        finally:
            assert target.led.size() == size  # holds today: nothing changes
    assert [r.hash for r in again] == [r.hash for r in first]
    assert not any(r.created for r in again)


@pytest.fixture
def target(tmp_path: Any) -> Iterator[Api]:
    url = f"sqlite:///{tmp_path}/target.db"
    with fresh(url) as led:
        yield Api(led, url)


@pytest.mark.parametrize("wrapper", ["a", "extension"])
def test_deeply_nested_xml_is_refused_not_a_recursion_error(wrapper: str) -> None:
    deep = f"<{wrapper}>" * 50_000 + f"</{wrapper}>" * 50_000
    xml = (
        '<?xml version="1.0"?><epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">'
        "<EPCISBody><EventList><ObjectEvent><eventTime>2025-01-01T00:00:00Z</eventTime>"
        f"{deep}</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"
    )
    with pytest.raises(EpcisError, match="nesting deeper than 32"):
        document_hashes(xml.encode())
