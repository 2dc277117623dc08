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
import random
import statistics
import tempfile
import time
from pathlib import Path

from ledger import events, merkle
from ledger.verify import verify_bundle

from .common import (
    RECYCLER,
    T0,
    raw_verify_rate,
    seeded_ledger,
    sign_creates,
    sign_creates_parallel,
    tmp_sqlite,
)


def bench_append_many(folder: Path, n: int, raw: float) -> float:
    payloads = sign_creates(0, n, salt="am")
    ledger = seeded_ledger(tmp_sqlite(folder, "append_many"))
    start = time.perf_counter()
    for i in range(0, n, 1000):  # what /v1/events/batch hands over: up to 1000 events
        results = ledger.append_many(payloads[i : i + 1000])
        assert all(not isinstance(r, Exception) for r in results), results[:3]
    elapsed = time.perf_counter() - start
    ledger.close()
    rate = n / elapsed
    print(
        f"append_many (SQLite, durable)  {rate:10.0f} events/s   ratio {rate / raw:.2f}  "
        "(target >= 0.65)"
    )
    return rate / raw


def bench_verify_bundle(folder: Path, n: int, raw: float) -> float:
    """A lot merged from ``n`` recycled lots, then verified offline."""
    ledger = seeded_ledger(tmp_sqlite(folder, "bundle"))
    creates = [events.parse_event(p) for p in sign_creates(0, n, salt="vb")]
    ledger.append_many(creates)
    inputs = [{"lot": ev.body["lot"], "mass_kg": "1000"} for ev in creates]
    body = {
        "process": "remelt",
        "site": {"country": "US", "name": "Bartlesville"},
        "inputs": inputs,
        "outputs": [{"lot": "BWM-MERGED", "material": "aluminium", "mass_kg": str(n * 990)}],
    }
    prev = {ev.body["lot"]: ev.hash for ev in creates}
    merge = events.sign(
        type="lot.transform", actor="bwm", key=RECYCLER, body=body, prev=prev, time=T0
    )
    ledger.append(merge)
    bundle = ledger.bundle("BWM-MERGED")
    vkey = ledger.log_signer.verifier
    ledger.close()
    entries = len(bundle["entries"])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        report = verify_bundle(bundle, vkey)
        best = min(best, time.perf_counter() - start)
        assert report.ok, report.to_text()
    rate = entries / best
    print(
        f"verify_bundle ({entries} entries)  {rate:10.0f} entries/s  ratio {rate / raw:.2f}  "
        "(target >= 0.75)"
    )
    return rate / raw


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
    store = ledger.store
    rng = random.Random(7)
    incl, cons = [], []
    for _ in range(1000):
        idx = rng.randrange(size)
        t = time.perf_counter()
        merkle.inclusion_proof(idx, size, store)
        incl.append(time.perf_counter() - t)
        m = rng.randrange(1, size)
        t = time.perf_counter()
        merkle.consistency_proof(m, size, store)
        cons.append(time.perf_counter() - t)
    print(
        f"inclusion proof at {size} entries: median {statistics.median(incl) * 1e3:.3f} ms  "
        f"consistency proof: median {statistics.median(cons) * 1e3:.3f} ms  (target <= 1 ms)"
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
        bench_append_many(folder, 5_000 if args.quick else 20_000, raw)
        bench_verify_bundle(folder, 1_000 if args.quick else 5_000, raw)
        bench_million(folder, big)


if __name__ == "__main__":
    main()
