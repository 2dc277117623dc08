"""Issue 8, "trust at the edges": one regression test per finding about what a partner sees, what
a compromised key can still do and what one partner's input can do to the others.

Each test names its finding (A1, B4, ...). Where storage is involved the test runs on SQLite and
PostgreSQL (the ``db_url`` fixture); the hostile corpus runs on both in one test and compares.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import ledger.store.sql as sql_module
from ledger.audit.verify import verify_bundle
from ledger.core import canonical
from ledger.core.events import SIGNING_PREFIX, SignedEvent, sign
from ledger.core.keys import b64url_encode, key_object
from ledger.core.rules import RuleConfig
from ledger.core.values import format_mass, format_time
from ledger.errors import RuleViolation, StorageError
from ledger.service import Ledger
from ledger.store.protocol import AppendBatch
from tests.api.test_api import LATE, Env, app_env, assert_problem
from tests.support.ledgers import NOW, dump, open_ledger, tamper
from tests.support.scenario import (
    BILLET,
    ENCLOSURE,
    KEYS,
    PRIMARY,
    SCRAP,
    US_SITE,
    private_key,
    scenario_events,
)


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with app_env(db_url, auth_failures_per_minute=10_000) as e:
        yield e


def _create_body(lot: str, *, mass: str = "1", material: str = "scrap") -> dict[str, Any]:
    """The body of a ``lot.create`` of post-consumer material at the US site."""
    return {
        "lot": lot,
        "material": material,
        "mass_kg": mass,
        "source": "post_consumer",
        "site": US_SITE,
    }


def _fsck_clean(led: Ledger) -> None:
    report = led.fsck()
    assert report.ok, report.to_text()


def _signed(
    actor: str,
    type_: str,
    body: dict[str, Any],
    prev: dict[str, str] | None = None,
    *,
    time: str = LATE,
    key: Any = None,
) -> SignedEvent:
    return sign(
        type=type_, actor=actor, key=key or KEYS[actor], body=body, prev=prev or {}, time=time
    )


# --------------------------------------------------------------------------- A1


def _raw(actor: str, type_: str, body: dict[str, Any], prev: dict[str, str] | None = None) -> bytes:
    """A signed event as a hostile client builds it, with none of the SDK's own checks."""
    env = {
        "ltl": 1,
        "id": str(uuid.uuid4()),
        "type": type_,
        "actor": actor,
        "kid": key_object(KEYS[actor])["kid"],
        "time": LATE,
        "prev": prev or {},
        "body": body,
    }
    sig = b64url_encode(KEYS[actor].sign(SIGNING_PREFIX + canonical.jcs(env)))
    return json.dumps({**env, "sig": sig}, ensure_ascii=False).encode()


def _hostile_corpus() -> list[tuple[str, bytes | SignedEvent]]:
    """Events a hostile partner (bwm) posts: each must be refused at parse time, identically
    on every backend, or (the last ones) accepted by both."""
    cjk = "가" * 4000  # 12,000 bytes: once outgrew PostgreSQL's index row in credits
    fits = "가" * 341  # 1,023 bytes: the longest site name a mass-balance credit may carry

    def lot_body(lot: str, material: str = "scrap", site: Any = None) -> dict[str, Any]:
        return {
            "lot": lot,
            "material": material,
            "mass_kg": "100",
            "source": "post_consumer",
            "site": site or US_SITE,
            "composition": {"Ni": "0.1"},
        }

    def balance(lot: str, out: str, site_name: str, head: str) -> dict[str, Any]:
        return {
            "process": "refine",
            "model": "mass_balance",
            "site": {"country": "US", "name": site_name},
            "inputs": [{"lot": lot, "mass_kg": "100"}],
            "outputs": [
                {"lot": out, "material": "Ni", "mass_kg": "10", "composition": {"Ni": "1"}}
            ],
        }

    base = _signed("bwm", "lot.create", lot_body("HOSTILE-BASE"))
    ok = _signed("bwm", "lot.create", lot_body("HOSTILE-OK"))
    create = "lot.create"
    return [
        ("nul", _raw("bwm", create, lot_body("H-NUL", material="scrap\u0000"))),
        ("c0-tab", _raw("bwm", create, lot_body("H-TAB", material="a\tb"))),
        ("c1", _raw("bwm", create, lot_body("H-C1", material="scrap\u0085"))),
        ("bidi-override", _raw("bwm", create, lot_body("H-BIDI", material="\u202escrap"))),
        ("bidi-isolate", _raw("bwm", create, lot_body("H-ISO", material="scrap\u2069"))),
        (
            "huge-cjk-site",
            _raw("bwm", create, lot_body("H-CJK", site={"country": "US", "name": cjk})),
        ),
        ("1025-bytes", _raw("bwm", create, lot_body("H-LONG", material="m" * 1025))),
        ("base", base),
        (
            "huge-cjk-credit-site",
            _raw(
                "bwm",
                "lot.transform",
                balance("HOSTILE-BASE", "H-OUT-1", cjk, base.hash),
                {"HOSTILE-BASE": base.hash},
            ),
        ),
        ("ok", ok),
        (
            "fits-credit-site",
            _signed(
                "bwm",
                "lot.transform",
                balance("HOSTILE-OK", "H-OUT-2", fits, ok.hash),
                {"HOSTILE-OK": ok.hash},
            ),
        ),
    ]


@pytest.fixture
def both_backends(tmp_path: Path, pg_url: str) -> dict[str, str]:
    return {"sqlite": f"sqlite:///{tmp_path}/ledger.db", "postgresql": pg_url}


@pytest.mark.postgres
def test_a1_hostile_text_gets_the_same_answer_on_both_backends(
    both_backends: dict[str, str],
) -> None:
    outcomes: dict[str, list[tuple[str, int, str]]] = {}
    for backend, url in both_backends.items():
        with app_env(url) as env:
            seen = []
            for name, ev in _hostile_corpus():
                resp = env.post_event(ev, env.partner["bwm"])
                seen.append((name, resp.status_code, resp.json().get("code", "")))
            outcomes[backend] = seen
            _fsck_clean(env.ledger)
    assert outcomes["sqlite"] == outcomes["postgresql"]
    by_name = {name: (status, code) for name, status, code in outcomes["sqlite"]}
    for name in (
        "nul",
        "c0-tab",
        "c1",
        "bidi-override",
        "bidi-isolate",
        "huge-cjk-site",
        "1025-bytes",
        "huge-cjk-credit-site",
    ):
        assert by_name[name] == (400, "invalid_event"), name
    for name in ("base", "ok", "fits-credit-site"):
        assert by_name[name][0] == 201, name


def test_a1_a_group_commit_the_database_refuses_fails_only_the_event_it_refuses(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the database still refuses a group (a limit validation missed), the writer retries
    its events one by one: only the event the database refuses fails."""
    with open_ledger(db_url) as led:
        for ev in scenario_events():
            led.append(ev)
        real = sql_module._Txn.append

        def append(self: Any, batch: AppendBatch) -> None:
            if any(b"POISON" in rec.canonical for rec in batch.events):
                raise StorageError("value too long for type character varying (simulated)")
            real(self, batch)

        monkeypatch.setattr(sql_module._Txn, "append", append)
        events = [
            _signed(
                "bwm" if i % 2 else "alus",
                "lot.create",
                _create_body(f"GROUP-{i}" if i != 7 else "POISON-7"),
            )
            for i in range(20)
        ]
        size = led.size()
        results = led.append_many(events)
        failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
        assert failed == [7]
        assert isinstance(results[7], StorageError)
        assert led.size() == size + 19
        monkeypatch.setattr(sql_module._Txn, "append", real)
        _fsck_clean(led)


# --------------------------------------------------------------------------- B4


def test_b4_a_prior_holder_sees_a_lot_only_up_to_the_receive_that_ended_its_custody(
    env: Env,
) -> None:
    """bwm shipped the scrap to alus, who melted it with its own primary aluminium: bwm sees
    the scrap up to alus's receive, and nothing of the melt or of the primary lot."""
    bwm = env.partner["bwm"]
    chain = env.ledger.chain(SCRAP)
    receive_seq = next(seq for seq, ev in chain if ev.type == "lot.receive")
    melt = next(ev for _, ev in chain if ev.type == "lot.transform")
    lot = env.get(f"/v1/lots/{SCRAP}", bwm).json()
    assert (lot["custodian"], lot["status"], lot["mass_kg"]) == ("alus", "held", "19850")
    events = env.get(f"/v1/lots/{SCRAP}/events", bwm).json()["items"]
    assert events[-1]["seq"] == receive_seq
    bundle = env.get(f"/v1/lots/{SCRAP}/bundle", bwm).json()
    assert max(e["seq"] for e in bundle["entries"] if "lot" in e["event"]["body"]) <= receive_seq
    bodies = json.dumps([e["event"] for e in bundle["entries"]])
    assert PRIMARY not in bodies and melt.hash not in bodies
    report = verify_bundle(bundle, env.ledger.log_signer.verifier)
    assert report.ok, report.to_text()
    for path in (f"/v1/lots/{PRIMARY}", f"/v1/lots/{BILLET}", f"/v1/events/{melt.hash}"):
        assert_problem(env.get(path, bwm), 404, "not_found")
    # the receiver still sees all of it, the auditor too
    assert (
        env.get(f"/v1/lots/{SCRAP}/events", env.partner["alus"]).json()["items"][-1]["seq"]
        == chain[-1][0]
    )


# --------------------------------------------------------------------------- B5


def _ship_billet(env: Env, to: str) -> SignedEvent:
    """alus ships what is left of the billet to ``to``."""
    billet = env.ledger.lot(BILLET)
    body = {"lot": BILLET, "to": to, "mass_kg": format_mass(billet.mass)}
    ship = _signed("alus", "lot.ship", body, {BILLET: billet.head})
    assert env.post_event(ship, env.partner["alus"]).status_code == 201
    return ship


def test_b5_list_filters_test_the_state_the_caller_may_see(env: Env) -> None:
    """After alus ships the rest of the billet to bwm, packco (which sees the billet as it was
    when its enclosures were extruded from it) must not find it in transit."""
    _ship_billet(env, "bwm")

    def listed(token: str, query: str) -> dict[str, dict[str, Any]]:
        return {x["lot"]: x for x in env.get(f"/v1/lots?{query}", token).json()["items"]}

    packco, bwm = env.partner["packco"], env.partner["bwm"]
    assert BILLET not in listed(packco, "status=in_transit")
    held = listed(packco, "status=held")
    assert held[BILLET]["status"] == "held" and held[BILLET]["custodian"] == "alus"
    assert BILLET in listed(packco, "custodian=alus")
    assert BILLET not in listed(packco, "custodian=bwm")
    assert listed(bwm, "status=in_transit")[BILLET]["status"] == "in_transit"
    assert listed(env.auditor, "status=in_transit")[BILLET]["custodian"] == "alus"


# --------------------------------------------------------------------------- B6


def test_b6_refusals_about_a_hidden_lot_are_those_of_a_missing_lot(env: Env) -> None:
    """Whatever bwm sends about a lot outside its view, the answer is byte for byte the answer
    for a lot id that does not exist: no holder, state, head, time or receiver."""
    billet = env.ledger.lot(BILLET)
    ship = _ship_billet(env, "packco")
    primary, enclosure = env.ledger.lot(PRIMARY), env.ledger.lot(ENCLOSURE)
    early = "2025-01-01T00:00:00Z"

    def probes(hidden: str, head: str, mass: str) -> list[tuple[str, str, dict[str, Any], str]]:
        return [
            ("bwm", "lot.ship", {"lot": hidden, "to": "bwm", "mass_kg": mass}, head),
            ("bwm", "lot.ship", {"lot": hidden, "to": "bwm", "mass_kg": mass}, "0" * 64),
            ("bwm", "lot.adjust", {"lot": hidden, "mass_kg": "1", "reason": "x"}, head),
            ("bwm", "lot.receive", {"lot": hidden, "ship": "0" * 64, "mass_kg": "1"}, head),
            (
                "bwm",
                "credit.allocate",
                {
                    "lot": hidden,
                    "site": "",
                    "element": "Al",
                    "category": "post_consumer",
                    "kg": "1",
                },
                head,
            ),
            ("lab", "lot.assay", {"lot": hidden, "composition": {"Al": "0.5"}}, "0" * 64),
        ]

    cases = [
        (PRIMARY, primary.head, "1", LATE),  # held by alus (consumed)
        (ENCLOSURE, enclosure.head, format_mass(enclosure.mass), early),  # bad time too
        (BILLET, ship.hash, format_mass(billet.mass), LATE),  # in transit to packco
    ]
    for hidden, head, mass, time in cases:
        for actor, type_, body, prev_head in probes(hidden, head, mass):
            missing_id = "NO-SUCH-" + hidden
            ev = _signed(actor, type_, body, {hidden: prev_head}, time=time)
            body2 = json.loads(json.dumps(body).replace(hidden, missing_id))
            ev2 = _signed(actor, type_, body2, {missing_id: prev_head}, time=time)
            token = env.partner[actor]
            got, want = env.post_event(ev, token), env.post_event(ev2, token)
            assert got.status_code == want.status_code == 422, (hidden, type_, got.text)
            assert got.content == want.content.replace(missing_id.encode(), hidden.encode()), (
                hidden,
                type_,
            )
    # a transform with one hidden input: refused on that input, as if it did not exist
    mine = env.create("B6-MINE")
    assert env.post_event(mine, env.partner["bwm"]).status_code == 201
    transform = {
        "process": "melt",
        "site": US_SITE,
        "inputs": [{"lot": "B6-MINE", "mass_kg": "1"}, {"lot": PRIMARY, "mass_kg": "1"}],
        "outputs": [{"lot": "B6-OUT", "material": "x", "mass_kg": "1"}],
    }
    resp = env.post_event(
        _signed("bwm", "lot.transform", transform, {"B6-MINE": mine.hash, PRIMARY: primary.head}),
        env.partner["bwm"],
    )
    body = assert_problem(resp, 422, "unknown_lot")
    assert "alus" not in body["detail"]
    # the lot's own parties still get the informative refusals
    stale = _signed(
        "packco",
        "lot.receive",
        {"lot": BILLET, "ship": ship.hash, "mass_kg": "1"},
        {BILLET: "0" * 64},
    )
    detail = assert_problem(env.post_event(stale, env.partner["packco"]), 409, "stale_head")
    assert ship.hash in detail["detail"]
    _fsck_clean(env.ledger)


# --------------------------------------------------------------------------- B7


def test_b7_lot_ids_with_dot_segments_are_refused(env: Env) -> None:
    def create(lot: str) -> bytes:
        body = _create_body(lot)
        return _raw("bwm", "lot.create", body)

    for lot in ("P/../X", "P/./X", "P/..", "P/."):
        body = assert_problem(env.post_event(create(lot), env.partner["bwm"]), 400)
        assert body["code"] == "invalid_event" and "path segment" in body["detail"]
    for lot in ("P/.../X", "P/.x", "P/..x/y"):
        assert env.post_event(create(lot), env.partner["bwm"]).status_code == 201, lot
    # reads: such a path names no lot
    assert_problem(env.get("/v1/lots/P%2F..%2FX", env.auditor), 404, "not_found")


def test_b7_a_claimed_lot_id_prefix_belongs_to_its_owner(env: Env) -> None:
    prefix = "urn:epc:id:sgtin:8801234."
    claim = _signed("operator", "party.claim", {"party": "alus", "prefixes": [prefix]})
    # only the operator confirms a claim
    self_claim = _signed("bwm", "party.claim", {"party": "bwm", "prefixes": ["urn:epc:"]})
    assert_problem(env.post_event(self_claim, env.partner["bwm"]), 403, "forbidden")
    assert env.post_event(claim, env.admin).status_code == 201
    squat = env.create(prefix + "012345.1", actor="bwm")
    body = assert_problem(env.post_event(squat, env.partner["bwm"]), 403, "forbidden")
    assert prefix in body["detail"] and "alus" in body["detail"]
    assert (
        env.post_event(
            env.create(prefix + "012345.1", actor="alus"), env.partner["alus"]
        ).status_code
        == 201
    )
    # a transform output under the prefix is squatting too
    mine = env.create("B7-MINE")
    assert env.post_event(mine, env.partner["bwm"]).status_code == 201
    transform = {
        "process": "melt",
        "site": US_SITE,
        "inputs": [{"lot": "B7-MINE", "mass_kg": "1"}],
        "outputs": [{"lot": prefix + "9", "material": "x", "mass_kg": "1"}],
    }
    out = _signed("bwm", "lot.transform", transform, {"B7-MINE": mine.hash})
    assert_problem(env.post_event(out, env.partner["bwm"]), 403, "forbidden")
    # overlapping claims by another party are refused, both ways
    for other in ("urn:epc:id:sgtin:", prefix + "0"):
        overlap = _signed("operator", "party.claim", {"party": "bwm", "prefixes": [other]})
        assert_problem(env.post_event(overlap, env.admin), 403, "forbidden")
    assert env.ledger.party("alus").prefixes == (prefix,)
    _fsck_clean(env.ledger)


# --------------------------------------------------------------------------- C8


def test_c8_a_compromised_key_takes_the_keys_it_added_with_it(db_url: str) -> None:
    """bwm adds K3; whoever holds K3 adds K4 (back-dating is refused by the window, so the
    add is dated now); bwm revokes K3 as compromised since it was added: K4 stops counting."""
    with open_ledger(db_url) as led:
        for ev in scenario_events():
            led.append(ev)
    clock = NOW

    def at(minutes: int) -> str:
        return format_time(clock + timedelta(minutes=minutes))

    k3, k4 = private_key("bwm-k3"), private_key("bwm-k4")
    with open_ledger(db_url, config=RuleConfig()) as led:  # the default 24 h window
        led.append(
            _signed("bwm", "key.add", {"party": "bwm", "key": key_object(k3)}, time=at(-120))
        )
        backdated = _signed(
            "bwm",
            "key.add",
            {"party": "bwm", "key": key_object(k4)},
            time="2020-01-01T00:00:00Z",
            key=k3,
        )
        with pytest.raises(RuleViolation) as e:
            led.append(backdated)
        assert e.value.code == "bad_time"
        led.append(
            _signed("bwm", "key.add", {"party": "bwm", "key": key_object(k4)}, time=at(-60), key=k3)
        )
        made = _create_body("C8-LOT", mass="5")
        led.append(_signed("bwm", "lot.create", made, time=at(-30), key=k4))
        k3_kid = key_object(k3)["kid"]
        led.append(
            _signed(
                "bwm",
                "key.revoke",
                {
                    "party": "bwm",
                    "kid": k3_kid,
                    "reason": "K3 leaked",
                    "compromised_since": at(-120),
                },
                time=at(0),
            )
        )
        k4_key = led.store.keys([key_object(k4)["kid"]])[key_object(k4)["kid"]]
        assert k4_key.revoked_with == k3_kid and k4_key.revoked_seq is not None
        again = {**made, "lot": "C8-LOT-2"}
        with pytest.raises(RuleViolation) as e:
            led.append(_signed("bwm", "lot.create", again, time=at(1), key=k4))
        assert e.value.code == "key_revoked"
        report = verify_bundle(led.bundle("C8-LOT"), led.log_signer.verifier)
        assert report.ok, report.to_text()
        flagged = {w.code for w in report.warnings}
        assert flagged == {"key_compromised"}
        k4_entries = [w for w in report.warnings if key_object(k4)["kid"] in w.message]
        assert k4_entries, report.to_text()
        _fsck_clean(led)


def test_c8_events_dated_before_the_window_are_refused(db_url: str) -> None:
    with open_ledger(db_url) as led:
        led.append(scenario_events()[0])  # the genesis, signed in 2025
    with open_ledger(db_url, config=RuleConfig(max_past_seconds=3600)) as led:
        old = _signed(
            "operator",
            "party.claim",
            {"party": "operator", "prefixes": ["OP-"]},
            time=format_time(NOW - timedelta(seconds=3601)),
        )
        with pytest.raises(RuleViolation, match="before the ledger clock") as e:
            led.append(old)
        assert e.value.code == "bad_time"
        fresh = _signed(
            "operator",
            "party.claim",
            {"party": "operator", "prefixes": ["OP-"]},
            time=format_time(NOW - timedelta(seconds=3600)),
        )
        led.append(fresh)


# --------------------------------------------------------------------------- A2


def test_a2_a_ledger_written_before_the_visibility_index_is_reindexed_on_open(
    db_url: str,
) -> None:
    with open_ledger(db_url) as led:
        for ev in scenario_events():
            led.append(ev)
        expected = {p: dict(led.partner_view(p)) for p in ("bwm", "alus", "packco")}
        for table in ("visibility", "transform_inputs", "lot_states"):
            tamper(led.store, f"DELETE FROM {table}")  # as before migration 0004
        assert not led.fsck().ok
    with open_ledger(db_url) as led:  # opening re-indexes from the log
        _fsck_clean(led)
        assert {p: dict(led.partner_view(p)) for p in expected} == expected
        assert expected["bwm"][SCRAP] is not None  # cut at alus's receive


# --------------------------------------------------------------------------- review findings


def test_c8_a_stolen_key_revoked_first_can_still_be_declared_compromised(db_url: str) -> None:
    """The thief adds K2 with the stolen K, then has K2 revoke K plainly, hoping to shield K2:
    the owner's later revocation of K as compromised still takes K2 with it."""
    with open_ledger(db_url) as led:
        for ev in scenario_events():
            led.append(ev)
    k, k2 = private_key("bwm-stolen"), private_key("bwm-thief")

    def at(minutes: int) -> str:
        return format_time(NOW + timedelta(minutes=minutes))

    with open_ledger(db_url, config=RuleConfig()) as led:
        led.append(_signed("bwm", "key.add", {"party": "bwm", "key": key_object(k)}, time=at(-300)))
        led.append(
            _signed("bwm", "key.add", {"party": "bwm", "key": key_object(k2)}, time=at(-60), key=k)
        )
        kid = key_object(k)["kid"]
        plain = {"party": "bwm", "kid": kid, "reason": "rotated"}
        led.append(_signed("bwm", "key.revoke", plain, time=at(-50), key=k2))
        declared = {**plain, "reason": "stolen", "compromised_since": at(-300)}
        led.append(_signed("bwm", "key.revoke", declared, time=at(0)))
        thief = led.store.keys([key_object(k2)["kid"]])[key_object(k2)["kid"]]
        assert thief.revoked_with == kid
        body = _create_body("THIEF", material="x")
        with pytest.raises(RuleViolation) as e:
            led.append(_signed("bwm", "lot.create", body, time=at(1), key=k2))
        assert e.value.code == "key_revoked"
        # declaring the same compromise again changes nothing: refused
        with pytest.raises(RuleViolation) as e:
            led.append(_signed("bwm", "key.revoke", declared, time=at(2)))
        assert e.value.code == "key_revoked"
        _fsck_clean(led)


def test_c8_the_compromise_margin_does_not_depend_on_the_server_window(db_url: str) -> None:
    """A ledger importing history (no window) and an offline verifier place the compromise
    point alike: the margin is the protocol's 24 h, not a server setting."""
    with open_ledger(db_url) as led:  # no back-dating window
        for ev in scenario_events():
            led.append(ev)
        k, k2 = private_key("bwm-import"), private_key("bwm-import-2")
        led.append(_signed("bwm", "key.add", {"party": "bwm", "key": key_object(k)}))
        added = format_time(NOW - timedelta(hours=30))
        led.append(
            _signed("bwm", "key.add", {"party": "bwm", "key": key_object(k2)}, time=added, key=k)
        )
        since = format_time(NOW - timedelta(hours=10))  # K2 was added 20 h before: within 24 h
        body = {
            "party": "bwm",
            "kid": key_object(k)["kid"],
            "reason": "x",
            "compromised_since": since,
        }
        led.append(_signed("bwm", "key.revoke", body, time=format_time(NOW)))
        assert led.store.keys([key_object(k2)["kid"]])[key_object(k2)["kid"]].revoked_with
        report = verify_bundle(led.bundle(SCRAP), led.log_signer.verifier)
        assert report.ok, report.to_text()
        _fsck_clean(led)


def test_a2_a_revision_1_log_with_a_shielded_key_still_reindexes(db_url: str) -> None:
    """A log accepted before the compromise rule may hold events of a key that rule revokes;
    re-indexing it must not lock the operator out of the ledger."""
    legacy = RuleConfig(max_past_seconds=None, revoke_descendants=False)
    k, k2 = private_key("bwm-old"), private_key("bwm-old-2")
    with open_ledger(db_url, config=legacy) as led:
        for ev in scenario_events():
            led.append(ev)
        led.append(_signed("bwm", "key.add", {"party": "bwm", "key": key_object(k)}))
        led.append(_signed("bwm", "key.add", {"party": "bwm", "key": key_object(k2)}, key=k))
        body = {"party": "bwm", "kid": key_object(k)["kid"], "reason": "x"}
        led.append(_signed("bwm", "key.revoke", {**body, "compromised_since": LATE}))
        made = _create_body("OLD-K2", material="x")
        led.append(_signed("bwm", "lot.create", made, key=k2))  # rev. 1 accepted this
        for table in ("visibility", "transform_inputs", "lot_states"):
            tamper(led.store, f"DELETE FROM {table}")
    with open_ledger(db_url) as led:  # opens, re-indexed under the rules it was accepted by
        assert "OLD-K2" in led.partner_view("bwm")
        assert any(p[0] == "key_revoked" for p in led.fsck().problems)  # and fsck says so


def test_a2_a_wide_transform_writes_rows_linear_in_its_inputs(db_url: str) -> None:
    with open_ledger(db_url) as led:
        for ev in scenario_events():
            led.append(ev)
        lots = [f"WIDE-{i:03d}" for i in range(400)]
        heads = {}
        for lot in lots:
            body = _create_body(lot, material="x")
            heads[lot] = led.append(_signed("bwm", "lot.create", body)).hash
        transform = {
            "process": "melt",
            "site": US_SITE,
            "inputs": [{"lot": lot, "mass_kg": "1"} for lot in lots],
            "outputs": [{"lot": "WIDE-OUT", "material": "x", "mass_kg": "400"}],
        }
        before = len(dump(led.store, "transform_inputs"))
        led.append(_signed("bwm", "lot.transform", transform, heads))
        assert len(dump(led.store, "transform_inputs")) - before == 400  # not 400 x 400
        ship = {"lot": "WIDE-OUT", "to": "alus", "mass_kg": "400"}
        out = led.lot("WIDE-OUT")
        led.append(_signed("bwm", "lot.ship", ship, {"WIDE-OUT": out.head}))
        view = led.partner_view("alus")
        assert all(view[lot] == out.created_seq for lot in lots)
        _fsck_clean(led)


def test_b7_a_claimed_prefix_holds_whatever_the_case(env: Env) -> None:
    prefix = "urn:epc:id:sgtin:8801234."  # claimed for alus by the scenario
    assert env.ledger.party("alus").prefixes == (prefix,)
    for lot in (prefix.upper() + "1", "Urn:epc:id:SGTIN:8801234.2"):
        resp = env.post_event(env.create(lot, actor="bwm"), env.partner["bwm"])
        assert_problem(resp, 403, "forbidden")
    overlap = _signed("operator", "party.claim", {"party": "bwm", "prefixes": ["URN:EPC:"]})
    assert_problem(env.post_event(overlap, env.admin), 403, "forbidden")


def test_b4_a_read_racing_the_end_of_custody_stops_at_the_cut_off(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bwm reads a lot it has shipped while alus receives it and moves on: the answer never
    holds what came after alus's receive."""
    made = env.create("RACE-1")
    assert env.post_event(made, env.partner["bwm"]).status_code == 201
    ship = _signed(
        "bwm", "lot.ship", {"lot": "RACE-1", "to": "alus", "mass_kg": "100"}, {"RACE-1": made.hash}
    )
    assert env.post_event(ship, env.partner["bwm"]).status_code == 201
    real_chain = env.ledger.chain
    moved: list[int] = []

    def chain(lot: str) -> Any:
        if not moved:  # alus receives and adjusts while bwm's read runs
            receive = _signed(
                "alus",
                "lot.receive",
                {"lot": lot, "ship": ship.hash, "mass_kg": "100"},
                {lot: ship.hash},
            )
            moved.append(env.ledger.append(receive).seq)
            adjust = _signed(
                "alus",
                "lot.adjust",
                {"lot": lot, "mass_kg": "90", "reason": "x"},
                {lot: receive.hash},
            )
            env.ledger.append(adjust)
        return real_chain(lot)

    monkeypatch.setattr(env.ledger, "chain", chain)
    items = env.get("/v1/lots/RACE-1/events", env.partner["bwm"]).json()["items"]
    assert items[-1]["seq"] == moved[0]
    assert "lot.adjust" not in {i["event"]["type"] for i in items}


def test_certificate_ids_that_are_no_uuid_urn_are_404_on_every_backend(env: Env) -> None:
    for cert_id in ("%00", "x%00y.pdf", "x%00.html", "urn:uuid:nope"):
        assert_problem(env.get(f"/v1/certificates/{cert_id}", env.auditor), 404, "not_found")


def test_a2_a_partner_list_page_is_one_query_however_many_lots_it_cannot_see(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the visibility index, a partner's page walked the whole lot table, one query per
    page of other companies' lots; now it is one query on the index."""
    events = [env.create(f"MANY-{i:04d}") for i in range(300)]
    assert env.post_batch([dict(ev.envelope) for ev in events], env.admin).status_code == 200
    queries: list[str] = []
    real = sql_module.SqlStore._query

    def counted(self: Any, sql: str, params: Any = ()) -> Any:
        queries.append(sql)
        return real(self, sql, params)

    monkeypatch.setattr(sql_module.SqlStore, "_query", counted)
    # packco sees the scrap; the 300 lots after it in id order are bwm's alone
    page = env.get(f"/v1/lots?limit=1&after={SCRAP}", env.partner["packco"]).json()
    assert page == {"items": [], "next": None}
    assert len([q for q in queries if "lots" in q]) == 1, queries
