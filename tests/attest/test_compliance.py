"""Compliance rule packs (spec §7): dates, thresholds, what counts, FEOC, provisional, as_of."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.attest.compliance import SCHEMES, eu_art8, load_packs, us_fta
from ledger.attest.lineage import ReplaySource
from ledger.attest.recycled import lineage
from ledger.core.rules import Lot
from tests.support.scenario import registered_chain


def _lot(source: str, comp: dict[str, str] | None) -> Lot:
    c = registered_chain()
    body: dict[str, Any] = {
        "lot": "L",
        "material": "m",
        "mass_kg": "1000",
        "source": source,
        "site": {"country": "US"},
    }
    if comp is not None:
        body["composition"] = comp
    c.post("bwm", "lot.create", body)
    lot = c.state.lot("L")
    assert lot is not None
    return lot


ALL = {"Co": "0.1", "Li": "0.1", "Ni": "0.1", "Pb": "0.1"}


def test_the_data_file_ships_and_holds_both_packs() -> None:
    packs = load_packs()
    assert set(SCHEMES) <= set(packs)
    assert "KR" in packs["us-fta-sourcing"]["fta_countries"]


@pytest.mark.parametrize(
    ("day", "minimums"),
    [
        (date(2026, 11, 25), None),
        (date(2031, 8, 17), None),
        (
            date(2031, 8, 18),
            {"Co": "0.160000", "Li": "0.060000", "Ni": "0.060000", "Pb": "0.850000"},
        ),
        (
            date(2036, 8, 17),
            {"Co": "0.160000", "Li": "0.060000", "Ni": "0.060000", "Pb": "0.850000"},
        ),
        (
            date(2036, 8, 18),
            {"Co": "0.260000", "Li": "0.120000", "Ni": "0.150000", "Pb": "0.850000"},
        ),
    ],
    ids=["today", "day-before-2031", "2031", "day-before-2036", "2036"],
)
def test_minimums_by_date(day: date, minimums: dict[str, str] | None) -> None:
    res = eu_art8(_lot("post_consumer", ALL), as_of=day)
    assert res["as_of"] == day.isoformat() and res["provisional"] is True
    for el, got in res["elements"].items():
        assert got["share"] == "1.000000"
        if minimums is None:
            assert got["minimum"] is None and got["result"] == "n/a"
        else:
            assert got["minimum"] == minimums[el] and got["result"] == "pass"


@pytest.mark.parametrize(
    ("source", "result"),
    [
        ("post_consumer", "pass"),
        ("pre_consumer_battery", "pass"),
        ("pre_consumer_other", "fail"),
        ("virgin", "fail"),
    ],
)
def test_pre_consumer_other_never_counts(source: str, result: str) -> None:
    res = eu_art8(_lot(source, ALL), as_of=date(2032, 1, 1))
    share = "0.000000" if result == "fail" else "1.000000"
    assert res["elements"]["Co"] == {"share": share, "minimum": "0.160000", "result": result}


def test_absent_element_and_unknown_composition_are_not_applicable() -> None:
    res = eu_art8(_lot("post_consumer", {"Al": "0.9"}), as_of=date(2032, 1, 1))
    assert res["elements"]["Co"]["share"] == "0.000000"
    assert res["elements"]["Co"]["result"] == "n/a"
    res = eu_art8(_lot("post_consumer", None), as_of=date(2032, 1, 1))
    assert res["elements"]["Ni"] == {
        "share": None,
        "minimum": "0.060000",
        "result": "n/a",
        "reason": "composition unknown",
    }


def test_threshold_is_compared_exactly() -> None:
    lot = _lot("post_consumer", ALL)
    pack = dict(load_packs()["eu-2023-1542-art8"])
    pack["minimums"] = [{"from": "2030-01-01", "shares": {"Co": "1", "Li": "1.000001"}}]
    res = eu_art8(lot, as_of=date(2030, 1, 1), pack=pack)["elements"]
    assert res["Co"]["result"] == "pass"  # share == minimum passes
    assert res["Li"]["result"] == "fail"
    assert res["Ni"]["result"] == "n/a"  # no minimum in this table


@pytest.mark.parametrize(("feoc", "result"), [((), "pass"), (("cnref",), "fail")])
def test_feoc_screen_and_dated_results(feoc: tuple[str, ...], result: str) -> None:
    c = registered_chain()
    c.post(
        "bwm",
        "lot.create",
        {
            "lot": "L",
            "material": "m",
            "mass_kg": "10",
            "source": "virgin",
            "site": {"country": "CN"},
            "composition": {"Ni": "1"},
        },
    )
    lot = c.state.lot("L")
    assert lot is not None
    lin = lineage(ReplaySource(c.state, list(enumerate(c.events))), "L")
    res = us_fta(lot, lin, as_of=date(2025, 9, 30), feoc_parties=feoc)
    assert res["as_of"] == "2025-09-30" and res["provisional"] is False
    assert res["checks"]["feoc"] == {"result": result, "parties": list(feoc)}
    assert res["elements"]["Ni"]["share"] == "0.000000"  # extracted in CN: not FTA
