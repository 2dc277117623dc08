"""HTTP benchmarks of GUIDE.md's table, figures AND ratios measured in the same run.

    apt-get install wrk          # the load generator (Debian package)
    .venv/bin/python -m tests.bench.bench_http [--seconds 10] [--connections 32]

1. single-event POST /v1/events on SQLite, one uvicorn worker, durable (fsync'd) commits,
   vs a bare FastAPI endpoint doing only the same strict parse + JCS + Ed25519 verify
   (tests/bench/bare_app.py) — target >= 0.8;
2. batch ingest through POST /v1/events/batch (1000 events per request) vs the raw Ed25519
   verify rate of one core — target >= 0.65.
Every request posts a different pre-signed lot.create, so nothing is an idempotent repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ledger.client.keyfile import save_private_key
from ledger.service.tokens import create_token
from ledger.store.sql import SqlStore

from .common import (
    LOG,
    OPERATOR,
    ORIGIN,
    RECYCLER,
    raw_verify_rate,
    register,
    sign_creates_parallel,
)

ROOT = Path(__file__).resolve().parents[2]

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server died at start-up")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="ltl-http-bench-"))
    n = 60_000 * max(1, args.seconds // 10)
    print(f"signing {n} events (set-up, not timed) ...", flush=True)
    payloads = sign_creates_parallel(n, salt="http")
    bodies = tmp / "events.jsonl"
    bodies.write_bytes(b"\n".join(payloads) + b"\n")

    keys = tmp / "keys"
    save_private_key(LOG, keys / "log.pem")
    db = tmp / "ledger.db"
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{db}",
        "LEDGER_KEY_DIR": str(keys),
        "LEDGER_ORIGIN": ORIGIN,
        "LEDGER_WRITE_RATE": "1000000",
        "LEDGER_WRITE_BURST": "1000000",
        # the benchmark's events are dated T0 (2025): signed history, imported without the window
        "LEDGER_MAX_PAST_SECONDS": "null",
        "PYTHONPATH": str(ROOT),
    }
    store = SqlStore(env["LEDGER_DATABASE_URL"])
    token = create_token(store, "operator", "admin")
    store.close()

    # -- the bare reference
    port = _free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.bench.bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/docs", bare)
        ref = _wrk(
            f"http://127.0.0.1:{port}", "/bare", bodies, None, args.seconds, args.connections
        )
    finally:
        bare.terminate()
        bare.wait()

    # -- the ledger
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port)], env=env, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/healthz", server)
        auth = {"Authorization": f"Bearer {token}"}
        json_auth = {**auth, "Content-Type": "application/json"}
        for ev in (
            register("operator", ["operator"], OPERATOR),
            register("bwm", ["recycler", "producer"], RECYCLER),
        ):
            httpx.post(
                f"{url}/v1/events", content=ev.canonical, headers=json_auth
            ).raise_for_status()
        ours = _wrk(url, "/v1/events", bodies, token, args.seconds, args.connections)
        size_after_single = httpx.get(f"{url}/healthz").json()["size"]
        # batch ingest: fresh events (the single-event run used a prefix of the file)
        fresh = sign_creates_parallel(20_000, salt="batch")
        raw_before = raw_verify_rate(1.0)
        start = time.perf_counter()
        with httpx.Client(base_url=url, headers=auth, timeout=120) as client:
            for i in range(0, len(fresh), 1000):
                body = b'{"events":[' + b",".join(fresh[i : i + 1000]) + b"]}"
                r = client.post(
                    "/v1/events/batch", content=body, headers={"Content-Type": "application/json"}
                )
                r.raise_for_status()
                assert all(item["status"] == 201 for item in r.json()["results"])
        batch_rate = len(fresh) / (time.perf_counter() - start)
        raw = (raw_before + raw_verify_rate(1.0)) / 2
    finally:
        server.terminate()
        server.wait()
    print(f"bare FastAPI JCS+verify endpoint   {ref:8.0f} req/s")
    print(
        f"POST /v1/events (SQLite, durable)  {ours:8.0f} req/s   ratio {ours / ref:.2f} "
        f"(target >= 0.8)   [{size_after_single} events in the log]"
    )
    print(f"raw Ed25519 verify (one core)      {raw:8.0f} verifies/s")
    print(
        f"POST /v1/events/batch ingest       {batch_rate:8.0f} events/s "
        f"ratio {batch_rate / raw:.2f} (target >= 0.65)"
    )
    print(json.dumps({"bare": ref, "single": ours, "batch": batch_rate, "raw": raw}))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
