"""The log uses its witnesses (spec §5.9): `ledger witness serve` processes cosign the ledger's
checkpoints in the background, the cosignatures are stored and served, bundles carry them, and
a dead witness never blocks an append."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from ledger.cli.app import app
from ledger.core.checkpoint import CheckpointError, Witness, verify_checkpoint
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.witnessing import WitnessTarget
from tests.support.ledgers import ORIGIN, log_signer, open_ledger
from tests.support.scenario import SCRAP, scenario_events

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
INTERVAL = 0.2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _eventually(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def witnesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WitnessTarget]]:
    """Two `ledger witness serve` processes trusting the tests' log key."""
    tmp = tmp_path_factory.mktemp("witnesses")
    procs, targets = [], []
    try:
        for n in (1, 2):
            key = tmp / f"w{n}.key"
            made = CliRunner().invoke(
                app, ["witness", "keygen", str(key), "--name", f"w{n}.test/witness"]
            )
            assert made.exit_code == 0, made.output
            port = _free_port()
            cmd = [sys.executable, "-m", "ledger", "witness", "serve", "--key", str(key)]
            cmd += ["--log", f"{ORIGIN}={log_signer().verifier.vkey}", "--port", str(port)]
            cmd += ["--db", f"sqlite:///{tmp / f'w{n}.db'}"]
            procs.append(
                subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            )
            targets.append(
                WitnessTarget(Witness.parse(made.output.strip()), f"http://127.0.0.1:{port}")
            )
        for proc, t in zip(procs, targets, strict=True):

            def up(url: str = t.url, proc: subprocess.Popen[bytes] = proc) -> bool:
                assert proc.poll() is None, proc.communicate()
                try:
                    return httpx.get(url + "/", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            _eventually(up, "witness did not start", 30)
        yield targets
    finally:
        for proc in procs:
            proc.terminate()
            proc.communicate(timeout=10)


def _cosigned(client: TestClient, ws: list[Witness], quorum: int, size: int) -> bool:
    note = client.get("/v1/log/checkpoint").text
    try:
        cp = verify_checkpoint(note, log_signer().verifier, witnesses=ws, quorum=quorum)
    except CheckpointError:
        return False
    return cp.size == size


def test_both_witnesses_cosign_and_bundles_carry_it(
    tmp_path: Path, witnesses: list[WitnessTarget]
) -> None:
    ws = [t.witness for t in witnesses]
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    events = scenario_events()

    def ledger() -> Ledger:
        return open_ledger(db, witnesses=witnesses, witness_quorum=2, witness_interval=INTERVAL)

    led = ledger()
    with TestClient(create_app(Settings(origin=ORIGIN), ledger=led)) as c:
        for ev in events[:5]:
            led.append(ev)
        _eventually(lambda: _cosigned(c, ws, 2, 5), "both witnesses cosign size 5")
        for ev in events[5:]:
            led.append(ev)
        size = led.size()
        _eventually(lambda: _cosigned(c, ws, 2, size), "both witnesses cosign the latest size")
        note = c.get("/checkpoint").text
        assert note == c.get("/v1/log/checkpoint").text
        assert sum(line.startswith("— w") for line in note.splitlines()) == 2
        health = c.get("/healthz").json()
        assert health["cosigned_size"] == health["checkpoint_size"] == size
        assert [(w["name"], w["last_size"], w["error"]) for w in health["witnesses"]] == [
            ("w1.test/witness", size, None),
            ("w2.test/witness", size, None),
        ]
        bundle = led.bundle(SCRAP)
        assert bundle["checkpoint"] == note
    led.close()

    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    args = [sys.executable, "-m", "ledger", "verify", str(path)]
    args += ["--log-key", log_signer().verifier.vkey, "--quorum", "2"]
    for w in ws:
        args += ["--witness", w.vkey]
    done = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr

    # restart: the cosignatures are in the database, and so is each witness's size
    led = ledger()
    try:
        assert [st.last_size for st in led.witnessing.states] == [size, size]
        note2 = led.cosigned_checkpoint().note
        assert verify_checkpoint(note2, log_signer().verifier, witnesses=ws, quorum=2).size == size
    finally:
        led.close()


def test_a_dead_witness_never_blocks_appends(
    tmp_path: Path, witnesses: list[WitnessTarget]
) -> None:
    hanging = socket.socket()  # accepts connections (backlog), never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)
    refused = _free_port()  # nothing listens
    dead = [
        WitnessTarget(witnesses[1].witness, f"http://127.0.0.1:{refused}"),
        WitnessTarget(witnesses[0].witness, f"http://127.0.0.1:{hanging.getsockname()[1]}"),
    ]
    targets = [witnesses[0], dead[0]]
    led = open_ledger(
        f"sqlite:///{tmp_path / 'ledger.db'}",
        witnesses=targets,
        witness_quorum=1,
        witness_interval=INTERVAL,
    )
    hang_led = open_ledger(
        f"sqlite:///{tmp_path / 'hang.db'}",
        witnesses=[dead[1]],
        witness_quorum=1,
        witness_interval=INTERVAL,
    )
    try:
        with (
            TestClient(create_app(Settings(origin=ORIGIN), ledger=led)) as c,
            TestClient(create_app(Settings(origin=ORIGIN), ledger=hang_led)) as hc,
        ):
            for ev in scenario_events():
                t0 = time.monotonic()
                led.append(ev)
                hang_led.append(ev)
                assert time.monotonic() - t0 < 1.0
                hc.get("/v1/log/checkpoint")  # a round can start with the hanging witness
            size = led.size()
            ws = [witnesses[0].witness]
            _eventually(lambda: _cosigned(c, ws, 1, size), "the live witness cosigns")
            health = c.get("/healthz").json()
            live, down = health["witnesses"]
            assert (live["last_size"], live["error"]) == (size, None)
            assert down["error"] and down["last_ok"] is None
            # the hanging witness: the served checkpoint is the plain latest one meanwhile
            t0 = time.monotonic()
            assert hc.get("/v1/log/checkpoint").text == hang_led.checkpoint().note
            assert time.monotonic() - t0 < 1.0
        out = CliRunner().invoke(app, ["log", "status", "--url", "http://127.0.0.1:1"])
        assert out.exit_code == 2
    finally:
        led.close()
        hang_led.close()
        hanging.close()


def test_log_status_prints_the_health(monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.client.models import HealthOut

    health = HealthOut.model_validate(
        {
            "status": "ok",
            "size": 7,
            "checkpoint_size": 7,
            "cosigned_size": 5,
            "witness_quorum": 1,
            "witnesses": [
                {"name": "w1", "vkey": "v", "url": "http://w1", "last_size": 5, "last_ok": "t"},
                {"name": "w2", "vkey": "v2", "url": "http://w2", "error": "HTTP 404: unknown"},
            ],
        }
    )
    monkeypatch.setattr("ledger.client.LedgerClient.health", lambda self: health)
    out = CliRunner().invoke(app, ["log", "status", "--url", "http://ledger.test"])
    assert out.exit_code == 0, out.output
    assert "cosigned size    5 (quorum 1)" in out.output
    assert "witness w1 http://w1: size 5, ok" in out.output
    assert "witness w2 http://w2: size none, HTTP 404: unknown" in out.output


def test_settings_parse_and_refuse_witnesses(witnesses: list[WitnessTarget]) -> None:
    entries = " ".join(f"{t.witness.vkey}={t.url}" for t in witnesses)
    s = Settings(witnesses=entries, witness_quorum=2)
    assert s.witness_targets() == witnesses
    with pytest.raises(ValidationError, match="exceeds the 2 witnesses"):
        Settings(witnesses=entries, witness_quorum=3)
    with pytest.raises(ValidationError, match="'junk' is not VKEY=URL"):
        Settings(witnesses=entries + " junk")
    with pytest.raises(ValidationError, match="not a witness verifier key"):
        Settings(witnesses=f"{log_signer().verifier.vkey}=http://w.test")
    with pytest.raises(ValidationError, match="twice"):
        Settings(witnesses=f"{entries} {entries}")


def test_several_nodes_on_one_database_share_the_witnesses(
    tmp_path: Path, witnesses: list[WitnessTarget]
) -> None:
    """Two writers on one database (two nodes, README "Running at scale"), each witnessing with
    the same two witnesses while both append: the witnesses see checkpoints of one log arrive
    from two places, out of order. Every node ends up serving the latest size cosigned by both,
    and each witness's state is that size, with no error left."""
    ws = [t.witness for t in witnesses]
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    nodes = [
        open_ledger(db, witnesses=witnesses, witness_quorum=2, witness_interval=INTERVAL)
        for _ in range(2)
    ]
    events = scenario_events()
    try:
        clients = [TestClient(create_app(Settings(origin=ORIGIN), ledger=n)) for n in nodes]
        with clients[0] as a, clients[1] as b:
            for i, ev in enumerate(events):  # alternate nodes, the checkpoints racing
                nodes[i % 2].append(ev)
                (a if i % 2 else b).get("/v1/log/checkpoint")
                time.sleep(INTERVAL / 4)
            size = nodes[0].size()
            assert size == nodes[1].size() == len(events)
            for c in (a, b):
                _eventually(lambda c=c: _cosigned(c, ws, 2, size), "both witnesses cosign", 30)

                def settled(c: TestClient = c) -> bool:
                    health = c.get("/healthz").json()
                    states = [(w["last_size"], w["error"]) for w in health["witnesses"]]
                    return states == [(size, None), (size, None)]

                _eventually(settled, "each witness at the latest size, no error left", 30)
            assert a.get("/v1/log/checkpoint").text == b.get("/v1/log/checkpoint").text
    finally:
        for n in nodes:
            n.close()
