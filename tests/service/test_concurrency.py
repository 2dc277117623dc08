"""Concurrency and crash safety on both databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from ledger.core import merkle
from ledger.core.events import sign
from ledger.core.receipt import Receipt
from ledger.errors import RuleViolation
from tests.support.ledgers import open_ledger
from tests.support.scenario import KEYS, registered_chain

ROOT = Path(__file__).resolve().parents[2]


def _create(lot: str) -> object:
    return sign(
        type="lot.create",
        actor="bwm",
        key=KEYS["bwm"],
        time="2025-07-01T00:00:00Z",
        body={
            "lot": lot,
            "material": "black mass",
            "mass_kg": "100",
            "source": "post_consumer",
            "site": {"country": "US"},
        },
    )


@pytest.mark.slow
def test_two_writers_racing_on_one_lot_never_fork_it(db_url: str) -> None:
    """Two ledgers (two writers) on one database; each round both extend the same head."""
    with open_ledger(db_url) as a, open_ledger(db_url) as b:
        a.append_many(registered_chain().events)
        a.append(_create("RACE-1"))
        for round_ in range(15):
            head = a.lot("RACE-1").head
            evs = [
                sign(
                    type="lot.adjust",
                    actor="bwm",
                    key=KEYS["bwm"],
                    prev={"RACE-1": head},
                    time="2025-07-02T00:00:00Z",
                    body={"lot": "RACE-1", "mass_kg": str(99 - round_), "reason": f"w{w}"},
                )
                for w in range(2)
            ]
            gate = threading.Barrier(2)
            results: list[object] = [None, None]

            def run(
                i: int,
                gate: threading.Barrier = gate,
                results: list[object] = results,
                evs: list[object] = evs,
            ) -> None:
                gate.wait()
                try:
                    results[i] = (a if i == 0 else b).append(evs[i])  # type: ignore[arg-type]
                except RuleViolation as e:
                    results[i] = e

            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wins = [r for r in results if isinstance(r, Receipt)]
            losses = [r for r in results if isinstance(r, RuleViolation)]
            assert len(wins) == 1 and len(losses) == 1, results
            assert losses[0].code == "stale_head"
            assert a.lot("RACE-1").head == wins[0].hash
        assert a.fsck().ok


@pytest.mark.slow
def test_eight_writers_on_distinct_lots_leave_no_gap(db_url: str) -> None:
    writers, per_writer = 8, 500
    with open_ledger(db_url) as a, open_ledger(db_url) as b:
        a.append_many(registered_chain().events)
        base = a.size()
        failures: list[BaseException] = []

        def run(w: int) -> None:
            ledger = a if w % 2 else b
            try:
                for i in range(per_writer):
                    ledger.append(_create(f"W{w}-{i}"))
            except BaseException as e:  # pragma: no cover - reported below
                failures.append(e)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        size = a.size()
        assert size == base + writers * per_writer
        seqs = [r.seq for r in a.store.iter_events()]
        assert seqs == list(range(size))
        cp = a.checkpoint()
        for seq, ev in a.events(range(0, size, 97)):
            proof = merkle.inclusion_proof(seq, cp.size, a.store)
            merkle.verify_inclusion(merkle.leaf_hash(ev.hash_bytes), seq, cp.size, proof, cp.root)
        report = a.fsck()
        assert report.ok, report.to_text()


@pytest.mark.slow
def test_sigkill_in_the_middle_of_appending_loses_nothing_acknowledged(db_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.service.crash_child", db_url, "4", "2000"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    acked: dict[int, str] = {}
    last_cp: tuple[int, bytes] | None = None
    assert child.stdout is not None
    for line in child.stdout:
        kind, *rest = line.split()
        if kind == "ack":
            acked[int(rest[0])] = rest[1]
        elif kind == "checkpoint":
            last_cp = (int(rest[0]), bytes.fromhex(rest[1]))
        if len(acked) >= 2500 and last_cp is not None:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=30)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"
    assert last_cp is not None
    with open_ledger(db_url) as led:
        size = led.size()
        assert size >= max(acked) + 1
        stored = {r.seq: r.hash.hex() for r in led.store.events_by_seqs(sorted(acked))}
        assert stored == acked  # every acknowledged event is there, at its seq
        report = led.fsck()
        assert report.ok, report.to_text()
        cp = led.checkpoint()
        proof = led.consistency_proof(last_cp[0], cp.size)
        merkle.verify_consistency(last_cp[0], cp.size, proof, last_cp[1], cp.root)
        led.append(_create(f"AFTER-{uuid.uuid4()}"))  # and it goes on
