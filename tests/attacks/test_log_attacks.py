"""Attacks on the log, met the way a deployment meets them (issue 11, spec §5.9 and §5.11):
two ``ledger witness serve`` processes, ``ledger serve``, and the ``ledger verify`` and
``ledger monitor`` commands as processes.

(a) a split view: the operator signs two different trees of one size; each witness cosigns
    only the first, ``ledger verify --quorum`` refuses the other, the monitor reports it;
(b) a rollback: the database is restored from an older snapshot after a witness cosigned a
    later checkpoint; the witness refuses what the log signs next, the monitor reports it;
(c) a stolen partner key: an event signed with it but missing from the partner's posting
    journal is reported by that partner's monitor.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.cli.demo import demo_tokens
from ledger.client import LedgerClient
from ledger.client.keyfile import save_private_key
from ledger.core.checkpoint import Checkpoint, Signer, Witness, WitnessSigner
from ledger.monitor import State, save_state
from ledger.service import Ledger
from ledger.service.tokens import create_token
from ledger.store.sql import SqlStore
from tests.e2e.conftest import ScenarioServer, ServerProcess, clean_env, free_port, run_cli
from tests.e2e.conftest import scenario_server as scenario_server  # the fixture
from tests.support.ledgers import HISTORY, NOW, ORIGIN, log_signer, open_ledger
from tests.support.scenario import KEYS, private_key, scenario_chain

#: the log of the rollback attack (a log of its own, so one pair of witnesses serves both)
ROLLBACK_ORIGIN = "rollback.test/log"
ROLLBACK_SIGNER = Signer(ROLLBACK_ORIGIN, private_key("log"))
STARTUP_SECONDS = 30.0


@dataclass
class WitnessProcess:
    signer: WitnessSigner
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def witness(self) -> Witness:
        return self.signer.witness

    def add(self, old: int, note: str, proof: Sequence[bytes] = ()) -> httpx.Response:
        """POST /add-checkpoint as the log does (c2sp.org/tlog-witness)."""
        lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
        body = ("\n".join(lines) + "\n\n" + note).encode()
        return httpx.post(f"{self.url}/add-checkpoint", content=body, timeout=10)


@pytest.fixture(scope="module")
def witnesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WitnessProcess]]:
    """Two witnesses of both test logs, as processes, started together."""
    workdir = tmp_path_factory.mktemp("witnesses")
    logs = [f"{ORIGIN}={log_signer().verifier.vkey}"]
    logs.append(f"{ROLLBACK_ORIGIN}={ROLLBACK_SIGNER.verifier.vkey}")
    started: list[WitnessProcess] = []
    try:
        for n in (1, 2):
            signer = WitnessSigner.generate(f"witness.test/w{n}")
            key = workdir / f"w{n}.key"
            key.write_text(signer.skey + "\n")
            port = free_port()
            args = ["--key", str(key), "--db", f"sqlite:///{workdir / f'w{n}.db'}"]
            args += [x for spec in logs for x in ("--log", spec)] + ["--port", str(port)]
            with (workdir / f"w{n}.err").open("wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "ledger", "witness", "serve", *args],
                    env=clean_env(),
                    cwd=workdir,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            started.append(WitnessProcess(signer, port, proc))
        deadline = time.monotonic() + STARTUP_SECONDS
        for w in started:
            while True:
                try:
                    httpx.get(w.url + "/", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    assert w.proc.poll() is None, (workdir / "w1.err").read_text()
                    assert time.monotonic() < deadline, "a witness did not start"
                    time.sleep(0.05)
        yield started
    finally:
        for w in started:
            w.proc.terminate()
            w.proc.wait(timeout=10)


def run_all(*commands: Sequence[str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """``python -m ledger ARGS`` for each command, run side by side."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ledger", *args],
            env=clean_env(),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    done = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(list(args), proc.returncode, out, err))
    return done


def findings(out: str) -> list[dict[str, Any]]:
    """The monitor's findings (its JSON lines other than the summary)."""
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [x for x in lines if "finding" in x]


def lot_create(lot: str) -> dict[str, Any]:
    return {
        "lot": lot,
        "material": "aluminium scrap",
        "mass_kg": "10",
        "composition": {"Al": "0.92"},
        "source": "post_consumer",
        "site": {"country": "KR", "name": "Gumi"},
    }


def serve_env(db: Path, workdir: Path, origin: str) -> dict[str, str]:
    key_dir = workdir / "keys"
    key_dir.mkdir(exist_ok=True)
    save_private_key(private_key("log"), key_dir / "log.pem")
    return clean_env(
        LEDGER_DATABASE_URL=f"sqlite:///{db}", LEDGER_KEY_DIR=str(key_dir), LEDGER_ORIGIN=origin
    )


# ----------------------------------------------------------------------------- (a) split view
def test_a_split_view_is_cosigned_once_refused_by_verify_and_seen_by_the_monitor(
    witnesses: list[WitnessProcess], tmp_path: Path
) -> None:
    # the operator keeps two histories under one key and origin: the scenario, then one
    # different event in each, so both trees have the same size
    chain = scenario_chain()
    common = chain.events
    fork = {name: chain.make("alus", "lot.create", lot_create(f"SPLIT-{name}")) for name in "AB"}
    views: dict[str, tuple[int, bytes, str, dict[str, Any]]] = {}
    for name, ev in fork.items():
        ledger = open_ledger(f"sqlite:///{tmp_path / f'{name}.db'}")
        for e in [*common, ev]:
            ledger.append(e)
        cp = ledger.checkpoint()
        views[name] = (cp.size, cp.root, cp.note, ledger.bundle(f"SPLIT-{name}"))
        ledger.close()
    (size, root_a, note_a, bundle_a), (size_b, root_b, note_b, bundle_b) = views["A"], views["B"]
    assert size == size_b and root_a != root_b

    # A is shown to the witnesses first: both cosign it; neither cosigns B
    cosigned_a = note_a
    for w in witnesses:
        r = w.add(0, note_a)
        assert r.status_code == 200, r.text
        cosigned_a += r.text
    for w in witnesses:
        assert (w.add(0, note_b).status_code, w.add(0, note_b).text) == (409, f"{size}\n")
        assert w.add(size, note_b).status_code == 409  # same size, another root

    # B "cosigned" by a key the operator made up under the first witness's name
    forger = WitnessSigner.generate(witnesses[0].signer.name)
    forged_b = note_b + forger.cosign(Checkpoint(ORIGIN, size, root_b), int(NOW.timestamp()))
    files = {}
    for name, bundle in {
        "a": {**bundle_a, "checkpoint": cosigned_a},
        "b": bundle_b,
        "b-forged": {**bundle_b, "checkpoint": forged_b},
    }.items():
        files[name] = tmp_path / f"bundle-{name}.json"
        files[name].write_text(json.dumps(bundle))
    trusted = tmp_path / "cosigned-a.txt"
    trusted.write_text(cosigned_a)

    # the monitor remembers A; a server serving B to it is caught
    state = tmp_path / "state.json"
    save_state(state, State(ORIGIN, size, root_a, 0))
    served_b = ServerProcess(serve_env(tmp_path / "B.db", tmp_path, ORIGIN), tmp_path).start()
    try:
        vkey = log_signer().verifier.vkey
        quorum = [x for w in witnesses for x in ("--witness", w.witness.vkey)]
        watch = ["monitor", "--url", served_b.url, "--log-key", vkey, "--once"]
        ok_a, plain_b, quorum_b, forged, trusted_b, mon_state, mon_witness = run_all(
            ["verify", str(files["a"]), "--log-key", vkey, *quorum, "--quorum", "2"],
            ["verify", str(files["b"]), "--log-key", vkey],
            ["verify", str(files["b"]), "--log-key", vkey, *quorum, "--quorum", "1"],
            ["verify", str(files["b-forged"]), "--log-key", vkey, *quorum, "--quorum", "1"],
            ["verify", str(files["b"]), "--log-key", vkey, "--trusted-checkpoint", str(trusted)],
            [*watch, "--state", str(state)],
            [*watch, "--checkpoint", str(trusted)],
            cwd=tmp_path,
        )
    finally:
        served_b.stop()
    assert "Traceback" not in served_b.stderr(), served_b.stderr()[-3000:]
    assert ok_a.returncode == 0, ok_a.stdout + ok_a.stderr
    # B is a validly signed tree: only the witnesses (or a checkpoint seen before) expose it
    assert plain_b.returncode == 0, plain_b.stdout + plain_b.stderr
    for refused in (quorum_b, forged, trusted_b):
        assert refused.returncode == 1, refused.stdout + refused.stderr
    for refused in (quorum_b, forged):
        assert "0 of the required 1 witness cosignatures" in refused.stdout, refused.stdout
    assert "split_view" in trusted_b.stdout, trusted_b.stdout
    for run in (mon_state, mon_witness):
        assert run.returncode == 1, run.stdout + run.stderr
        assert [x["finding"] for x in findings(run.stdout)] == ["split_view"]
    assert json.loads(state.read_text())["size"] == size  # the monitor kept A


# ----------------------------------------------------------------------------- (b) rollback
def test_a_rolled_back_database_is_refused_by_the_witness_and_seen_by_the_monitor(
    witnesses: list[WitnessProcess], tmp_path: Path
) -> None:
    witness = witnesses[0]
    db = tmp_path / "ledger.db"
    ledger = Ledger(
        SqlStore(f"sqlite:///{db}"),
        log_signer=ROLLBACK_SIGNER,
        origin=ROLLBACK_ORIGIN,
        clock=lambda: NOW,
        config=HISTORY,
    )
    for ev in scenario_chain().events:
        ledger.append(ev)
    tokens = demo_tokens(lambda party, role: create_token(ledger.store, party, role))
    ledger.close()
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for f in tmp_path.glob("ledger.db*"):  # the operator's backup at size N1
        shutil.copy2(f, snapshot / f.name)

    env = serve_env(db, tmp_path, ROLLBACK_ORIGIN)
    vkey = ROLLBACK_SIGNER.verifier.vkey
    state = tmp_path / "state.json"
    watch = ["monitor", "--log-key", vkey, "--state", str(state), "--once"]

    def post(url: str, n: int) -> str:
        with LedgerClient(url, tokens["alus"], party="alus", key=KEYS["alus"]) as sdk:
            for i in range(n):
                sdk.submit("lot.create", lot_create(f"RB-{i}-{uuid.uuid4().hex[:8]}"))
        return httpx.get(f"{url}/v1/log/checkpoint", timeout=10).text

    server = ServerProcess(env, tmp_path).start()
    try:
        note2 = post(server.url, 2)
        size2 = int(note2.split("\n")[1])
        r = witness.add(0, note2)  # the witness cosigns size N2
        assert r.status_code == 200, r.text
        seen = run_cli([*watch, "--url", server.url], clean_env(), tmp_path)
        assert seen.returncode == 0, seen.stdout + seen.stderr
        assert json.loads(state.read_text())["size"] == size2
    finally:
        server.stop()

    # the database goes back to the snapshot; the server comes back on it
    for f in tmp_path.glob("ledger.db*"):
        f.unlink()
    for f in snapshot.iterdir():
        shutil.copy2(f, tmp_path / f.name)
    restored = ServerProcess(env, tmp_path).start()
    try:
        shrunk = run_cli([*watch, "--url", restored.url], clean_env(), tmp_path)
        note3 = post(restored.url, 3)  # other events, past N2
        size3 = int(note3.split("\n")[1])
        assert size3 > size2
        got = httpx.get(
            f"{restored.url}/v1/log/proof/consistency", params={"from": size2, "to": size3}
        )
        proof = [base64.b64decode(h) for h in got.json()["proof"]]
        regrown = run_cli([*watch, "--url", restored.url], clean_env(), tmp_path)
    finally:
        restored.stop()
    assert "Traceback" not in restored.stderr(), restored.stderr()[-3000:]

    # the witness: a stale old size is 409 with its size; the restored log's proof fails, 422
    r = witness.add(0, note3)
    assert (r.status_code, r.text) == (409, f"{size2}\n")
    assert witness.add(size2, note3, proof).status_code == 422
    # the monitor that saw N2: a smaller tree first, then a bigger one N2 is no prefix of
    assert shrunk.returncode == 1, shrunk.stdout + shrunk.stderr
    assert [x["finding"] for x in findings(shrunk.stdout)] == ["rollback"]
    assert regrown.returncode == 1, regrown.stdout + regrown.stderr
    assert [x["finding"] for x in findings(regrown.stdout)] == ["inconsistent"]
    assert json.loads(state.read_text())["size"] == size2  # it never moves to the forked tree


# ----------------------------------------------------------------------------- (c) stolen key
def test_an_event_posted_with_a_stolen_partner_key_is_reported_by_its_monitor(
    scenario_server: ScenarioServer, tmp_path: Path
) -> None:
    party = "bwm"
    url, token = scenario_server.url, scenario_server.tokens[party]
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    save_private_key(KEYS[party], key_dir / f"{party}.pem")
    journal = tmp_path / "journal.jsonl"
    start = httpx.get(f"{url}/v1/log/checkpoint", timeout=10).text.split("\n")[1]
    watch = [
        "monitor", "--url", url, "--log-key", log_signer().verifier.vkey, "--once",
        "--party", party, "--token", token, "--key-dir", str(key_dir),
        "--journal", str(journal), "--start", start, "--state", str(tmp_path / "state.json"),
    ]  # fmt: skip

    def create(sdk: LedgerClient) -> str:
        return sdk.submit("lot.create", lot_create(f"STOLEN-{uuid.uuid4().hex[:12]}")).hash

    with LedgerClient(url, token, party=party, key=KEYS[party], journal=journal) as sdk:
        create(sdk)
        create(sdk)
    clean = run_cli(watch, clean_env(), tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert findings(clean.stdout) == []

    # the thief holds the key (and a token); it keeps no journal
    with LedgerClient(url, token, party=party, key=KEYS[party], journal=None) as thief:
        stolen = create(thief)
    found = run_cli(watch, clean_env(), tmp_path)
    assert found.returncode == 1, found.stdout + found.stderr
    reported = findings(found.stdout)
    assert [(x["finding"], x["hash"]) for x in reported] == [("unjournaled_event", stolen)]
