"""EPCIS 2.0 export and import (spec §13.2) and the Battery Pass recycled content (§13.3).

Every exported document validates against the GS1 EPCIS 2.0 JSON Schema (tests/vectors), for
every lot of the scenario and as each partner sees it; an import maps, signs and posts through
the SDK (in-process API), refuses an unmappable document naming the event and the field and
posts nothing; export -> import into a fresh ledger reproduces lots, masses, custody and shares.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import referencing
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.cli.epcis import import_with
from ledger.client import LedgerClient
from ledger.interop import batterypass, epcis_export
from ledger.interop.epcis_hash import EpcisError, event_hash
from ledger.interop.epcis_import import drafts
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import create_token
from tests.support.ledgers import open_ledger, scenario_ledger
from tests.support.scenario import (
    BILLET,
    ENCLOSURE,
    KEYS,
    NISO4,
    PARTIES,
    SCRAP,
    registered_chain,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
EPCIS_BASE = "https://gs1.github.io/EPCIS/JSON-Schema/"
CIRCULARITY = VECTORS / "battery-pass/BatteryPass/io.BatteryPass.Circularity/1.2.0/gen"
DAY = date(2026, 1, 1)


@cache
def epcis_validator() -> jsonschema.Draft7Validator:
    """The GS1 root schema, its relative $refs served from the vector files."""
    root = VECTORS / "epcis-schema/JSON-Schema"
    resources = []
    for path in sorted(root.rglob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        uri = EPCIS_BASE + path.relative_to(root).as_posix()
        resources.append((uri, referencing.Resource.from_contents(schema)))
        if "$id" in schema:
            resources.append((schema["$id"], referencing.Resource.from_contents(schema)))
    registry = referencing.Registry().with_resources(resources)
    top = json.loads((root / "EPCIS-JSON-Schema-root.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(top, registry=registry)


def assert_valid_epcis(doc: dict[str, Any]) -> None:
    errors = sorted(epcis_validator().iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@cache
def circularity_validator() -> jsonschema.Draft4Validator:
    """The aspect's schema, asking only for the part a lot gives (``recycledContent``)."""
    raw = (CIRCULARITY / "Circularity-schema.json").read_bytes().decode("utf-16")
    schema = json.loads(raw)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema | {"required": ["recycledContent"]})


def lots_of(led: Ledger) -> list[str]:
    return [lot.lot for lot in led.list_lots(limit=1000)]


def test_the_validators_accept_the_upstream_examples_and_refuse_an_edit() -> None:
    for path in sorted((VECTORS / "epcis-schema/JSON").rglob("*.jsonld")):
        assert_valid_epcis(json.loads(path.read_text(encoding="utf-8")))
    sample = json.loads((CIRCULARITY / "Circularity.json").read_bytes().decode("utf-16"))
    circularity_validator().validate(sample)
    bad = {
        "recycledContent": [
            {"preConsumerShare": 120, "postConsumerShare": -1, "recycledMaterial": "Copper"}
        ]
    }
    assert len(list(circularity_validator().iter_errors(bad))) == 3


@pytest.fixture
def scenario(db_url: str) -> Iterator[Ledger]:
    with scenario_ledger(db_url) as led:
        yield led


def test_every_lot_exports_a_valid_document_tied_to_the_signed_events(
    scenario: Ledger,
) -> None:
    led = scenario
    lots = lots_of(led)
    assert {ENCLOSURE, SCRAP, NISO4} <= set(lots)
    for lot in lots:
        doc = led.epcis_document(lot)
        assert_valid_epcis(doc)
        for item in doc["epcisBody"]["eventList"]:
            seq, ev = led.event(item["ltl:eventHash"])
            assert item["ltl:logIndex"] == seq
            assert item["ltl:actor"] == f"urn:ltl:party:{ev.actor}"
            assert item["ltl:inclusionProof"] == (f"/v1/log/proof/inclusion?hash={ev.hash}")
            body = {k: v for k, v in item.items() if k != "eventID"}
            assert item["eventID"] == event_hash(body, epcis_export.CONTEXT)
    # the enclosure: its whole upstream history, each kind of event mapped
    doc = led.epcis_document(ENCLOSURE)
    steps = [(e["type"], e.get("bizStep")) for e in doc["epcisBody"]["eventList"]]
    assert ("ObjectEvent", "commissioning") in steps
    assert ("TransformationEvent", "commissioning") in steps
    for step in ("shipping", "receiving", "inspecting"):
        assert ("ObjectEvent", step) in steps
    billet = led.epcis_document(BILLET)["epcisBody"]["eventList"]
    assert any(e.get("bizStep") == "stock_taking" for e in billet)
    ship = next(e for e in doc["epcisBody"]["eventList"] if e.get("bizStep") == "shipping")
    assert ship["sourceList"][0] == {"type": "owning_party", "source": "urn:ltl:party:bwm"}
    assert ship["quantityList"] == [
        {"epcClass": "urn:ltl:lot:BWM-AL-2025-0001", "quantity": 20000, "uom": "KGM"}
    ]
    attest = next(e for e in doc["epcisBody"]["eventList"] if "certificationInfo" in e)
    assert attest["certificationInfo"] == "urn:ltl:scheme:iso-22095-chain-of-custody"
    credit = led.epcis_document(NISO4)["epcisBody"]["eventList"][-1]
    assert credit["bizStep"] == "ltl:creditAllocation"


def test_lot_ids_and_parties_as_identifiers() -> None:
    assert epcis_export.lot_class("urn:epc:class:lgtin:4012345.011111.4444") == (
        "urn:epc:class:lgtin:4012345.011111.4444"
    )
    assert epcis_export.lot_class("A/B #1") == "urn:ltl:lot:A%2FB%20%231"
    assert epcis_export.lot_of_class("urn:ltl:lot:A%2FB%20%231") == "A/B #1"
    site = {"country": "KR", "name": "Ulsan Plant 2"}
    assert epcis_export.site_of_uri(epcis_export.site_uri(site)) == site
    assert epcis_export.site_of_uri(epcis_export.site_uri({"country": "US"})) == {"country": "US"}


# ---------------------------------------------------------------------- the API and the SDK
class Api:
    def __init__(self, led: Ledger, url: str) -> None:
        self.led = led
        self.app = create_app(
            Settings(database_url=url, auth_failures_per_minute=100_000), ledger=led
        )
        self.http = TestClient(self.app)
        self.admin = create_token(led.store, "operator", "admin")
        self.partner = {p: create_token(led.store, p, "partner") for p in PARTIES}

    def get(self, path: str, token: str) -> httpx.Response:
        return self.http.get(path, headers={"Authorization": f"Bearer {token}"})

    def sdk(self, token: str) -> LedgerClient:
        def forward(request: httpx.Request) -> httpx.Response:
            r = self.http.request(
                request.method,
                request.url.raw_path.decode("ascii"),
                content=request.content,
                headers=dict(request.headers),
            )
            return httpx.Response(r.status_code, headers=r.headers, content=r.content)

        return LedgerClient("http://ledger.test", token, transport=httpx.MockTransport(forward))


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    with scenario_ledger(db_url) as led:
        yield Api(led, db_url)


def test_routes_follow_the_visibility_rule(api: Api) -> None:
    led = api.led
    # packco holds the enclosure: its whole upstream history, as the ledger keeps it
    resp = api.get(f"/v1/lots/{ENCLOSURE}/epcis", api.partner["packco"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/ld+json")
    doc = resp.json()
    assert_valid_epcis(doc)
    mine = [e["ltl:eventHash"] for e in doc["epcisBody"]["eventList"]]
    view = led.partner_view("packco")
    for h in mine:
        seq, ev = led.event(h)
        assert any(
            view.get(lot, -1) is None or seq <= (view.get(lot) or 0)
            for lot in (*ev.lots_touched, *ev.lots_created)
            if lot in view
        )
    auditor_doc = led.epcis_document(ENCLOSURE)
    assert mine == [e["ltl:eventHash"] for e in auditor_doc["epcisBody"]["eventList"]]
    # bwm held the scrap until alus received it: its document stops at that receive
    scrap = api.get(f"/v1/lots/{SCRAP}/epcis", api.partner["bwm"]).json()
    last = scrap["epcisBody"]["eventList"][-1]
    assert last["bizStep"] == "receiving"
    full = led.epcis_document(SCRAP)["epcisBody"]["eventList"]
    assert len(scrap["epcisBody"]["eventList"]) < len(full)
    assert_valid_epcis(scrap)
    # a partner that never saw the enclosure: 404 like a lot that does not exist
    for path in (f"/v1/lots/{ENCLOSURE}/epcis", f"/v1/lots/{ENCLOSURE}/battery-pass/circularity"):
        resp = api.get(path, api.partner["bwm"])
        assert resp.status_code == 404 and resp.json()["code"] == "not_found"
        assert api.get(path.replace(ENCLOSURE, "NOPE-1"), api.admin).status_code == 404
        assert api.get(path, "bad-token").status_code == 401
    # every lot as every partner may see it: valid
    for party, token in api.partner.items():
        for lot in lots_of(led):
            resp = api.get(f"/v1/lots/{lot}/epcis", token)
            assert resp.status_code in (200, 404), (party, lot)
            if resp.status_code == 200:
                assert_valid_epcis(resp.json())


def test_battery_pass_is_the_report_in_percent(api: Api) -> None:
    led = api.led
    for lot in lots_of(led):
        data = led.battery_pass(lot)
        circularity_validator().validate(data)
        report = led.recycled_content(lot, as_of=DAY)
        expected = []
        for symbol, name in batterypass.MATERIALS.items():
            shares = report["elements"].get(symbol)
            if shares is not None:
                expected.append(
                    {
                        "recycledMaterial": name,
                        "preConsumerShare": float(Decimal(shares["pre_consumer_battery"]) * 100),
                        "postConsumerShare": float(Decimal(shares["post_consumer"]) * 100),
                    }
                )
        assert data == {"recycledContent": expected}
    ni = api.get(f"/v1/lots/{NISO4}/battery-pass/circularity", api.partner["bwm"]).json()
    assert ni == {
        "recycledContent": [
            {"recycledMaterial": "Nickel", "preConsumerShare": 0.0, "postConsumerShare": 30.0}
        ]
    }
    circularity_validator().validate(ni)
    enc = api.get(f"/v1/lots/{ENCLOSURE}/battery-pass/circularity", api.partner["packco"])
    assert enc.status_code == 200 and enc.json() == {"recycledContent": []}  # aluminium


def test_pre_consumer_other_counts_in_neither_share() -> None:
    report = {
        "elements": {
            "Co": {
                "post_consumer": "0.100000",
                "pre_consumer_battery": "0.050000",
                "pre_consumer_other": "0.400000",
            },
            "Al": None,
            "Li": None,
        }
    }
    assert batterypass.recycled_content(report) == {
        "recycledContent": [
            {"recycledMaterial": "Cobalt", "preConsumerShare": 5.0, "postConsumerShare": 10.0}
        ]
    }


# ---------------------------------------------------------------------- import
def fresh(url: str) -> Ledger:
    """A new ledger with the scenario's parties and keys, and no lot."""
    led = open_ledger(url)
    for ev in registered_chain().events:
        led.append(ev)
    return led


def comparable(led: Ledger, lot: str) -> dict[str, Any]:
    state = led.lot(lot)
    report = led.recycled_content(lot, as_of=DAY)
    for step in report["lineage"]["steps"]:  # event hashes and log indexes differ
        step.pop("event", None)
        step.pop("seq", None)
    for m in report["method"]:
        m.pop("event", None)
        m.pop("seq", None)
    return {
        "mass": str(state.mass),
        "custodian": state.custodian,
        "status": state.status,
        "material": state.material,
        "composition": state.composition,
        "report": report,
    }


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Api]:
    url = f"sqlite:///{tmp_path}/target.db"
    with fresh(url) as led:
        yield Api(led, url)


def test_round_trip_reproduces_lots_masses_custody_and_shares(
    scenario: Ledger, target: Api
) -> None:
    created = 0
    # every lot's document in turn: the events documents share are idempotent repeats
    for lot in lots_of(scenario):
        doc = scenario.epcis_document(lot)
        with target.sdk(target.admin) as sdk:
            receipts = import_with(sdk, doc, dict(KEYS))
        created += sum(r.created for r in receipts)
        # every imported body names the EPCIS event it came from
        for item, r in zip(doc["epcisBody"]["eventList"], receipts, strict=True):
            _, ev = target.led.event(r.hash)
            assert ev.type == scenario.event(item["ltl:eventHash"])[1].type
            if ev.type != "credit.allocate":
                assert ev.body["epcis_event"] == item["eventID"]
    lot_events = {
        h for lot in lots_of(scenario) for _, ev in scenario.chain(lot) for h in [ev.hash]
    }
    assert created == len(lot_events)
    assert lots_of(target.led) == lots_of(scenario)
    for lot in lots_of(scenario):
        assert comparable(target.led, lot) == comparable(scenario, lot), lot
    assert {ENCLOSURE, BILLET, SCRAP, NISO4} <= set(lots_of(target.led))
    # importing the same document again changes nothing (idempotent repeats)
    size = target.led.size()
    with target.sdk(target.admin) as sdk:
        again = import_with(sdk, scenario.epcis_document(NISO4), dict(KEYS))
    assert not any(r.created for r in again) and target.led.size() == size
    # the target's own export of the enclosure is valid too
    assert_valid_epcis(target.led.epcis_document(ENCLOSURE))


def test_a_partner_imports_its_own_events_with_its_own_key(target: Api) -> None:
    doc = {
        "@context": epcis_export.CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-06-01T00:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2025-06-01T10:00:00.000+02:00",
                    "eventTimeZoneOffset": "+02:00",
                    "action": "ADD",
                    "bizStep": "urn:epcglobal:cbv:bizstep:commissioning",
                    "quantityList": [
                        {
                            "epcClass": "urn:epc:class:lgtin:4012345.011111.4444",
                            "quantity": 1250.5,
                            "uom": "KGM",
                        }
                    ],
                    "bizLocation": {"id": "urn:ltl:site:US:Bartlesville"},
                    "ilmd": {
                        "ltl:material": "black mass",
                        "ltl:source": "pre_consumer_battery",
                        "ltl:composition": {"Co": "0.02"},
                    },
                },
                {
                    "type": "ObjectEvent",
                    "eventTime": "2025-06-01T09:00:00Z",
                    "eventTimeZoneOffset": "+00:00",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "quantityList": [
                        {
                            "epcClass": "urn:epc:class:lgtin:4012345.011111.4444",
                            "quantity": 1250.5,
                            "uom": "KGM",
                        }
                    ],
                    "destinationList": [
                        {"type": "owning_party", "destination": "urn:ltl:party:alus"}
                    ],
                },
            ]
        },
    }
    # (the URN spelling of the bizStep is EPCIS 1.x's: the 2.0 schema refuses it, the import
    # reads it)
    with target.sdk(target.partner["bwm"]) as sdk:
        receipts = import_with(sdk, doc, {"bwm": KEYS["bwm"]})
    lot = target.led.lot("urn:epc:class:lgtin:4012345.011111.4444")
    assert (lot.custodian, lot.status, str(lot.mass)) == ("bwm", "in_transit", "1250.5")
    assert len(receipts) == 2
    # alus receives it with an EPCIS receiving event (the pending ship read from the ledger)
    receive = {
        "type": "ObjectEvent",
        "eventTime": "2025-06-02T09:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": "receiving",
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 1250, "uom": "KGM"}
        ],
    }
    doc2 = dict(doc, epcisBody={"eventList": [receive]})
    with target.sdk(target.partner["alus"]) as sdk:
        import_with(sdk, doc2, {"alus": KEYS["alus"]})
    lot = target.led.lot("urn:epc:class:lgtin:4012345.011111.4444")
    assert (lot.custodian, lot.status, str(lot.mass)) == ("alus", "held", "1250")


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-06-01T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda e: e["quantityList"][0].update(uom="LBR"), "quantityList[0].uom"),
        (lambda e: e["quantityList"][0].pop("quantity"), "quantityList[0].quantity"),
        (lambda e: e.update(bizStep="retail_selling"), "bizStep"),
        (lambda e: e.update(type="AggregationEvent"), "type"),
        (lambda e: e["ilmd"].pop("ltl:source"), "ilmd.ltl:source"),
        (
            lambda e: e.update(bizLocation={"id": "urn:epc:id:sgln:4012345.00001.0"}),
            "bizLocation.id",
        ),
        (lambda e: e.update(epcList=["urn:epc:id:sgtin:4012345.011122.25"]), "epcList"),
    ],
)
def test_an_unmappable_document_is_refused_whole_naming_event_and_field(
    scenario: Ledger, target: Api, edit: Any, field: str
) -> None:
    doc = scenario.epcis_document(ENCLOSURE)
    events = doc["epcisBody"]["eventList"]
    index = next(
        i
        for i, e in enumerate(events)
        if e.get("bizStep") == "commissioning" and e["type"] == "ObjectEvent" and i > 0
    )
    broken = copy.deepcopy(doc)
    edit(broken["epcisBody"]["eventList"][index])
    size = target.led.size()
    with target.sdk(target.admin) as sdk, pytest.raises(EpcisError) as info:
        import_with(sdk, broken, dict(KEYS))
    assert info.value.code == "invalid_epcis"
    assert f"EPCIS event #{index} (" in info.value.message
    assert f"): {field}:" in info.value.message, info.value.message
    assert target.led.size() == size  # nothing of the document was posted


def test_refusals_before_posting_name_signer_and_missing_lot(scenario: Ledger, target: Api) -> None:
    doc = scenario.epcis_document(ENCLOSURE)
    size = target.led.size()
    with target.sdk(target.admin) as sdk:
        with pytest.raises(EpcisError, match=r"event #0 .*ltl:actor: no key for party 'bwm'"):
            import_with(sdk, doc, {"alus": KEYS["alus"]})
        tail = _doc(*doc["epcisBody"]["eventList"][-2:])
        with pytest.raises(EpcisError, match="not in this document nor in the ledger"):
            import_with(sdk, tail, dict(KEYS))
        with pytest.raises(EpcisError, match=r"epcisBody\.eventList"):
            drafts({"type": "EPCISDocument"})
    assert target.led.size() == size


def test_cli_import_refuses_an_unmappable_document_before_reaching_the_ledger(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from ledger.cli.app import app
    from ledger.client.keyfile import save_private_key

    doc = _doc(
        {
            "type": "AggregationEvent",
            "eventTime": "2025-06-01T09:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "ADD",
            "parentID": "urn:x:1",
        }
    )
    path = tmp_path / "doc.jsonld"
    path.write_text(json.dumps(doc))
    save_private_key(KEYS["bwm"], tmp_path / "bwm.pem")
    result = CliRunner().invoke(
        app,
        [
            "epcis",
            "import",
            str(path),
            "--actor",
            "bwm",
            "--key",
            str(tmp_path / "bwm.pem"),
            "--url",
            "http://127.0.0.1:9",
            "--token",
            "t",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "EPCIS event #0" in result.output and "type: AggregationEvent" in result.output
