"""``ledger witness keygen`` and ``ledger witness serve`` as the operator runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from ledger.cli.app import app
from ledger.core.checkpoint import Witness, WitnessSigner, verify_cosignatures
from tests.support.ledgers import ORIGIN, log_signer
from tests.witness.conftest import Log, body

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_keygen_writes_a_secret_key_and_prints_its_vkey(tmp_path: Path) -> None:
    out = tmp_path / "witness.key"
    r = runner.invoke(app, ["witness", "keygen", str(out), "--name", "w.test/1"])
    assert r.exit_code == 0, r.output
    signer = WitnessSigner.parse(out.read_text())
    assert Witness.parse(r.output.strip()) == signer.witness
    assert out.stat().st_mode & 0o777 == 0o600
    r = runner.invoke(app, ["witness", "keygen", str(out)])
    assert r.exit_code == 2 and "exists" in r.output
    r = runner.invoke(app, ["witness", "keygen", str(tmp_path / "k2"), "--name", "bad name"])
    assert r.exit_code == 2


def test_serve_refuses_a_bad_log_option(tmp_path: Path) -> None:
    key = tmp_path / "w.key"
    runner.invoke(app, ["witness", "keygen", str(key)])
    r = runner.invoke(app, ["witness", "serve", "--key", str(key), "--log", "no-equals"])
    assert r.exit_code == 2 and "ORIGIN=VKEY" in r.output
    r = runner.invoke(app, ["witness", "serve", "--key", str(key), "--log", f"{ORIGIN}=junk"])
    assert r.exit_code == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_add_checkpoint_over_http(tmp_path: Path, log: Log) -> None:
    key = tmp_path / "w.key"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "ledger"]
    made = subprocess.run(
        [*cmd, "witness", "keygen", str(key), "--name", "w.test/1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    witness = Witness.parse(made.stdout.strip())
    port = _free_port()
    proc = subprocess.Popen(
        [
            *cmd, "witness", "serve", "--key", str(key),
            "--log", f"{ORIGIN}={log_signer().verifier.vkey}",
            "--db", f"sqlite:///{tmp_path / 'w.db'}", "--port", str(port),
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "witness did not start"
                time.sleep(0.1)
        r = httpx.post(url + "/add-checkpoint", content=body(0, log.note1), timeout=10)
        assert r.status_code == 200, r.text
        assert verify_cosignatures(log.note1 + r.text, [witness], 1) == ("w.test/1",)
        r = httpx.post(url + "/add-checkpoint", content=body(0, log.note1), timeout=10)
        assert (r.status_code, r.text) == (409, f"{log.size1}\n")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
