"""Tamper suite: every way of rewriting history is caught, by ``verify_bundle`` on a bundle and
by ``fsck`` on the database, each with a specific finding (on both databases)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from ledger.audit.verify import verify_bundle
from ledger.core import merkle
from ledger.core.checkpoint import Checkpoint, Signer, sign_checkpoint
from ledger.core.events import sign
from ledger.core.keys import key_object
from ledger.service import Ledger
from tests.support.ledgers import ORIGIN, open_ledger, scenario_ledger, tamper
from tests.support.scenario import ENCLOSURE, KEYS, SCRAP, private_key

Bundle = dict[str, Any]


@pytest.fixture
def ledger(db_url: str) -> Ledger:
    with scenario_ledger(db_url) as led:
        led.checkpoint()
        yield led


def _codes(report: Any) -> set[str]:
    return {f.code for f in report.errors}


def _entry(bundle: Bundle, type_: str, lot: str | None = None) -> int:
    for i, e in enumerate(bundle["entries"]):
        body = e["event"]["body"]
        if e["event"]["type"] == type_ and (lot is None or body.get("lot") == lot):
            return i
    raise AssertionError(type_)


def _reprove(bundle: Bundle, log: Signer) -> Bundle:
    """Rebuild the tree over the tampered entries (as a forger would) and re-sign nothing."""
    leaves = {}
    from ledger.core.events import event_from_json

    for e in bundle["entries"]:
        leaves[e["seq"]] = merkle.leaf_hash(event_from_json(e["event"]).hash_bytes)
    size = max(leaves) + 1
    hashes = [leaves.get(i, b"\0" * 32) for i in range(size)]
    nodes, tree = merkle.MemoryNodes.from_leaf_hashes(hashes)
    for e in bundle["entries"]:
        e["proof"] = [
            base64.b64encode(h).decode() for h in merkle.inclusion_proof(e["seq"], size, nodes)
        ]
    return {"size": size, "root": tree.root()}  # type: ignore[return-value]


# ---------------------------------------------------------------- verify_bundle


def flip_byte(b: Bundle, log: Signer) -> None:
    e = b["entries"][_entry(b, "lot.receive", SCRAP)]
    e["event"]["body"]["mass_kg"] = "19950"


def delete_entry(b: Bundle, log: Signer) -> None:
    del b["entries"][_entry(b, "lot.assay", SCRAP)]


def swap_entries(b: Bundle, log: Signer) -> None:
    i = _entry(b, "lot.ship", SCRAP)
    b["entries"][i], b["entries"][i + 1] = b["entries"][i + 1], b["entries"][i]


def replace_signature(b: Bundle, log: Signer) -> None:
    e = b["entries"][_entry(b, "lot.receive", SCRAP)]
    other = sign(
        type="lot.receive",
        actor="alus",
        key=private_key("mallory"),
        body=e["event"]["body"],
        prev=e["event"]["prev"],
        time=e["event"]["time"],
        id=e["event"]["id"],
    )
    e["event"]["sig"] = other.envelope["sig"]


def forge_checkpoint(b: Bundle, log: Signer) -> None:
    cp = Checkpoint.parse(b["checkpoint"].split("\n\n")[0] + "\n")
    b["checkpoint"] = sign_checkpoint(cp, Signer(ORIGIN, private_key("not-the-log")))


def proof_against_unsigned_root(b: Bundle, log: Signer) -> None:
    # change an event, rebuild a tree whose proofs are all valid, and swap in its root while
    # keeping the log's signature line
    flip_byte(b, log)
    tree = _reprove(b, log)
    _, sigs = b["checkpoint"].split("\n\n")
    forged = Checkpoint(ORIGIN, tree["size"], tree["root"]).text  # type: ignore[arg-type]
    b["checkpoint"] = forged + "\n" + sigs


def event_by_revoked_key(b: Bundle, log: Signer) -> None:
    # bwm's second key was revoked in the scenario; an event it signs afterwards is spliced in
    i = _entry(b, "lot.create", SCRAP)
    ev = b["entries"][i]["event"]
    spare = private_key("bwm-2")
    late = sign(
        type="lot.create",
        actor="bwm",
        key=spare,
        time="2025-12-01T00:00:00Z",
        body={**ev["body"], "lot": "BWM-FAKE-1"},
    )
    b["entries"].append({"seq": b["entries"][-1]["seq"] + 1, "event": late.envelope, "proof": []})
    # the revocation must precede it in the bundle: bwm's key events are in it already
    tree = _reprove(b, log)
    b["checkpoint"] = sign_checkpoint(Checkpoint(ORIGIN, tree["size"], tree["root"]), log)  # type: ignore[arg-type]


def second_history(b: Bundle, log: Signer) -> None:
    """Nothing changes in the bundle; the auditor holds another checkpoint of the same size."""


CASES: list[tuple[str, Callable[[Bundle, Signer], None], set[str]]] = [
    ("flipped-byte", flip_byte, {"bad_signature", "bad_inclusion_proof"}),
    ("deleted-entry", delete_entry, {"chain_gap"}),
    ("swapped-entries", swap_entries, {"entry_order"}),
    ("replaced-signature", replace_signature, {"bad_signature"}),
    ("forged-checkpoint", forge_checkpoint, {"bad_checkpoint"}),
    ("proof-against-unsigned-root", proof_against_unsigned_root, {"bad_checkpoint"}),
    ("event-by-revoked-key", event_by_revoked_key, {"key_revoked"}),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verify_bundle_detects(
    ledger: Ledger, mutate: Callable[[Bundle, Signer], None], expected: set[str]
) -> None:
    bundle = ledger.bundle(ENCLOSURE)
    assert verify_bundle(bundle, ledger.log_signer.verifier).ok
    forged = copy.deepcopy(bundle)
    mutate(forged, ledger.log_signer)
    report = verify_bundle(forged, ledger.log_signer.verifier)
    assert not report.ok
    assert expected <= _codes(report), report.to_text()
    for f in report.errors:
        assert f.message and (f.seq is not None or f.code in {"bad_checkpoint", "chain_incomplete"})


def test_verify_bundle_detects_a_second_history_of_the_same_size(
    db_url: str, tmp_path: Any
) -> None:
    with scenario_ledger(db_url) as led:
        bundle = led.bundle(ENCLOSURE)
        size = led.size()
    # the same log key signs another tree of the same size (a split view shown to someone else)
    other_url = f"sqlite:///{tmp_path}/other.db"
    with open_ledger(other_url) as other:
        from tests.support.scenario import scenario_events

        evs = scenario_events()
        other.append_many(evs[:-1])
        alt = sign(
            type="key.add",
            actor="bwm",
            key=KEYS["bwm"],
            time="2025-12-01T00:00:00Z",
            body={"party": "bwm", "key": key_object(private_key("bwm-3"))},
        )
        other.append(alt)
        assert other.size() == size
        note = other.checkpoint().note
    report = verify_bundle(bundle, led.log_signer.verifier, trusted_checkpoints=[note])
    assert "split_view" in _codes(report), report.to_text()
    assert verify_bundle(bundle, led.log_signer.verifier).ok  # alone, the bundle is fine


# ---------------------------------------------------------------- fsck


def _seq_of(ledger: Ledger, type_: str, lot: str) -> int:
    return next(s for s, ev in ledger.chain(lot) if ev.type == type_)


def fsck_flip_byte(led: Ledger) -> None:
    seq = _seq_of(led, "lot.receive", SCRAP)
    raw = bytearray(led.store.events_by_seqs([seq])[0].canonical)
    raw[raw.index(b"19850")] = ord("2")
    tamper(
        led.store, "UPDATE events SET canonical = :c WHERE seq = :s", {"c": bytes(raw), "s": seq}
    )


def fsck_delete(led: Ledger) -> None:
    tamper(led.store, "DELETE FROM events WHERE seq = :s", {"s": _seq_of(led, "lot.assay", SCRAP)})


def fsck_swap(led: Ledger) -> None:
    a = _seq_of(led, "lot.ship", SCRAP)
    ra, rb = led.store.events_by_seqs([a, a + 1])
    tamper(led.store, "DELETE FROM events WHERE seq IN (:a, :b)", {"a": a, "b": a + 1})
    for rec, seq in ((ra, a + 1), (rb, a)):
        tamper(
            led.store,
            "INSERT INTO events (seq, hash, id, type, actor, time, canonical) "
            "VALUES (:s, :h, :i, 't', 'a', 't', :c)",
            {"s": seq, "h": rec.hash, "i": rec.id, "c": rec.canonical},
        )


def fsck_replace_signature(led: Ledger) -> None:
    seq = _seq_of(led, "lot.receive", SCRAP)
    _, ev = led.events([seq])[0]
    forged = sign(
        type=ev.type,
        actor=ev.actor,
        key=private_key("mallory"),
        body=ev.body,
        prev=ev.prev,
        time=ev.time,
        id=ev.id,
    )
    raw = ev.canonical.replace(ev.envelope["sig"].encode(), forged.envelope["sig"].encode())
    import hashlib

    tamper(
        led.store,
        "UPDATE events SET canonical = :c, hash = :h WHERE seq = :s",
        {"c": raw, "h": hashlib.sha256(raw).digest(), "s": seq},
    )


def fsck_forge_checkpoint(led: Ledger) -> None:
    cp = led.store.latest_checkpoint()
    assert cp is not None
    note = sign_checkpoint(Checkpoint(ORIGIN, cp.size, cp.root), Signer(ORIGIN, private_key("x")))
    tamper(led.store, "UPDATE checkpoints SET note = :n", {"n": note})


def fsck_unsigned_root(led: Ledger) -> None:
    tamper(led.store, "UPDATE checkpoints SET root = :r", {"r": b"\x07" * 32})


def fsck_revoked_key(led: Ledger) -> None:
    ev = sign(
        type="lot.create",
        actor="bwm",
        key=private_key("bwm-2"),
        time="2025-12-01T00:00:00Z",
        body={
            "lot": "BWM-FAKE-2",
            "material": "scrap",
            "mass_kg": "1",
            "source": "virgin",
            "site": {"country": "US"},
        },
    )
    import hashlib

    size = led.size()
    tamper(
        led.store,
        "INSERT INTO events (seq, hash, id, type, actor, time, canonical) "
        "VALUES (:s, :h, :i, 'lot.create', 'bwm', :t, :c)",
        {
            "s": size,
            "h": hashlib.sha256(ev.canonical).digest(),
            "i": ev.id,
            "t": ev.time,
            "c": ev.canonical,
        },
    )


def fsck_second_history(led: Ledger) -> None:
    # replace the last event by another valid one (same size), recomputing its node: the
    # signed checkpoint no longer matches the history in the database
    size = led.size()
    alt = sign(
        type="key.add",
        actor="bwm",
        key=KEYS["bwm"],
        time="2025-12-01T00:00:00Z",
        body={"party": "bwm", "key": key_object(private_key("bwm-3"))},
    )
    import hashlib

    h = hashlib.sha256(alt.canonical).digest()
    tamper(led.store, "DELETE FROM events WHERE seq = :s", {"s": size - 1})
    tamper(
        led.store,
        "INSERT INTO events (seq, hash, id, type, actor, time, canonical) "
        "VALUES (:s, :h, :i, 'key.add', 'bwm', :t, :c)",
        {"s": size - 1, "h": h, "i": alt.id, "t": alt.time, "c": alt.canonical},
    )
    tamper(
        led.store,
        "UPDATE nodes SET hash = :x WHERE level = 0 AND idx = :s",
        {"x": merkle.leaf_hash(h), "s": size - 1},
    )


FSCK_CASES: list[tuple[str, Callable[[Ledger], None], set[str]]] = [
    ("flipped-byte", fsck_flip_byte, {"event_altered"}),
    ("deleted-entry", fsck_delete, {"seq_gap"}),
    ("swapped-entries", fsck_swap, {"node_altered"}),
    ("replaced-signature", fsck_replace_signature, {"bad_signature"}),
    ("forged-checkpoint", fsck_forge_checkpoint, {"bad_checkpoint"}),
    ("unsigned-root", fsck_unsigned_root, {"checkpoint_mismatch"}),
    ("event-by-revoked-key", fsck_revoked_key, {"key_revoked"}),
    ("second-history", fsck_second_history, {"checkpoint_mismatch"}),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in FSCK_CASES], ids=[c[0] for c in FSCK_CASES]
)
def test_fsck_detects(ledger: Ledger, mutate: Callable[[Ledger], None], expected: set[str]) -> None:
    assert ledger.fsck().ok
    mutate(ledger)
    report = ledger.fsck()
    codes = {c for c, _, _ in report.problems}
    assert not report.ok
    assert expected <= codes, report.to_text()


# ---------------------------------------------------------------- parallel signature checks


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_parallel_signature_checks_give_the_serial_report(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every tamper case, verified serially (jobs 1), in two worker processes (jobs 2) and
    through a lazy ``map``, and in two workers forked with the entries (``ledger verify``):
    the same verdict, findings, codes and order, to the character."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ledger.audit import verify as verify_module

    monkeypatch.setattr(verify_module, "ENTRY_CHUNK", 4)  # many chunks, a partial last one
    bundle = ledger.bundle(ENCLOSURE)
    key = ledger.log_signer.verifier
    cases = [("untouched", lambda b, log: None), *[(name, m) for name, m, _ in CASES]]
    with ProcessPoolExecutor(2) as pool:
        for name, mutate in cases:
            forged = copy.deepcopy(bundle)
            mutate(forged, ledger.log_signer)
            serial = verify_bundle(forged, key)
            others = [verify_bundle(forged, key, chunk_map=m) for m in (pool.map, map)]
            entries = forged["entries"]
            if isinstance(entries, list):  # as ledger verify does: forked workers inherit them
                fork = multiprocessing.get_context("fork")
                with verify_module.shared_entries(entries), fork.Pool(2) as inherited:
                    others.append(verify_bundle(forged, key, chunk_map=inherited.imap, shared=True))
            for other in others:
                assert other.to_json() == serial.to_json(), name
                assert other.to_text() == serial.to_text(), name
                assert other.errors == serial.errors and other.warnings == serial.warnings
