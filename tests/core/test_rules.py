"""The custody/mass state machine (spec §4 and §7): the running example, a named negative
test for every rejection code, recycled shares and credits, and Hypothesis invariants over random
histories (replay determinism, mass never created, no fork)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core import keys
from ledger.core.events import SignedEvent, build_event, parse_event, sign_event
from ledger.core.keys import key_object
from ledger.core.rules import Delta, Key, Lot, MemoryState, Party, RuleConfig, apply, check_signer
from ledger.core.schema import touched_lots
from ledger.core.values import format_mass, format_time, parse_time
from ledger.errors import RULE_CODES, RuleViolation
from tests.support.scenario import (
    BILLET,
    ENCLOSURE,
    KEYS,
    NISO4,
    PRIMARY,
    RESIDUE,
    SCRAP,
    T0,
    Chain,
    private_key,
    registered_chain,
    scenario_chain,
    scenario_events,
)

H = "ab" * 32
SMALL_ORDER = bytes([1]) + bytes(31)  # the identity point
NON_CANONICAL = (2**255 - 19).to_bytes(32, "little")  # y = p


def _raw_key(pub: bytes) -> dict[str, str]:
    return {"kid": keys.kid_of(pub), "alg": "Ed25519", "pub": keys.b64url_encode(pub)}


def _lot(c: Chain, lot: str) -> Lot:
    found = c.state.lot(lot)
    assert found is not None
    return found


def _refused(c: Chain, ev: SignedEvent, code: str, **kw: Any) -> RuleViolation:
    before = c.state.snapshot()
    with pytest.raises(RuleViolation) as info:
        c.state.accept(ev, **kw)
    assert info.value.code == code, str(info.value)
    assert c.state.snapshot() == before
    return info.value


# --- the running example ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> Chain:
    return scenario_chain()


def test_scenario_replays_to_the_same_state(scenario: Chain) -> None:
    events = scenario_events()
    assert [e.hash for e in events] == [e.hash for e in scenario.events]  # deterministic
    replayed = MemoryState.replay(parse_event(e.canonical) for e in events)
    assert replayed == scenario.state
    assert replayed.snapshot() == scenario.state.snapshot()
    json.dumps(replayed.snapshot())  # JSON-able


def test_scenario_custody_and_masses(scenario: Chain) -> None:
    scrap = _lot(scenario, SCRAP)
    assert (scrap.custodian, scrap.status, scrap.mass) == ("alus", "consumed", 0)
    assert scrap.composition == {
        "Al": Decimal("0.962"),
        "Si": Decimal("0.012"),
        "Fe": Decimal("0.008"),
    }
    billet = _lot(scenario, BILLET)
    assert (billet.mass, billet.status, billet.parents) == (
        Decimal("3990"),
        "held",
        (SCRAP, PRIMARY),
    )
    enc = _lot(scenario, ENCLOSURE)
    assert (enc.custodian, enc.status, enc.site_country, enc.site_name) == (
        "packco",
        "held",
        "KR",
        "Ulsan",
    )
    attest = next(e for e in scenario.events if e.type == "lot.attest")
    assert (enc.head, enc.time) == (attest.hash, attest.time)


def test_scenario_controlled_blending_shares(scenario: Chain) -> None:
    billet = _lot(scenario, BILLET)
    # 19850 kg post-consumer scrap + 5000 kg virgin ingot
    assert billet.mass_shares["post_consumer"] == Fraction(19850, 24850)
    # weighted by Al mass: 19850*0.962 / (19850*0.962 + 5000*0.997)
    assert billet.element_shares is not None
    assert billet.element_shares["Al"] == {
        "post_consumer": Fraction(Decimal("19095.7")) / Fraction(Decimal("24080.7")),
        "pre_consumer_battery": 0,
        "pre_consumer_other": 0,
    }
    assert billet.element_shares["Si"] == {
        "post_consumer": 1,
        "pre_consumer_battery": 0,
        "pre_consumer_other": 0,
    }
    enc = _lot(scenario, ENCLOSURE)  # losses keep the share
    assert enc.mass_shares == billet.mass_shares
    assert enc.element_shares == {"Al": billet.element_shares["Al"]}


def test_spec_294_kg_credit_example() -> None:
    """spec 7: 300 kg post-consumer Ni + 700 kg virgin Ni -> 980 kg Ni out gives 294 kg."""
    c = scenario_chain()
    state = MemoryState.replay(c.events[:-4])  # up to the mass-balance transform
    assert state.credit(("bwm", "Bartlesville", "Ni", "post_consumer")) == Decimal("294")
    assert state.credit(("bwm", "Bartlesville", "Co", "post_consumer")) == Decimal("200")
    assert state.credit(("bwm", "Bartlesville", "Li", "post_consumer")) == Decimal("350")
    niso4 = state.lot(NISO4)
    assert niso4 is not None and niso4.model == "mass_balance"
    assert sum(niso4.mass_shares.values()) == 0
    assert niso4.element_shares == {"Ni": dict.fromkeys(niso4.mass_shares, Fraction(0))}
    # the allocation moves the credit onto the lot
    after = _lot(c, NISO4)
    assert c.state.credit(("bwm", "Bartlesville", "Ni", "post_consumer")) == 0
    assert after.allocated == {("Ni", "post_consumer"): Decimal("294")}
    assert after.element_shares is not None
    assert after.element_shares["Ni"]["post_consumer"] == Fraction(3, 10)  # 294 / 980
    assert after.mass_shares["post_consumer"] == Fraction(294, 4900)


def test_allocated_share_flows_on_by_blending() -> None:
    c = scenario_chain()
    c.post(
        "bwm",
        "lot.transform",
        {
            "process": "crystallise",
            "site": {"country": "US", "name": "Bartlesville"},
            "inputs": [{"lot": NISO4, "mass_kg": "4900"}],
            "outputs": [
                {
                    "lot": "NI-CRYSTAL",
                    "material": "NiSO4",
                    "mass_kg": "4800",
                    "composition": {"Ni": "0.2"},
                }
            ],
        },
    )
    out = _lot(c, "NI-CRYSTAL")
    assert out.element_shares is not None
    assert out.element_shares["Ni"]["post_consumer"] == Fraction(3, 10)
    assert out.mass_shares["post_consumer"] == Fraction(294, 4900)


def test_records_round_trip_through_json(scenario: Chain) -> None:
    st_ = scenario.state
    for party in st_.parties.values():
        assert Party.from_dict(json.loads(json.dumps(party.to_dict()))) == party
    for key in st_.keys.values():
        assert Key.from_dict(json.loads(json.dumps(key.to_dict()))) == key
    for lot in st_.lots.values():
        again = Lot.from_dict(json.loads(json.dumps(lot.to_dict())))
        assert again == lot and again.to_dict() == lot.to_dict()
    revoked = [k for k in st_.keys.values() if k.revoked_seq is not None]
    assert len(revoked) == 1 and revoked[0].party == "bwm"


def test_apply_is_pure_and_check_signer(scenario: Chain) -> None:
    c = scenario_chain()
    ev = c.make("alus", "lot.adjust", {"lot": BILLET, "mass_kg": "3000", "reason": "scrap"})
    before = c.state.snapshot()
    delta = apply(c.state, ev, seq=c.state.size, now=None)
    assert c.state.snapshot() == before
    assert set(delta.lots) == {BILLET} and delta.lots[BILLET].mass == 3000
    assert delta.lots[BILLET].head == ev.hash
    key = check_signer(c.state, ev, seq=c.state.size)
    assert key.party == "alus" and key.kid == ev.kid


def test_idempotent_repeat() -> None:
    c = registered_chain()
    ev = c.events[-1]
    assert c.state.accept(ev) == Delta.empty()
    assert c.state.size == len(c.events)


# --- every rejection code, named ----------------------------------------------------------------

Case = Callable[[Chain], SignedEvent]


def _wrong_sig(c: Chain) -> SignedEvent:
    unsigned = build_event(
        type="lot.adjust",
        actor="alus",
        kid=key_object(KEYS["alus"])["kid"],
        body={"lot": BILLET, "mass_kg": "1", "reason": "x"},
        prev={BILLET: c.head(BILLET)},
        time="2025-07-01T00:00:00Z",
    )
    return sign_event(unsigned, private_key("mallory"))


def _fork(c: Chain) -> SignedEvent:
    first = c.make("alus", "lot.adjust", {"lot": BILLET, "mass_kg": "3000", "reason": "a"})
    second = c.make("alus", "lot.adjust", {"lot": BILLET, "mass_kg": "2000", "reason": "b"})
    c.state.accept(first)
    return second  # signed against the head `first` replaced


def _ship_billet(c: Chain) -> SignedEvent:
    return c.post("alus", "lot.ship", {"lot": BILLET, "to": "packco", "mass_kg": "3990"})


def _in_transit(then: Case) -> Case:
    def case(c: Chain) -> SignedEvent:
        _ship_billet(c)
        return then(c)

    return case


def _genesis(actor: str, party: str, roles: list[str], signer: str | None = None) -> Case:
    def case(c: Chain) -> SignedEvent:
        fresh = Chain()
        c.state = fresh.state
        body = {
            "party": {"id": party, "name": "Op", "country": "US", "roles": roles, "feoc": False},
            "keys": [key_object(KEYS[party])],
        }
        return fresh.make(actor, "party.register", body, key=KEYS[signer or actor])

    return case


def _register(party: str, pub: bytes | None = None, signer: str = "operator") -> Case:
    def case(c: Chain) -> SignedEvent:
        key = _raw_key(pub) if pub else key_object(private_key(party))
        body = {
            "party": {
                "id": party,
                "name": "N",
                "country": "US",
                "roles": ["producer"],
                "feoc": False,
            },
            "keys": [key],
        }
        return c.make(signer, "party.register", body)

    return case


def _adjust(actor: str, lot: str, mass: str, **kw: Any) -> Case:
    return lambda c: c.make(actor, "lot.adjust", {"lot": lot, "mass_kg": mass, "reason": "r"}, **kw)


def _transform(
    actor: str,
    inputs: dict[str, str],
    outputs: dict[str, tuple[str, Any]],
    model: str | None = None,
) -> Case:
    def case(c: Chain) -> SignedEvent:
        body: dict[str, Any] = {
            "process": "p",
            "site": {"country": "KR", "name": "Ulsan"},
            "inputs": [{"lot": k, "mass_kg": v} for k, v in inputs.items()],
            "outputs": [
                {
                    "lot": k,
                    "material": "m",
                    "mass_kg": m,
                    **({"composition": comp} if comp is not None else {}),
                }
                for k, (m, comp) in outputs.items()
            ],
        }
        if model:
            body["model"] = model
        return c.make(actor, "lot.transform", body)

    return case


def _allocate(lot: str, element: str, kg: str, site: str = "Bartlesville") -> Case:
    return lambda c: c.make(
        "bwm",
        "credit.allocate",
        {"lot": lot, "site": site, "element": element, "category": "post_consumer", "kg": kg},
    )


def _create(actor: str, lot: str) -> Case:
    return lambda c: c.make(
        actor,
        "lot.create",
        {
            "lot": lot,
            "material": "m",
            "mass_kg": "1",
            "source": "virgin",
            "site": {"country": "US"},
        },
    )


def _receive(actor: str, ship: str | None = None, mass: str = "3990") -> Case:
    def case(c: Chain) -> SignedEvent:
        ev = _ship_billet(c)
        return c.make(
            actor, "lot.receive", {"lot": BILLET, "ship": ship or ev.hash, "mass_kg": mass}
        )

    return case


def _duplicate_id(c: Chain) -> SignedEvent:
    used = c.events[-1].id
    return c.make("alus", "lot.adjust", {"lot": BILLET, "mass_kg": "1", "reason": "r"}, id=used)


def _revoke(actor: str, party: str, kid: str) -> Case:
    return lambda c: c.make(actor, "key.revoke", {"party": party, "kid": kid, "reason": "r"})


def _key_add(actor: str, party: str, pub: bytes | None = None) -> Case:
    return lambda c: c.make(
        actor,
        "key.add",
        {"party": party, "key": _raw_key(pub) if pub else key_object(private_key("new"))},
    )


def _genesis_create(c: Chain) -> SignedEvent:
    c.state = MemoryState()
    return _create("bwm", "X")(c)


def _small_cobalt_lot(c: Chain) -> SignedEvent:
    """A 100 kg lot with 20 kg Co while the Co account holds 200 kg."""
    c.post(
        "bwm",
        "lot.create",
        {
            "lot": "CO-SALT",
            "material": "cobalt salt",
            "mass_kg": "100",
            "composition": {"Co": "0.2"},
            "source": "virgin",
            "site": {"country": "US", "name": "Bartlesville"},
        },
    )
    return _allocate("CO-SALT", "Co", "20.5")(c)


def _future(c: Chain) -> SignedEvent:
    return c.make(
        "alus",
        "lot.adjust",
        {"lot": BILLET, "mass_kg": "1", "reason": "r"},
        time=format_time(c.clock + timedelta(seconds=301)),
    )


def _ship(actor: str, lot: str, mass: str, to: str = "packco") -> Case:
    return lambda c: c.make(actor, "lot.ship", {"lot": lot, "to": to, "mass_kg": mass})


BWM2 = key_object(private_key("bwm-2"))["kid"]
REJECTIONS: list[tuple[str, str, Case]] = [
    ("ship-less-than-lot", "invalid_event", _ship("alus", BILLET, "1000")),
    ("receive-names-another-ship", "invalid_event", _receive("packco", ship=H)),
    ("register-existing-party", "invalid_event", _register("bwm")),
    (
        "register-existing-key",
        "invalid_event",
        lambda c: c.make(
            "operator",
            "party.register",
            {
                "party": {
                    "id": "newco",
                    "name": "N",
                    "country": "US",
                    "roles": ["producer"],
                    "feoc": False,
                },
                "keys": [key_object(KEYS["bwm"])],
            },
        ),
    ),
    ("register-small-order-key", "invalid_event", _register("newco", SMALL_ORDER)),
    ("key-add-non-canonical-key", "invalid_event", _key_add("operator", "bwm", NON_CANONICAL)),
    ("key-add-small-order-key", "invalid_event", _key_add("bwm", "bwm", SMALL_ORDER)),
    ("allocate-other-site", "invalid_event", _allocate(RESIDUE, "Co", "1", site="Tulsa")),
    ("signature-by-another-key", "bad_signature", _wrong_sig),
    (
        "actor-not-registered",
        "unknown_party",
        lambda c: c.make(
            "mallory",
            "lot.adjust",
            {"lot": BILLET, "mass_kg": "1", "reason": "r"},
            key=private_key("mallory"),
        ),
    ),
    ("ship-to-unregistered", "unknown_party", _ship("alus", BILLET, "3990", to="nobody")),
    ("key-add-for-unregistered", "unknown_party", _key_add("operator", "nobody")),
    (
        "kid-not-registered",
        "unknown_key",
        _adjust("alus", BILLET, "1", key=private_key("alus-unregistered")),
    ),
    ("kid-of-another-party", "unknown_key", _adjust("alus", BILLET, "1", key=KEYS["bwm"])),
    (
        "genesis-kid-not-in-body",
        "unknown_key",
        _genesis("operator", "operator", ["operator"], signer="bwm"),
    ),
    (
        "revoke-kid-of-another-party",
        "unknown_key",
        _revoke("bwm", "bwm", key_object(KEYS["alus"])["kid"]),
    ),
    (
        "signed-by-revoked-key",
        "key_revoked",
        _adjust("bwm", RESIDUE, "1", key=private_key("bwm-2")),
    ),
    ("revoke-twice", "key_revoked", _revoke("bwm", "bwm", BWM2)),
    ("create-without-role", "forbidden", _create("packco", "PACK-1")),
    (
        "attest-by-non-auditor",
        "forbidden",
        lambda c: c.make("bwm", "lot.attest", {"lot": RESIDUE, "scheme": "s", "statement": "ok"}),
    ),
    ("register-by-non-operator", "forbidden", _register("newco", signer="bwm")),
    # a lot the actor neither holds nor receives is, to it, a lot that does not exist (§4.3)
    ("receive-by-other-party", "unknown_lot", _receive("lab")),
    ("key-add-for-other-party", "forbidden", _key_add("alus", "bwm")),
    ("revoke-for-other-party", "forbidden", _revoke("alus", "bwm", key_object(KEYS["bwm"])["kid"])),
    ("genesis-not-register", "forbidden", _genesis_create),
    ("genesis-not-self-signed", "forbidden", _genesis("bwm", "operator", ["operator"])),
    ("genesis-without-operator-role", "forbidden", _genesis("operator", "operator", ["lab"])),
    ("ship-by-non-custodian", "unknown_lot", _ship("bwm", BILLET, "3990")),
    (
        "receiver-ships-before-receiving",
        "not_custodian",
        _in_transit(_ship("packco", BILLET, "3990")),
    ),
    (
        "transform-foreign-input",
        "unknown_lot",
        _transform("alus", {ENCLOSURE: "1"}, {"X": ("1", None)}),
    ),
    (
        "assay-by-non-lab",
        "unknown_lot",
        lambda c: c.make("auditor", "lot.assay", {"lot": BILLET, "composition": {"Al": "0.9"}}),
    ),
    (
        "allocate-by-non-custodian",
        "unknown_lot",
        lambda c: c.make(
            "alus",
            "credit.allocate",
            {
                "lot": RESIDUE,
                "site": "Bartlesville",
                "element": "Co",
                "category": "post_consumer",
                "kg": "1",
            },
        ),
    ),
    ("wrong-head", "stale_head", _adjust("alus", BILLET, "1", prev={BILLET: H})),
    ("missing-head", "stale_head", _adjust("alus", BILLET, "1", prev={})),
    ("fork-loser", "stale_head", _fork),
    ("create-existing-lot", "lot_exists", _create("bwm", NISO4)),
    (
        "transform-output-exists",
        "lot_exists",
        _transform("alus", {BILLET: "10"}, {ENCLOSURE: ("1", None)}),
    ),
    ("ship-unknown-lot", "unknown_lot", _ship("alus", "NO-SUCH-LOT", "1")),
    (
        "transform-unknown-input",
        "unknown_lot",
        _transform("alus", {BILLET: "1", "NO-SUCH-LOT": "1"}, {"X": ("1", None)}),
    ),
    ("adjust-in-transit", "in_transit", _in_transit(_adjust("alus", BILLET, "1"))),
    ("ship-in-transit", "in_transit", _in_transit(_ship("alus", BILLET, "3990"))),
    (
        "transform-in-transit",
        "in_transit",
        _in_transit(_transform("alus", {BILLET: "1"}, {"X": ("1", None)})),
    ),
    (
        "receive-held-lot",
        "not_in_transit",
        lambda c: c.make("packco", "lot.receive", {"lot": ENCLOSURE, "ship": H, "mass_kg": "1"}),
    ),
    ("ship-more-than-held", "overdraw", _ship("alus", BILLET, "3990.000001")),
    ("ship-consumed-lot", "overdraw", _ship("alus", SCRAP, "1")),
    (
        "transform-more-than-held",
        "overdraw",
        _transform("alus", {BILLET: "3991"}, {"X": ("1", None)}),
    ),
    ("receive-more-than-shipped", "overdraw", _receive("packco", mass="3991")),
    ("allocate-element-not-in-lot", "overdraw", _allocate(NISO4, "Li", "1")),
    ("allocate-above-element-mass", "overdraw", _small_cobalt_lot),
    (
        "outputs-heavier-than-inputs",
        "mass_not_conserved",
        _transform("alus", {BILLET: "1000"}, {"X": ("600", None), "Y": ("400.001", None)}),
    ),
    (
        "element-mass-created",
        "mass_not_conserved",
        _transform("alus", {BILLET: "1000"}, {"X": ("1000", {"Al": "0.98"})}),
    ),
    ("adjust-raises-mass", "mass_not_conserved", _adjust("alus", BILLET, "3990.5")),
    (
        "time-goes-back-on-lot",
        "bad_time",
        _adjust("alus", BILLET, "1", time="2025-06-01T09:00:00Z"),
    ),
    ("reused-event-id", "duplicate_id", _duplicate_id),
    ("allocate-without-credits", "insufficient_credits", _allocate(NISO4, "Ni", "0.000001")),
    ("allocate-above-balance", "insufficient_credits", _allocate(RESIDUE, "Li", "350.000001")),
]


@pytest.mark.parametrize(
    ("code", "case"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_rejection(code: str, case: Case) -> None:
    c = scenario_chain()
    ev = case(c)
    err = _refused(c, ev, code)
    assert err.message and len(err.message) > 30


def test_every_spec_code_has_a_named_negative_test() -> None:
    assert {code for _, code, _ in REJECTIONS} == RULE_CODES


def test_clock_skew_is_bad_time() -> None:
    c = scenario_chain()
    now = c.clock
    err = _refused(c, _future(c), "bad_time", now=now)
    assert "ahead of the ledger clock" in err.message
    ok = c.make(
        "alus",
        "lot.adjust",
        {"lot": BILLET, "mass_kg": "1", "reason": "r"},
        time=format_time(c.clock + timedelta(seconds=300)),
    )
    c.state.accept(ok, now=now)
    late = RuleConfig(max_future_seconds=10**6)
    c.state.accept(_future(c), now=now, config=late)


def test_skip_signature_check_when_verified_elsewhere() -> None:
    c = scenario_chain()
    c.state.accept(_wrong_sig(c), verify_signature=False)


# --- custody details and choices ----------------------------------------------------------------


def test_receive_zero_and_adjust_zero_consume() -> None:
    c = scenario_chain()
    ship = _ship_billet(c)
    c.post("packco", "lot.receive", {"lot": BILLET, "ship": ship.hash, "mass_kg": "0"})
    lot = _lot(c, BILLET)
    assert (lot.status, lot.mass, lot.custodian, lot.transit_to) == ("consumed", 0, "packco", None)
    c.post("bwm", "lot.adjust", {"lot": RESIDUE, "mass_kg": "0", "reason": "spill"})
    assert _lot(c, RESIDUE).status == "consumed"


def test_ship_then_receive_moves_custody() -> None:
    c = scenario_chain()
    ship = _ship_billet(c)
    lot = _lot(c, BILLET)
    assert (lot.status, lot.custodian, lot.transit_to, lot.transit_ship) == (
        "in_transit",
        "alus",
        "packco",
        ship.hash,
    )
    c.post("lab", "lot.assay", {"lot": BILLET, "composition": {"Al": "0.96"}})  # allowed
    c.post("packco", "lot.receive", {"lot": BILLET, "ship": ship.hash, "mass_kg": "3980"})
    lot = _lot(c, BILLET)
    assert (lot.status, lot.custodian, lot.mass) == ("held", "packco", Decimal("3980"))


def test_element_tolerance_is_configurable() -> None:
    c = scenario_chain()
    # billet Al: 1000 kg * 0.97 = 970 kg; output 974.85 kg = 970 * 1.005 exactly
    ev = _transform("alus", {BILLET: "1000"}, {"X": ("1000", {"Al": "0.97485"})})(c)
    _refused(c, ev, "mass_not_conserved", config=RuleConfig(tolerance=Decimal("0.001")))
    c.state.accept(ev)


def test_unknown_composition_makes_element_shares_unknown() -> None:
    c = scenario_chain()
    c.post(
        "alus",
        "lot.create",
        {
            "lot": "MYSTERY",
            "material": "mixed scrap",
            "mass_kg": "100",
            "source": "pre_consumer_other",
            "site": {"country": "KR"},
        },
    )
    assert _lot(c, "MYSTERY").element_shares is None
    # the element check is skipped: an input composition is unknown
    c.post(
        "alus",
        "lot.transform",
        {
            "process": "p",
            "site": {"country": "KR", "name": "Ulsan"},
            "inputs": [{"lot": BILLET, "mass_kg": "100"}, {"lot": "MYSTERY", "mass_kg": "100"}],
            "outputs": [
                {"lot": "MIX", "material": "m", "mass_kg": "150", "composition": {"Al": "1"}}
            ],
        },
    )
    mix = _lot(c, "MIX")
    assert mix.element_shares == {"Al": None}
    assert mix.mass_shares["pre_consumer_other"] == Fraction(1, 2)
    # an assay keeps the unknown share and adds new elements of a blended lot as unknown
    c.post("lab", "lot.assay", {"lot": "MIX", "composition": {"Al": "0.9", "Mg": "0.01"}})
    assert _lot(c, "MIX").element_shares == {"Al": None, "Mg": None}


def test_assay_shares_of_created_and_mass_balance_lots() -> None:
    c = scenario_chain()
    c.post("lab", "lot.assay", {"lot": RESIDUE, "composition": {"Co": "0.04", "Mn": "0.01"}})
    zero = {"post_consumer": 0, "pre_consumer_battery": 0, "pre_consumer_other": 0}
    assert _lot(c, RESIDUE).element_shares == {"Co": zero, "Mn": zero}
    c.post(
        "bwm",
        "lot.create",
        {
            "lot": "SWARF",
            "material": "swarf",
            "mass_kg": "10",
            "source": "pre_consumer_battery",
            "site": {"country": "US"},
        },
    )
    c.post("bwm", "lot.assay", {"lot": "SWARF", "composition": {"Cu": "0.5"}})
    assert _lot(c, "SWARF").element_shares == {"Cu": {**zero, "pre_consumer_battery": 1}}


def test_allocation_bounded_by_virgin_mass() -> None:
    c = scenario_chain()
    c.post(
        "bwm",
        "credit.allocate",
        {
            "lot": RESIDUE,
            "site": "Bartlesville",
            "element": "Co",
            "category": "post_consumer",
            "kg": "150",
        },
    )
    lot = _lot(c, RESIDUE)
    assert lot.element_shares is not None
    assert lot.element_shares["Co"]["post_consumer"] == Fraction(150, 200)
    assert c.state.credit(("bwm", "Bartlesville", "Co", "post_consumer")) == 50
    err = _refused(c, _allocate(RESIDUE, "Co", "50.000001")(c), "insufficient_credits")
    assert "50" in err.message
    c.post(
        "bwm",
        "credit.allocate",
        {
            "lot": RESIDUE,
            "site": "Bartlesville",
            "element": "Co",
            "category": "post_consumer",
            "kg": "50",
        },
    )
    assert _lot(c, RESIDUE).element_shares["Co"]["post_consumer"] == 1  # type: ignore[index]


def test_key_lifecycle_operator_and_party() -> None:
    c = scenario_chain()
    new = private_key("alus-2")
    c.post("operator", "key.add", {"party": "alus", "key": key_object(new)})
    c.post("alus", "lot.adjust", {"lot": BILLET, "mass_kg": "3000", "reason": "r"}, key=new)
    c.post(
        "operator",
        "key.revoke",
        {
            "party": "alus",
            "kid": key_object(new)["kid"],
            "reason": "leaked",
            "compromised_since": "2025-06-01T00:00:00Z",
        },
    )
    key = c.state.key(key_object(new)["kid"])
    assert key is not None and key.revoked_seq == c.state.size - 1
    assert key.compromised_since == "2025-06-01T00:00:00Z"
    _refused(c, _adjust("alus", BILLET, "1", key=new)(c), "key_revoked")
    # a party may revoke the very key it signs with
    c.post(
        "alus",
        "key.revoke",
        {"party": "alus", "kid": key_object(KEYS["alus"])["kid"], "reason": "retired"},
    )
    _refused(c, _adjust("alus", BILLET, "1")(c), "key_revoked")


def test_genesis_only_once() -> None:
    fresh = Chain()
    assert fresh.state.is_genesis()
    fresh.register("operator")
    assert not fresh.state.is_genesis()
    assert fresh.state.party("operator") == Party(
        "operator", "LTL Operator", "US", frozenset({"operator"}), False, 0
    )


# --- Hypothesis: random histories ---------------------------------------------------------------

ACTORS = ["bwm", "alus", "packco"]
#: who signs: usually the lot's custodian (or, for a receive, its receiver), sometimes anyone
_who = st.sampled_from(["custodian"] * 6 + ACTORS)
_pick = st.integers(0, 1000)  # index into the existing lots (the last slot: a lot that is not)
_pct = st.integers(0, 110)
_create_op = st.tuples(
    st.just("create"),
    st.sampled_from(["bwm", "alus", "packco"]),
    st.integers(0, 3),
    st.integers(1, 10_000),
    st.booleans(),
    st.sampled_from(["virgin", "post_consumer", "pre_consumer_other"]),
)
_ship_op = st.tuples(
    st.just("ship"),
    _who,
    _pick,
    st.sampled_from([*ACTORS, "nobody"]),
    st.sampled_from([0, 0, 0, 1, -1]),
    st.one_of(st.none(), _pct),
)
_receive_op = st.tuples(st.just("receive"), _who, _pick, _pct, st.sampled_from([True, True, False]))
_transform_op = st.tuples(
    st.just("transform"),
    _who,
    st.lists(_pick, min_size=1, max_size=2),
    _pct,
    st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True),
    st.one_of(st.integers(1, 100), st.integers(100, 120)),
    st.sampled_from(["controlled_blending", "mass_balance"]),
    st.integers(0, 95),
)
_adjust_op = st.tuples(st.just("adjust"), _who, _pick, _pct)
_allocate_op = st.tuples(st.just("allocate"), _who, _pick, st.integers(1, 2000))
_ops = st.one_of(
    _create_op,
    _ship_op,
    _ship_op,
    _receive_op,
    _receive_op,
    _transform_op,
    _transform_op,
    _adjust_op,
    _allocate_op,
)
_heads = st.sampled_from(["fresh"] * 6 + ["stale", "missing", "back"])


def _pct_of(mass: Decimal, pct: int) -> str:
    return format_mass((mass * pct / 100).quantize(Decimal("0.001")))


def _body(c: Chain, op: tuple[Any, ...]) -> tuple[str, str, dict[str, Any]]:
    """Turn a drawn op into (actor, type, body) against the current state."""
    existing = sorted(c.state.lots)

    def pick(i: int, status: str = "held") -> str:
        """Mostly a lot of that status, sometimes any lot, rarely one that does not exist."""
        fit = [lot for lot in existing if c.state.lots[lot].status == status]
        pool = fit if fit and i % 4 else existing
        return "NOPE" if i % 50 == 49 or not pool else pool[i % len(pool)]

    def mass(lot: str) -> Decimal:
        found = c.state.lot(lot)
        return found.mass if found else Decimal(5)

    def who(sel: str, lot: str, *, receive: bool = False) -> str:
        found = c.state.lot(lot)
        if sel != "custodian" or found is None:
            return sel if sel != "custodian" else "bwm"
        return (found.transit_to or found.custodian) if receive else found.custodian

    kind = op[0]
    if kind == "arrive":  # the receiver of a pending ship receives pct of it
        _, lot, pct = op
        found = c.state.lots[lot]
        assert found.transit_to is not None and found.transit_ship is not None
        return (
            found.transit_to,
            "lot.receive",
            {"lot": lot, "ship": found.transit_ship, "mass_kg": _pct_of(found.mass, pct)},
        )
    if kind == "create":
        _, actor, n, kg, comp, source = op
        body = {
            "lot": f"L{n}-{len(c.events)}" if n else "L0",
            "material": "m",
            "mass_kg": str(kg),
            "source": source,
            "site": {"country": "US", "name": "S"},
        }
        if comp:
            body["composition"] = {"Al": "0.9", "Si": "0.05"}
        return actor, "lot.create", body
    if kind == "ship":
        _, sel, i, to, delta, _ = op
        lot = pick(i)
        return who(sel, lot), "lot.ship", {"lot": lot, "to": to, "mass_kg": str(mass(lot) + delta)}
    if kind == "receive":
        _, sel, i, pct, right = op
        lot = pick(i, "in_transit")
        found = c.state.lot(lot)
        ship = found.transit_ship if found and found.transit_ship and right else H
        return (
            who(sel, lot, receive=True),
            "lot.receive",
            {"lot": lot, "ship": ship, "mass_kg": _pct_of(mass(lot), pct)},
        )
    if kind == "transform":
        _, sel, picks, pct, outs, out_pct, model, al = op
        ins = list(dict.fromkeys(pick(i) for i in picks))
        consumed = [Decimal(_pct_of(mass(lot), pct)) for lot in ins]
        share = sum(consumed, Decimal(0)) * out_pct / 100 / len(outs)
        outputs = [
            {
                "lot": f"T{n}-{len(c.events)}" if n else "L0",
                "material": "m",
                "mass_kg": format_mass(share.quantize(Decimal("0.001"))),
                "composition": {"Al": str(Decimal(al) / 100)},
            }
            for n in outs
        ]
        return (
            who(sel, ins[0]),
            "lot.transform",
            {
                "process": "p",
                "site": {"country": "US", "name": "S"},
                "model": model,
                "inputs": [
                    {"lot": lot, "mass_kg": str(kg)} for lot, kg in zip(ins, consumed, strict=True)
                ],
                "outputs": outputs,
            },
        )
    if kind == "adjust":
        _, sel, i, pct = op
        lot = pick(i)
        return (
            who(sel, lot),
            "lot.adjust",
            {"lot": lot, "mass_kg": _pct_of(mass(lot), pct), "reason": "r"},
        )
    _, sel, i, kg = op
    accounts = sorted(a for a, b in c.state.credits.items() if b > 0)
    if sel == "custodian" and accounts:  # a party with credits, onto one of its lots
        party, site, element, category = accounts[i % len(accounts)]
        mine = [lot for lot in existing if c.state.lots[lot].custodian == party]
        lot = mine[i % len(mine)] if mine else pick(i)
        part = c.state.credits[(party, site, element, category)] * (kg % 100 + 1) / 100
        return (
            party,
            "credit.allocate",
            {
                "lot": lot,
                "site": site,
                "element": element,
                "category": category,
                "kg": format_mass(part.quantize(Decimal("0.001"), rounding=ROUND_DOWN)),
            },
        )
    lot = pick(i)
    return (
        who(sel, lot),
        "credit.allocate",
        {
            "lot": lot,
            "site": "S",
            "element": "Al",
            "category": "post_consumer",
            "kg": str(Decimal(kg) / 10),
        },
    )


Accepted = list[tuple[SignedEvent, MemoryState, Delta]]


def _run(ops: list[tuple[tuple[Any, ...], str]]) -> tuple[Chain, Accepted]:
    """Play random ops after three seed lots; keep what ``accept`` accepts, with the state
    before each and its delta."""
    c = registered_chain()
    seed = [
        ("create", "bwm", 1, 1000, True, "post_consumer"),
        ("create", "alus", 2, 3000, True, "virgin"),
        ("create", "bwm", 3, 500, False, "pre_consumer_other"),
    ]
    heads: dict[str, list[str]] = {}
    accepted: Accepted = []
    todo = [(o, "fresh") for o in seed] + list(ops)
    while todo:
        op, head_mode = todo.pop(0)
        try:
            actor, type_, body = _body(c, op)
            prev = None
            kw: dict[str, Any] = {}
            if head_mode in ("stale", "missing"):
                lots = touched_lots(type_, body)
                prev = (
                    {}
                    if head_mode == "missing"
                    else {lot: (heads.get(lot) or [H])[0] for lot in lots}
                )
            if head_mode == "back":
                kw["time"] = format_time(T0 - timedelta(days=1))
            ev = c.make(actor, type_, body, prev=prev, **kw)
        except RuleViolation as e:
            assert e.code == "invalid_event"
            continue
        before = _copy(c.state)
        try:
            delta = c.state.accept(ev)
        except RuleViolation as e:
            assert e.code in RULE_CODES
            continue
        c.events.append(ev)
        accepted.append((ev, before, delta))
        for lot in (*ev.lots_touched, *ev.lots_created):
            heads.setdefault(lot, []).append(ev.hash)
        if op[0] == "ship" and op[-1] is not None:  # the receiver takes it in at once
            todo.insert(0, (("arrive", body["lot"], op[-1]), "fresh"))
    return c, accepted


def _copy(state: MemoryState) -> MemoryState:
    new = MemoryState()
    new.parties, new.keys = dict(state.parties), dict(state.keys)
    new.lots, new.credits = dict(state.lots), dict(state.credits)
    new.event_ids, new.size = dict(state.event_ids), state.size
    return new


_histories = st.lists(st.tuples(_ops, _heads), min_size=8, max_size=40)
_settings = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_settings
@given(_histories)
def test_property_replay_is_deterministic(ops: list[tuple[tuple[Any, ...], str]]) -> None:
    c, _ = _run(ops)
    replayed = MemoryState.replay(parse_event(ev.canonical) for ev in c.events)
    assert replayed == c.state
    for lot in c.state.lots.values():
        assert Lot.from_dict(json.loads(json.dumps(lot.to_dict()))) == lot


@_settings
@given(_histories)
def test_property_mass_is_never_created(ops: list[tuple[tuple[Any, ...], str]]) -> None:
    _, accepted = _run(ops)
    for ev, before, delta in accepted:
        for lot_id, lot in delta.lots.items():
            assert lot.mass >= 0
            assert (lot.status == "consumed") == (lot.mass == 0)
            old = before.lot(lot_id)
            if old is not None:
                assert lot.mass <= old.mass
            for shares in [lot.mass_shares, *(lot.element_shares or {}).values()]:
                if shares is not None:
                    assert all(v >= 0 for v in shares.values()) and sum(shares.values()) <= 1
        if ev.type == "lot.transform":
            taken = sum(
                (
                    _old(before, i["lot"]).mass - delta.lots[i["lot"]].mass
                    for i in ev.body["inputs"]
                ),
                Decimal(0),
            )
            made = sum((Decimal(o["mass_kg"]) for o in ev.body["outputs"]), Decimal(0))
            assert made <= taken
        assert all(v >= 0 for v in delta.credits.values())


def _old(state: MemoryState, lot: str) -> Lot:
    found = state.lot(lot)
    assert found is not None
    return found


@_settings
@given(_histories)
def test_property_no_fork(ops: list[tuple[tuple[Any, ...], str]]) -> None:
    c, accepted = _run(ops)
    seen: set[tuple[str, str]] = set()
    for ev, _, _ in accepted:
        for lot, head in ev.prev.items():
            assert (lot, head) not in seen
            seen.add((lot, head))
    # and every lot's chain is linear: each prev head is the previous event on that lot
    last: dict[str, str] = {}
    for ev, _, _ in accepted:
        for lot, head in ev.prev.items():
            assert last[lot] == head
        for lot in (*ev.lots_touched, *ev.lots_created):
            last[lot] = ev.hash
    for lot, head in last.items():
        assert _lot(c, lot).head == head


def test_parse_time_used_for_ordering() -> None:
    # "…00Z" and "…00.5Z" compare as instants, not as strings
    assert parse_time("2025-06-01T00:00:00.5Z") > parse_time("2025-06-01T00:00:00Z")
