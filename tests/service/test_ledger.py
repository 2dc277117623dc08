"""The Ledger facade on both databases: append, idempotency, reads, proofs, bundles, fsck."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from ledger.audit.verify import verify_bundle
from ledger.core import merkle
from ledger.core.events import SignedEvent, parse_event, sign
from ledger.core.receipt import Receipt
from ledger.errors import NotFound, RuleViolation, StorageError
from ledger.service import Ledger, LotFilter
from tests.support.ledgers import open_ledger, scenario_ledger, tamper
from tests.support.scenario import (
    BILLET,
    ENCLOSURE,
    KEYS,
    NISO4,
    SCRAP,
    Chain,
    registered_chain,
    scenario_events,
)


def late_adjust(ledger: Ledger, mass: str = "3000") -> SignedEvent:
    """A valid new event after the scenario: alus writes part of the billet off."""
    return sign(
        type="lot.adjust",
        actor="alus",
        key=KEYS["alus"],
        body={"lot": BILLET, "mass_kg": mass, "reason": "scrap"},
        prev={BILLET: ledger.lot(BILLET).head},
        time="2025-12-01T00:00:00Z",
    )


@pytest.fixture
def ledger(db_url: str) -> Ledger:
    with scenario_ledger(db_url) as led:
        yield led


def test_scenario_is_accepted_in_order(db_url: str) -> None:
    evs = scenario_events()
    with open_ledger(db_url) as led:
        receipts = [led.append(ev) for ev in evs]
        assert [r.seq for r in receipts] == list(range(len(evs)))
        assert all(r.created for r in receipts)
        ship = next(ev for ev in evs if ev.type == "lot.ship")
        assert receipts[evs.index(ship)].lots == {SCRAP: ship.hash}
        lot = led.lot(ENCLOSURE)
        assert (lot.custodian, lot.status, str(lot.mass)) == ("packco", "held", "19500")
        assert led.lot(ENCLOSURE).head == led.chain(ENCLOSURE)[-1][1].hash
        assert [ev.type for _, ev in led.chain(SCRAP)] == [
            "lot.create",
            "lot.ship",
            "lot.receive",
            "lot.assay",
            "lot.transform",
        ]
        keys = led.party_keys("bwm")
        assert len(keys) == 2 and keys[1].revoked_seq is not None
        assert {p.id for p in led.list_parties()} >= {"operator", "bwm", "alus", "packco"}
        assert [x.lot for x in led.list_lots(where=LotFilter(custodian="packco"))] == [ENCLOSURE]


def test_same_event_again_is_idempotent_and_a_changed_one_is_duplicate_id(ledger: Ledger) -> None:
    evs = scenario_events()
    again = ledger.append(evs[7])
    assert again == Receipt(seq=7, hash=evs[7].hash, lots=again.lots, created=False)
    size = ledger.size()
    chain = Chain()
    forged = chain.make("operator", "party.register", dict(evs[1].body), id=evs[1].id, prev={})
    with pytest.raises(RuleViolation) as e:
        ledger.append(forged)
    assert e.value.code == "duplicate_id"
    assert ledger.size() == size


def test_rejections_carry_their_code_and_write_nothing(ledger: Ledger) -> None:
    size = ledger.size()
    chain = registered_chain()
    stale = chain.make(
        "alus",
        "lot.adjust",
        {"lot": BILLET, "mass_kg": "1", "reason": "x"},
        prev={BILLET: "0" * 64},
        id=str(uuid.uuid4()),
    )
    with pytest.raises(RuleViolation) as e:
        ledger.append(stale)
    assert e.value.code == "stale_head"
    head = ledger.lot(BILLET).head
    thief = chain.make(
        "bwm",
        "lot.adjust",
        {"lot": BILLET, "mass_kg": "1", "reason": "x"},
        prev={BILLET: head},
        id=str(uuid.uuid4()),
        time="2025-12-01T00:00:00Z",
    )
    with pytest.raises(RuleViolation) as e:
        ledger.append(thief)
    assert e.value.code == "unknown_lot"  # not its lot: as if it did not exist
    tampered = bytearray(scenario_events()[-1].canonical)
    tampered[tampered.index(b'"sig":"') + 10] ^= 1
    with pytest.raises(RuleViolation) as e2:
        ledger.append(bytes(tampered))
    assert e2.value.code in ("bad_signature", "invalid_event")
    assert ledger.size() == size


def test_append_many_reports_each_event(db_url: str) -> None:
    evs = scenario_events()
    with open_ledger(db_url) as led:
        junk = b'{"ltl":1}'
        results = led.append_many([*evs[:10], junk, evs[3], *evs[10:]])
        assert isinstance(results[10], RuleViolation) and results[10].code == "invalid_event"
        assert isinstance(results[11], Receipt) and results[11].created is False
        assert [r.seq for r in results if isinstance(r, Receipt) and r.created] == list(
            range(len(evs))
        )


def test_proofs_verify_against_the_signed_checkpoint(ledger: Ledger) -> None:
    cp = ledger.checkpoint()
    assert cp.size == ledger.size()
    for seq, ev in ledger.events(range(cp.size)):
        index, size, proof = ledger.inclusion_proof(ev.hash)
        assert (index, size) == (seq, cp.size)
        merkle.verify_inclusion(merkle.leaf_hash(ev.hash_bytes), index, size, proof, cp.root)
    old = cp
    ledger.append(late_adjust(ledger))
    new = ledger.checkpoint()
    assert new.size == old.size + 1
    merkle.verify_consistency(
        old.size, new.size, ledger.consistency_proof(old.size, new.size), old.root, new.root
    )
    assert ledger.checkpoint_at(old.size) == old
    with pytest.raises(NotFound):
        ledger.inclusion_proof("ab" * 32)


def test_bundle_verifies_offline_from_its_json(ledger: Ledger) -> None:
    bundle = ledger.bundle(ENCLOSURE)
    assert bundle["format"] == "ltl-bundle/1" and bundle["lot"] == ENCLOSURE
    seqs = [e["seq"] for e in bundle["entries"]]
    assert seqs == sorted(seqs) and seqs[0] == 0
    types = {e["event"]["type"] for e in bundle["entries"]}
    assert "credit.allocate" not in types  # not upstream of the enclosure
    raw = json.dumps(bundle).encode()
    report = verify_bundle(raw, ledger.log_signer.verifier)
    assert report.ok, report.to_text()
    assert report.entries == len(seqs)
    for e in bundle["entries"]:
        assert all(len(base64.b64decode(h)) == 32 for h in e["proof"])
    nickel = verify_bundle(ledger.bundle(NISO4), ledger.log_signer.verifier)
    assert nickel.ok and [w.code for w in nickel.warnings] == ["credits_unverifiable"]
    with pytest.raises(NotFound):
        ledger.bundle("NO-SUCH-LOT")


def test_fsck_is_clean_and_replays_to_the_stored_state(ledger: Ledger) -> None:
    ledger.checkpoint()
    report = ledger.fsck()
    assert report.ok, report.to_text()
    assert report.events == ledger.size() and report.checkpoints == 1


def test_log_refuses_to_sign_a_checkpoint_inconsistent_with_an_earlier_one(ledger: Ledger) -> None:
    first = ledger.checkpoint()
    # the operator rewrites history it already signed (here the subtree of leaves 0-15 that
    # the size-24 checkpoint commits to), then the log grows
    tamper(
        ledger.store, "UPDATE nodes SET hash = :h WHERE level = 4 AND idx = 0", {"h": b"\0" * 32}
    )
    ledger.append(late_adjust(ledger))
    with pytest.raises(StorageError, match="not consistent with the checkpoint signed at size"):
        ledger.checkpoint()
    assert ledger.store.latest_checkpoint() == first


def test_reopening_continues_the_same_log(db_url: str) -> None:
    evs = scenario_events()
    with open_ledger(db_url) as led:
        led.append_many(evs[:12])
        cp = led.checkpoint()
    with open_ledger(db_url) as led:
        led.append_many(evs[12:])
        new = led.checkpoint()
        proof = led.consistency_proof(cp.size, new.size)
        merkle.verify_consistency(cp.size, new.size, proof, cp.root, new.root)
        assert led.fsck().ok
        assert parse_event(led.store.events_by_seqs([0])[0].canonical).type == "party.register"


def test_bundle_of_a_lot_in_transit_to_a_silent_party_replays(db_url: str) -> None:
    """The receiver of a pending ship has signed nothing; its registration is still bundled."""
    evs = scenario_events()
    with open_ledger(db_url) as led:
        led.append_many(evs)
        ship = sign(
            type="lot.ship",
            actor="packco",
            key=KEYS["packco"],
            body={"lot": ENCLOSURE, "to": "carrier", "mass_kg": "19500"},
            prev={ENCLOSURE: led.lot(ENCLOSURE).head},
            time="2025-12-01T00:00:00Z",
        )
        led.append(ship)
        bundle = led.bundle(ENCLOSURE)
        assert any(
            e["event"]["type"] == "party.register"
            and e["event"]["body"]["party"]["id"] == "carrier"
            for e in bundle["entries"]
        )
        report = verify_bundle(bundle, led.log_signer.verifier)
        assert report.ok, report.to_text()
        assert report.state is not None and report.state.lot(ENCLOSURE).status == "in_transit"
