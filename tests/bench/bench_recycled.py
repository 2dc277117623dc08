"""Recycled-content report over a provenance of 10,000 lots (GUIDE target: <= 1 s).

    .venv/bin/python -m tests.bench.bench_recycled [--lots 10000]

The lot is made, in two levels of 100-input transforms, from ``--lots`` recycled and virgin
lots (with compositions, so element shares are computed too); the report (shares, lineage,
compliance) is timed on the server's ledger and offline from the lot's bundle.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from ledger.attest.lineage import ReplaySource
from ledger.attest.recycled import recycled_content
from ledger.audit.verify import verify_bundle
from ledger.core import events
from ledger.service import Ledger

from .common import RECYCLER, T0, seeded_ledger, sign_creates_parallel, tmp_sqlite

FAN_IN = 100


def _merge(ledger: Ledger, lots: list[tuple[str, str]], out: str) -> tuple[str, str]:
    body = {
        "process": "remelt",
        "site": {"country": "US", "name": "Bartlesville"},
        "inputs": [{"lot": lot, "mass_kg": "1000"} for lot, _ in lots],
        "outputs": [
            {"lot": out, "material": "aluminium", "mass_kg": "1000", "composition": {"Al": "0.9"}}
        ],
    }
    ev = events.sign(
        type="lot.transform", actor="bwm", key=RECYCLER, body=body, prev=dict(lots), time=T0
    )
    return out, ledger.append(ev).hash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ltl-bench-") as tmp:
        ledger = seeded_ledger(tmp_sqlite(Path(tmp), "recycled"))
        print(f"building a provenance of {args.lots} lots (set-up, not timed) ...", flush=True)
        payloads = sign_creates_parallel(args.lots, salt="rc")
        for i in range(0, len(payloads), 1000):
            assert all(
                not isinstance(r, Exception) for r in ledger.append_many(payloads[i : i + 1000])
            )
        created = [events.parse_event(p) for p in payloads]
        leaves = [(ev.body["lot"], ev.hash) for ev in created]
        middle = [
            _merge(ledger, leaves[i : i + FAN_IN], f"MID-{i}")
            for i in range(0, len(leaves), FAN_IN)
        ]
        top = middle
        level = 0
        while len(top) > 1:
            level += 1
            top = [
                _merge(ledger, top[i : i + FAN_IN], f"TOP-{level}-{i}")
                for i in range(0, len(top), FAN_IN)
            ]
        lot = top[0][0]
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            report = ledger.recycled_content(lot, as_of=date(2031, 9, 1))
            best = min(best, time.perf_counter() - start)
        origins = len(report["lineage"]["origins"])
        print(
            f"recycled-content report, provenance of {origins + len(middle) + level} lots "
            f"({origins} origins): {best * 1e3:.0f} ms on the ledger (target <= 1000 ms)"
        )
        bundle = ledger.bundle(lot)
        check = verify_bundle(bundle, ledger.log_signer.verifier)
        start = time.perf_counter()
        assert check.state is not None
        source = ReplaySource.from_entries(check.state, bundle["entries"])
        offline = recycled_content(source, lot, as_of=date(2031, 9, 1))
        print(
            f"the same report offline from the bundle ({len(bundle['entries'])} entries): "
            f"{(time.perf_counter() - start) * 1e3:.0f} ms; equal: {offline == report}"
        )
        ledger.close()


if __name__ == "__main__":
    main()
