"""HTTP benchmarks of issue 13, every figure divided by a floor measured in the same run.

    apt-get install wrk          # the load generator (Debian package)
    .venv/bin/python -m tests.bench.bench_http [--seconds 10] [--connections 32]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

For 1 and 2 server workers (uvicorn processes; the ledger's one sequencer process besides):

1. single-event POST /v1/events vs a bare FastAPI endpoint doing only the same strict parse +
   JCS + Ed25519 verify (tests/bench/bare_app.py) run with the same number of workers —
   target >= 0.8, on SQLite (durable: WAL, synchronous=FULL) and on PostgreSQL; the bare
   endpoint is measured right before each ledger run, the floor of that run;
2. batch ingest through POST /v1/events/batch (1000 events per request, one client per
   worker) vs the raw Ed25519 verify rate of ONE core — target >= 0.65 with one worker,
   >= 1.0 with two.
The 2-worker / 1-worker scaling of each is printed too: wrk shares the two cores.
Every request posts a different pre-signed lot.create into a fresh database, so nothing is an
idempotent repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ledger.service.tokens import create_token
from ledger.store.sql import SqlStore

from .common import raw_verify_rate, sign_creates_parallel
from .servers import (
    batch_body,
    drop_schema,
    free_port,
    fresh_schema,
    ledger_env,
    register_parties,
    serve_ledger,
    start_server,
    stop_server,
)

LUA = r"""
local bodies = {}
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local n = tonumber(args[2])
  local total = tonumber(args[3])
  local i = 0
  for line in io.lines(args[1]) do
    if i % total == id then table.insert(bodies, line) end
    i = i + 1
  end
  idx = 0
end
function request()
  idx = idx + 1
  if idx > #bodies then idx = 1 end
  return wrk.format("POST", path, headers, bodies[idx])
end
"""


def _wrk(
    url: str,
    path: str,
    bodies: Path,
    token: str | None,
    seconds: int,
    connections: int,
    threads: int = 2,
) -> float:
    script = bodies.with_suffix(".lua")
    header = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    script.write_text(
        f'path = "{path}"\nwrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        + header
        + LUA.replace("headers, bodies[idx]", "wrk.headers, bodies[idx]")
    )
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "-s",
            str(script),
            url,
            "--",
            str(bodies),
            "0",
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} requests failed:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


@dataclass
class Run:
    """One configuration's figures."""

    bare: float
    single: float
    batch: float
    raw: float
    size: int


def _bare(workers: int, bodies: Path, env: dict[str, str], args: argparse.Namespace) -> float:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "tests.bench.bare_app:app", "--port", str(port)]
    cmd += ["--log-level", "warning"]
    if workers > 1:  # the same process model as `ledger serve --workers N`
        cmd = [sys.executable, "-m", "tests.bench.bare_serve", str(port), str(workers)]
    proc = start_server(cmd, env, f"http://127.0.0.1:{port}", "/docs")
    try:
        return _wrk(
            f"http://127.0.0.1:{port}", "/bare", bodies, None, args.seconds, args.connections
        )
    finally:
        stop_server(proc)


def _fresh_database(kind: str, tmp: Path, pg: str | None, n: int) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'ledger-{n}.db'}"
    assert pg is not None
    return fresh_schema(pg, _schema(n))


def _schema(n: int) -> str:
    return f"bench_http_{os.getpid()}_{n}"


def _ledger(
    db: str,
    workers: int,
    bodies: Path,
    batches: list[list[bytes]],
    env0: dict[str, str],
    args: argparse.Namespace,
) -> tuple[float, float, float, int]:
    store = SqlStore(db)
    token = create_token(store, "operator", "admin")
    store.close()
    proc, url = serve_ledger(db, workers, env0)
    try:
        json_auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        register_parties(url, token)
        single = _wrk(url, "/v1/events", bodies, token, args.seconds, args.connections)
        size = httpx.get(f"{url}/healthz").json()["size"]
        raw_before = raw_verify_rate(1.0)
        parts = [batches[i::workers] for i in range(workers)]  # one client per worker

        def client(part: list[list[bytes]]) -> None:
            with httpx.Client(base_url=url, headers=json_auth, timeout=300) as c:
                for batch in part:
                    r = c.post("/v1/events/batch", content=batch_body(batch))
                    r.raise_for_status()
                    assert all(item["status"] == 201 for item in r.json()["results"])

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(p,)) for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        batch = sum(map(len, batches)) / (time.perf_counter() - start)
        raw = (raw_before + raw_verify_rate(1.0)) / 2
    finally:
        stop_server(proc)
    return single, batch, raw, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LEDGER_TEST_POSTGRES_URL"),
        help="a PostgreSQL URL (a fresh schema per run); default $LEDGER_TEST_POSTGRES_URL",
    )
    parser.add_argument("--batch-events", type=int, default=20_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="ltl-http-bench-"))
    n = 60_000 * max(1, args.seconds // 10)
    print(f"signing {n + args.batch_events} events (set-up, not timed) ...", flush=True)
    payloads = sign_creates_parallel(n, salt="http")
    bodies = tmp / "events.jsonl"
    bodies.write_bytes(b"\n".join(payloads) + b"\n")
    fresh = sign_creates_parallel(args.batch_events, salt="batch")
    batches = [fresh[i : i + 1000] for i in range(0, len(fresh), 1000)]

    env = ledger_env(tmp / "keys")
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    runs: dict[tuple[str, int], Run] = {}
    bare: dict[int, list[float]] = {1: [], 2: []}
    for workers in (1, 2):
        for kind in kinds:
            # the floor is measured right before each run: this VM's CPU speed drifts within
            # minutes (raw verify 5,000 to 8,700/s in one run), so a floor measured once for
            # all runs skews every ratio after it
            bare[workers].append(_bare(workers, bodies, env, args))
            n = len(runs)
            db = _fresh_database(kind, tmp, args.postgres, n)
            try:
                single, batch, raw, size = _ledger(db, workers, bodies, batches, env, args)
            finally:
                if kind == "postgresql":
                    drop_schema(args.postgres, _schema(n))
            runs[(kind, workers)] = Run(bare[workers][-1], single, batch, raw, size)
    print(
        f"\nwrk: {args.connections} connections, {args.seconds} s; batch: "
        f"{args.batch_events} events in requests of 1000, one client per worker"
    )
    for workers in (1, 2):
        floors = ", ".join(f"{b:.0f}" for b in bare[workers])
        print(f"bare FastAPI JCS+verify endpoint, {workers} worker(s): {floors} req/s ({kinds})")
    for (kind, workers), r in runs.items():
        target = 0.65 if workers == 1 else 1.0
        print(
            f"{kind:10s} {workers} worker(s): POST /v1/events {r.single:8.0f} req/s  ratio "
            f"{r.single / r.bare:.2f} vs bare {r.bare:.0f} (target >= 0.8) [{r.size} events]; "
            "batch ingest "
            f"{r.batch:8.0f} events/s vs raw one-core verify {r.raw:6.0f}/s  ratio "
            f"{r.batch / r.raw:.2f} (target >= {target})"
        )
    for kind in kinds:
        one, two = runs[(kind, 1)], runs[(kind, 2)]
        print(
            f"{kind:10s} scaling 2/1 workers: single {two.single / one.single:.2f} "
            f"(bare {two.bare / one.bare:.2f}), batch {two.batch / one.batch:.2f}"
        )
    print(json.dumps({f"{k}/{w}": vars(r) for (k, w), r in runs.items()}))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
