"""Real servers for the HTTP benchmarks: a free port, a fresh PostgreSQL schema, `ledger serve`
(or any command) started in its own session and stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ledger.client.keyfile import save_private_key

from .common import LOG, OPERATOR, ORIGIN, RECYCLER, register

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server died at start-up")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def start_server(
    args: list[str], env: dict[str, str], url: str, probe: str
) -> subprocess.Popen[bytes]:
    """Run ``args`` in a new session (its own process group) and wait until ``url + probe``
    answers."""
    proc = subprocess.Popen(args, env=env, cwd=ROOT, start_new_session=True)
    try:
        wait_until_up(f"{url}{probe}", proc)
    except BaseException:
        stop_server(proc)
        raise
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (workers and sequencer too), SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def ledger_env(keys: Path) -> dict[str, str]:
    """The environment of a benchmark's `ledger serve` (its log key saved in ``keys``), less
    the database URL: writes unthrottled, the events' 2025 dates accepted."""
    save_private_key(LOG, keys / "log.pem")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")},
        "LEDGER_KEY_DIR": str(keys),
        "LEDGER_ORIGIN": ORIGIN,
        "LEDGER_WRITE_RATE": "1000000",
        "LEDGER_WRITE_BURST": "1000000",
        # the benchmark's events are dated T0 (2025): signed history, imported without the window
        "LEDGER_MAX_PAST_SECONDS": "null",
        "PYTHONPATH": str(ROOT),
    }


def fresh_schema(pg: str, schema: str) -> str:
    """(Re)create ``schema`` in the PostgreSQL database ``pg``; the URL whose connections use it."""
    import psycopg

    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{pg}?options=-csearch_path%3D{schema}"


def drop_schema(pg: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def serve_ledger(db: str, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start `ledger serve --workers N` on ``db``; (the process, its base URL) once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "ledger", "serve", "--port", str(port)]
    proc = start_server(
        [*cmd, "--workers", str(workers)], {**env, "LEDGER_DATABASE_URL": db}, url, "/healthz"
    )
    return proc, url


def register_parties(url: str, token: str) -> None:
    """Register the benchmark's two parties (the operator, the recycler ``bwm``) over HTTP."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for ev in (
        register("operator", ["operator"], OPERATOR),
        register("bwm", ["recycler", "producer"], RECYCLER),
    ):
        httpx.post(f"{url}/v1/events", content=ev.canonical, headers=headers).raise_for_status()


def batch_body(batch: list[bytes]) -> bytes:
    """The body of POST /v1/events/batch for pre-signed canonical events."""
    return b'{"events":[' + b",".join(batch) + b"]}"
