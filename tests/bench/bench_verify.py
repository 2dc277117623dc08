"""``ledger verify`` as a whole process (interpreter start, imports, reading the file, the
report), serial and parallel, against the raw Ed25519 verify rate measured in the same run.

    .venv/bin/python -m tests.bench.bench_verify            # ~40,000-entry bundle
    .venv/bin/python -m tests.bench.bench_verify --quick    # ~10,000-entry bundle, fewer trials
    .venv/bin/python -m tests.bench.bench_verify --keep /tmp/b   # reuse (or leave) the bundle there

Ratios (issue 13): entries/s of ``python -m ledger verify BUNDLE --log-key VKEY --jobs N`` over
raw single-core Ed25519 verifies/s (the floor, ``raw_verify_rate``):
  --jobs 1 (serial, no pool)   >= 0.75
  --jobs 2 (two worker procs)  >= 1.3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bench_ledger import build_bundle
from .common import raw_verify_rate

ROOT = Path(__file__).resolve().parent.parent.parent


def write_bundle(folder: Path, n: int) -> tuple[Path, str, int]:
    """The bundle file, the log vkey and the entry count, built once (set-up, not timed)."""
    path, key = folder / "bundle.json", folder / "bundle.vkey"
    if not (path.exists() and key.exists()):
        print(f"building a bundle over {n} lots (set-up, not timed) ...", flush=True)
        bundle, vkey = build_bundle(folder, n, parallel=True)
        path.write_text(json.dumps(bundle))
        key.write_text(vkey.vkey)
    entries = len(json.loads(path.read_bytes())["entries"])
    return path, key.read_text(), entries


def run_verify(path: Path, vkey: str, jobs: int) -> float:
    """Seconds of one ``python -m ledger verify`` process, start to exit (must say VALID)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "ledger", "verify", str(path), "--log-key", vkey]
    start = time.perf_counter()
    done = subprocess.run([*cmd, "--jobs", str(jobs)], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed


def bench(path: Path, vkey: str, entries: int, jobs: int, target: float, trials: int) -> float:
    """Median ratio over ``trials`` runs, each between two raw-verify measurements (this VM's
    CPU speed drifts, so each ratio uses the floor measured around it)."""
    ratios, rates, floors = [], [], []
    for _ in range(trials):
        before = raw_verify_rate(1.0)
        rate = entries / run_verify(path, vkey, jobs)
        raw = (before + raw_verify_rate(1.0)) / 2
        rates.append(rate)
        floors.append(raw)
        ratios.append(rate / raw)
    ratio = statistics.median(ratios)
    print(
        f"ledger verify --jobs {jobs} (process) {statistics.median(rates):8.0f} entries/s  "
        f"floor {statistics.median(floors):.0f} verifies/s  ratio {ratio:.2f} "
        f"(trials {', '.join(f'{r:.2f}' for r in ratios)}) (target >= {target})",
        flush=True,
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="~10,000 entries, 3 trials")
    parser.add_argument("--lots", type=int, default=None, help="recycled lots in the bundle")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the bundle in")
    args = parser.parse_args()
    lots = args.lots or (10_000 if args.quick else 40_000)
    trials = args.trials or (3 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="ltl-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path, vkey, entries = write_bundle(folder, lots)
        raw = raw_verify_rate()
        print(f"raw Ed25519 verify (one core, floor) {raw:8.0f} verifies/s ({entries} entries)")
        bench(path, vkey, entries, 1, 0.75, trials)
        bench(path, vkey, entries, 2, 1.3, trials)


if __name__ == "__main__":
    main()
