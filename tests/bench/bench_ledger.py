"""Library benchmarks of GUIDE.md's table, printed as figures AND ratios measured in one run.

    .venv/bin/python -m tests.bench.bench_ledger            # full: includes the 1,000,000-event log
    .venv/bin/python -m tests.bench.bench_ledger --quick    # 100,000-event log, shorter runs

Ratios (targets from GUIDE.md):
  append_many events/s  / raw Ed25519 verify/s (one core)    >= 0.65
  verify_bundle entries/s / raw Ed25519 verify/s              >= 0.75
  inclusion/consistency proof median at N entries             <= 1 ms
  ingest rate, last 10 % / first 10 % over N events           >= 0.8
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.audit.verify import verify_bundle
from ledger.core import events
from ledger.core.checkpoint import Verifier
from ledger.service import Ledger

from .common import (
    RECYCLER,
    T0,
    proof_medians,
    raw_verify_rate,
    seeded_ledger,
    sign_creates,
    sign_creates_parallel,
    tmp_sqlite,
)


def _trials(name: str, unit: str, target: float, run: Callable[[int], float], n: int = 3) -> float:
    """Run ``run(trial)`` (returning ops/s) ``n`` times, each between two raw-verify measurements
    (this VM's CPU speed drifts, so each ratio uses the raw rate measured around it); print the
    median ratio."""
    ratios, rates = [], []
    for trial in range(n):
        before = raw_verify_rate(1.0)
        rate = run(trial)
        raw = (before + raw_verify_rate(1.0)) / 2
        rates.append(rate)
        ratios.append(rate / raw)
    ratio = statistics.median(ratios)
    print(
        f"{name:34s} {statistics.median(rates):8.0f} {unit}  ratio {ratio:.2f} "
        f"(trials {', '.join(f'{r:.2f}' for r in ratios)}; target >= {target})",
        flush=True,
    )
    return ratio


def bench_append_many(folder: Path, n: int) -> float:
    payloads = sign_creates(0, n, salt="am")

    def run(trial: int) -> float:
        ledger = seeded_ledger(tmp_sqlite(folder, f"append_many{trial}"))
        start = time.perf_counter()
        for i in range(0, n, 1000):  # what /v1/events/batch hands over: up to 1000 events
            results = ledger.append_many(payloads[i : i + 1000])
            assert all(not isinstance(r, Exception) for r in results), results[:3]
        elapsed = time.perf_counter() - start
        ledger.close()
        return n / elapsed

    return _trials("append_many (SQLite, durable)", "events/s ", 0.65, run)


def _merge(ledger: Ledger, lots: list[tuple[str, str]], out: str) -> tuple[str, str]:
    """Transform (lot, head) inputs of 1000 kg each into one output lot; returns (out, head)."""
    body = {
        "process": "remelt",
        "site": {"country": "US", "name": "Bartlesville"},
        "inputs": [{"lot": lot, "mass_kg": "1000"} for lot, _ in lots],
        "outputs": [{"lot": out, "material": "aluminium", "mass_kg": "1000"}],
    }
    ev = events.sign(
        type="lot.transform", actor="bwm", key=RECYCLER, body=body, prev=dict(lots), time=T0
    )
    return out, ledger.append(ev).hash


def build_bundle(
    folder: Path, n: int, *, parallel: bool = False
) -> tuple[dict[str, Any], Verifier]:
    """The bundle of a lot merged (in two levels, 200 inputs per transform) from ``n`` recycled
    lots, and the log's verifier key; ``parallel`` signs the lots on every core (set-up)."""
    ledger = seeded_ledger(tmp_sqlite(folder, "bundle"))
    payloads = sign_creates_parallel(n, salt="vb") if parallel else sign_creates(0, n, salt="vb")
    creates = [events.parse_event(p) for p in payloads]
    ledger.append_many(creates)
    leaves = [(ev.body["lot"], ev.hash) for ev in creates]
    middle = [_merge(ledger, leaves[i : i + 200], f"BWM-MID-{i}") for i in range(0, n, 200)]
    _merge(ledger, middle, "BWM-MERGED")
    bundle = ledger.bundle("BWM-MERGED")
    vkey = ledger.log_signer.verifier
    ledger.close()
    return bundle, vkey


def bench_verify_bundle(folder: Path, n: int) -> float:
    bundle, vkey = build_bundle(folder, n)
    entries = len(bundle["entries"])

    def run(trial: int) -> float:
        start = time.perf_counter()
        report = verify_bundle(bundle, vkey)
        elapsed = time.perf_counter() - start
        assert report.ok, report.to_text()
        return entries / elapsed

    return _trials(f"verify_bundle ({entries} entries)", "entries/s", 0.75, run)


def bench_million(folder: Path, n: int) -> None:
    print(f"signing {n} events for the log-size benchmarks (set-up, not timed) ...", flush=True)
    payloads = sign_creates_parallel(n, salt="mm")
    ledger = seeded_ledger(tmp_sqlite(folder, "million"))
    chunk = 10_000
    rates: list[float] = []
    start_all = time.perf_counter()
    for i in range(0, n, chunk):
        start = time.perf_counter()
        ledger.append_many(payloads[i : i + chunk])
        rates.append(min(chunk, n - i) / (time.perf_counter() - start))
    total = time.perf_counter() - start_all
    tenth = max(1, len(rates) // 10)
    first, last = statistics.mean(rates[:tenth]), statistics.mean(rates[-tenth:])
    print(
        f"ingest {n} events: {n / total:.0f} events/s overall; first 10 % {first:.0f}/s, "
        f"last 10 % {last:.0f}/s   ratio {last / first:.2f}  (target >= 0.8)"
    )
    size = ledger.size()
    incl, cons = proof_medians(size, ledger.store)
    print(
        f"inclusion proof at {size} entries: median {incl:.3f} ms  "
        f"consistency proof: median {cons:.3f} ms  (target <= 1 ms)"
    )
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (100,000-event log)")
    parser.add_argument("--log-size", type=int, default=None, help="events in the big log")
    args = parser.parse_args()
    big = args.log_size or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="ltl-bench-") as tmp:
        folder = Path(tmp)
        raw = raw_verify_rate()
        print(f"raw Ed25519 verify (one core)  {raw:10.0f} verifies/s ({1e6 / raw:.1f} µs each)")
        bench_append_many(folder, 5_000 if args.quick else 20_000)
        bench_verify_bundle(folder, 1_000 if args.quick else 5_000)
        bench_million(folder, big)


if __name__ == "__main__":
    main()
