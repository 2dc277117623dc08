"""GET /v1/lots/{lot}/recycled-content on both databases: access, the report, and the same
report recomputed offline from the audit bundle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.attest.lineage import ReplaySource
from ledger.attest.recycled import recycled_content
from ledger.audit.verify import verify_bundle
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import create_token
from tests.support.ledgers import scenario_ledger
from tests.support.scenario import ENCLOSURE, NISO4, PRIMARY


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[Ledger, TestClient, dict[str, str]]]:
    with scenario_ledger(db_url) as led:
        app = create_app(Settings(database_url=db_url, auth_failures_per_minute=10_000), ledger=led)
        tokens = {p: create_token(led.store, p, "partner") for p in ("packco", "bwm", "alus")}
        tokens["auditor"] = create_token(led.store, "auditor", "auditor")
        yield led, TestClient(app), tokens


def _get(client: TestClient, lot: str, token: str, **params: Any) -> Any:
    return client.get(
        f"/v1/lots/{lot}/recycled-content",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_report_access_and_offline_recomputation(
    api: tuple[Ledger, TestClient, dict[str, str]],
) -> None:
    led, client, tokens = api
    resp = _get(client, ENCLOSURE, tokens["packco"], as_of="2031-08-18")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["lot"] == ENCLOSURE and report["as_of"] == "2031-08-18"
    assert report["mass"]["recycled"] == "0.798793"
    assert report["elements"]["Al"]["post_consumer"] == "0.792988"
    assert [p["scheme"] for p in report["compliance"]] == ["eu-2023-1542-art8", "us-fta-sourcing"]
    assert report["compliance"][0]["elements"]["Co"]["minimum"] == "0.160000"
    # the server's report equals a recomputation from the audit bundle, offline
    assert report == led.recycled_content(ENCLOSURE, as_of=date(2031, 8, 18))
    bundle = led.bundle(ENCLOSURE)
    verified = verify_bundle(bundle, led.log_signer.verifier)
    assert verified.ok and verified.state is not None
    source = ReplaySource.from_entries(verified.state, bundle["entries"])
    offline = recycled_content(source, ENCLOSURE, as_of=date(2031, 8, 18))
    assert offline == report
    # default date: today
    today = _get(client, ENCLOSURE, tokens["auditor"]).json()
    assert today["as_of"] == date.today().isoformat() or today["as_of"] > report["as_of"]
    # a partner that never held the enclosure sees nothing; an unknown lot is 404 too
    for lot, token in ((ENCLOSURE, tokens["bwm"]), ("NOPE-1", tokens["auditor"])):
        resp = _get(client, lot, token)
        assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert _get(client, ENCLOSURE, "bad-token").status_code == 401
    # the spec 294 kg example through the API
    ni = _get(client, NISO4, tokens["bwm"], as_of="2036-08-18").json()
    assert ni["elements"]["Ni"]["post_consumer"] == "0.300000"
    assert ni["compliance"][0]["elements"]["Ni"] == {
        "share": "0.300000",
        "minimum": "0.150000",
        "result": "pass",
    }
    # an upstream lot, for a partner: as it was when it entered the partner's lineage
    prim = _get(client, PRIMARY, tokens["packco"], as_of="2030-01-01").json()
    assert prim["mass"]["virgin"] == "1.000000"
    assert _get(client, ENCLOSURE, tokens["auditor"], as_of="2031-13-01").status_code == 400
