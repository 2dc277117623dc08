"""Several nodes and workers on one database keep ONE log (issue 13 item 2), with real
processes: ``ledger serve --workers 2`` on SQLite, and three such nodes on one PostgreSQL under
concurrent load, one of them killed with ``kill -9`` mid-run and started again.

Every client thread owns a few lots and extends each one event after another, sending each
event to a node picked at random and, when no answer comes (the node died), the SAME signed
bytes to another node: an event is idempotent (same bytes, same receipt), so a retry never
forks a lot. Afterwards the log must have contiguous sequence numbers, unique hashes, linear
lot chains, one root at every size (every checkpoint any node served included), every
acknowledged event at the sequence number its receipt gave, and ``ledger fsck`` clean.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ledger.client.keyfile import save_private_key
from ledger.core import merkle
from ledger.core.checkpoint import Verifier, verify_checkpoint
from ledger.core.events import SignedEvent, sign
from ledger.errors import LedgerError
from ledger.service.tokens import create_token
from ledger.store.sql import SqlStore
from tests.e2e.conftest import ServerProcess, clean_env, run_cli
from tests.support import ledgers
from tests.support.scenario import (
    KEYS,
    now_text,
    private_key,
    registered_chain,
    scrap_body,
)

pytestmark = pytest.mark.slow

THREADS = 6
LOTS_PER_THREAD = 2
STEPS = 12  # events per lot after its creation (at least; more while a node restarts)


def _event(lot: str, head: str | None, step: int) -> SignedEvent:
    if head is None:  # a 1000 kg lot
        body = scrap_body(lot)
        return sign(type="lot.create", actor="bwm", key=KEYS["bwm"], body=body, time=now_text())
    return sign(
        type="lot.adjust",
        actor="bwm",
        key=KEYS["bwm"],
        prev={lot: head},
        time=now_text(),
        body={"lot": lot, "mass_kg": str(1000 - step), "reason": f"step {step}"},
    )


@dataclass
class Cluster:
    """Nodes on one database, the partner token that writes, and what the load saw."""

    nodes: list[ServerProcess]
    token: str
    dead: set[int] = field(default_factory=set)
    acked: dict[str, int] = field(default_factory=dict)  # event hash -> seq of its receipt
    chains: dict[str, list[str]] = field(default_factory=dict)  # lot -> acked hashes in order
    roots: dict[int, set[str]] = field(default_factory=dict)  # size -> roots nodes served
    served: dict[int, int] = field(default_factory=dict)  # node -> events it acknowledged
    unanswered: int = 0  # posts that got no answer (a node killed mid-request)
    finish: threading.Event = field(default_factory=threading.Event)  # after STEPS: stop
    lock: threading.Lock = field(default_factory=threading.Lock)

    def live(self) -> list[tuple[int, ServerProcess]]:
        return [(i, n) for i, n in enumerate(self.nodes) if i not in self.dead]

    def post(self, client: httpx.Client, ev: SignedEvent) -> dict[str, object]:
        """Send the event to random live nodes until one answers with its receipt."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            i, node = random.choice(
                [(i, n) for i, n in enumerate(self.nodes) if i not in self.dead]
            )
            try:
                r = client.post(
                    f"{node.url}/v1/events",
                    content=ev.canonical,
                    headers={
                        "Authorization": f"Bearer {self.token}",
                        "Content-Type": "application/json",
                    },
                )
            except httpx.TransportError:
                with self.lock:
                    self.unanswered += 1
                continue  # no answer: maybe committed, maybe not; the same bytes elsewhere
            if r.status_code == 503:
                continue  # the node's sequencer is gone
            assert r.status_code in (200, 201), r.text
            receipt: dict[str, object] = r.json()
            with self.lock:
                self.served[i] = self.served.get(i, 0) + 1
            return receipt
        raise AssertionError(f"no node acknowledged event {ev.id}")

    def run_thread(self, k: int, errors: list[BaseException]) -> None:
        try:
            with httpx.Client(timeout=30) as client:
                lots = [f"NODE-T{k}-L{j}-{uuid.uuid4().hex[:6]}" for j in range(LOTS_PER_THREAD)]
                heads: dict[str, str | None] = dict.fromkeys(lots)
                step = 0
                while step <= STEPS or not self.finish.is_set():
                    for lot in lots:
                        ev = _event(lot, heads[lot], step)
                        receipt = self.post(client, ev)
                        assert receipt["hash"] == ev.hash, receipt
                        with self.lock:
                            self.acked[ev.hash] = int(str(receipt["seq"]))
                            self.chains.setdefault(lot, []).append(ev.hash)
                        heads[lot] = ev.hash
                    step += 1
        except BaseException as e:  # reported by the test
            errors.append(e)

    def watch_checkpoints(self, stop: threading.Event, verifier: Verifier) -> None:
        """Collect every checkpoint any live node serves while the load runs."""
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                for _, node in self.live():
                    try:
                        note = client.get(f"{node.url}/v1/log/checkpoint").text
                        cp = verify_checkpoint(note, verifier, origin=ledgers.ORIGIN)
                    except (httpx.TransportError, LedgerError):  # a node dying mid-answer
                        continue
                    with self.lock:
                        self.roots.setdefault(cp.size, set()).add(cp.root.hex())
                stop.wait(0.05)


def _start_cluster(
    db_url: str, tmp_path: Path, count: int, replica: str | None = None
) -> tuple[Cluster, dict[str, str]]:
    """``count`` nodes on ``db_url``; the last one reads Merkle nodes from ``replica``."""
    with ledgers.open_ledger(db_url) as led:
        led.append_many(registered_chain().events)
        token = create_token(led.store, "bwm", "partner")
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    save_private_key(private_key("log"), key_dir / "log.pem")
    env = clean_env(
        LEDGER_DATABASE_URL=db_url,
        LEDGER_KEY_DIR=str(key_dir),
        LEDGER_ORIGIN=ledgers.ORIGIN,
        LEDGER_MAX_PAST_SECONDS="null",  # the registrations are dated 2025 (imported history)
    )
    envs = [env] * count
    if replica is not None:
        envs[-1] = {**env, "LEDGER_READ_DATABASE_URL": replica}
    nodes = [
        ServerProcess(envs[i], tmp_path / f"node{i}", args=("--workers", "2"), new_session=True)
        for i in range(count)
    ]
    starters = [threading.Thread(target=n.start) for n in nodes]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    return Cluster(nodes, token), env


def _run_load(cluster: Cluster, *, kill_after: int | None) -> None:
    verifier = ledgers.log_signer().verifier
    errors: list[BaseException] = []
    stop = threading.Event()
    watcher = threading.Thread(target=cluster.watch_checkpoints, args=(stop, verifier))
    watcher.start()
    threads = [
        threading.Thread(target=cluster.run_thread, args=(k, errors)) for k in range(THREADS)
    ]
    for t in threads:
        t.start()
    if kill_after is not None:
        while len(cluster.acked) < kill_after and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        victim = cluster.nodes[1]
        assert victim.proc is not None
        os.killpg(victim.proc.pid, signal.SIGKILL)  # the whole node: server, workers, sequencer
        victim.proc.wait()
        cluster.dead.add(1)
        acked_at_kill, served_before = len(cluster.acked), cluster.served.get(1, 0)
        # the node comes back on the same database while the others keep writing
        victim.start()
        cluster.dead.discard(1)
        deadline = time.monotonic() + 120
        while cluster.served.get(1, 0) < served_before + 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    cluster.finish.set()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert not errors, errors
    total = sum(len(chain) for chain in cluster.chains.values())
    assert len(cluster.acked) == total >= THREADS * LOTS_PER_THREAD * (STEPS + 1)
    assert all(cluster.served.get(i) for i in range(len(cluster.nodes))), cluster.served
    if kill_after is not None:
        assert acked_at_kill < total, "the load ended before the kill: nothing was tested"
        assert cluster.served[1] > served_before > 0, "node 1 served before and after kill -9"


def _check_log(cluster: Cluster, db_url: str, env: dict[str, str], workdir: Path) -> None:
    store = SqlStore(db_url)
    try:
        records = list(store.iter_events())
        size = len(records)
        assert [r.seq for r in records] == list(range(size)), "sequence numbers have a gap"
        hashes = [r.hash.hex() for r in records]
        assert len(set(hashes)) == size, "an event hash occurs twice"
        at = dict(zip(hashes, range(size), strict=True))
        lost = {h: s for h, s in cluster.acked.items() if at.get(h) != s}
        assert not lost, f"acknowledged events missing or moved: {lost}"
        for lot, chain in cluster.chains.items():
            seqs = store.lot_seqs(lot)
            assert [hashes[s] for s in seqs] == chain, f"lot {lot} is not the acked line"
        for size_, roots in cluster.roots.items():
            assert len(roots) == 1, f"two roots at size {size_}: {roots}"
            assert merkle.root_at(size_, store).hex() in roots
        assert len(cluster.roots) > 1, "the watcher saw no checkpoints"
    finally:
        store.close()
    fsck = run_cli(["fsck"], env, workdir, timeout=300)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def _check_proofs(cluster: Cluster) -> None:
    """Every node serves inclusion proofs that verify against the checkpoint it serves."""
    verifier = ledgers.log_signer().verifier
    acked = sorted(cluster.acked.items(), key=lambda kv: kv[1])
    sample = acked[:: max(1, len(acked) // 25)]
    with httpx.Client(timeout=30) as client:
        for _, node in cluster.live():
            note = client.get(f"{node.url}/v1/log/checkpoint").text
            cp = verify_checkpoint(note, verifier, origin=ledgers.ORIGIN)
            for h, seq in sample:
                r = client.get(
                    f"{node.url}/v1/log/proof/inclusion", params={"hash": h, "size": cp.size}
                )
                assert r.status_code == 200, r.text
                got = r.json()
                proof = [base64.b64decode(p) for p in got["proof"]]
                assert got["index"] == seq
                leaf = merkle.leaf_hash(bytes.fromhex(h))
                merkle.verify_inclusion(leaf, seq, cp.size, proof, cp.root)


def _stop(cluster: Cluster) -> None:
    for node in cluster.nodes:
        node.stop()
    for node in cluster.nodes:
        assert "Traceback" not in node.stderr(), node.stderr()[-3000:]


def test_two_workers_on_sqlite_keep_one_sequence(tmp_path: Path) -> None:
    """``ledger serve --workers 2`` on SQLite: both workers' writes in one sequence."""
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    cluster, env = _start_cluster(db_url, tmp_path, 1)
    try:
        _run_load(cluster, kill_after=None)
        _check_proofs(cluster)
    finally:
        _stop(cluster)
    _check_log(cluster, db_url, env, tmp_path)


@pytest.mark.postgres
def test_three_nodes_on_one_postgres_keep_one_log_through_kill_9(
    pg_url: str, tmp_path: Path
) -> None:
    """Three nodes (two workers each) on one PostgreSQL; node 1 is killed with ``kill -9``
    (its whole process group) a third of the way through and started again; the load goes on
    until it serves again."""
    # node 2 reads proofs' nodes from a "replica": the primary itself, the one replica a test
    # can have that is never behind (lag is tests/store/test_nodes.py's business)
    cluster, env = _start_cluster(pg_url, tmp_path, 3, replica=pg_url)
    try:
        _run_load(cluster, kill_after=THREADS * LOTS_PER_THREAD * STEPS // 3)
        _check_proofs(cluster)
    finally:
        _stop(cluster)
    _check_log(cluster, pg_url, env, tmp_path)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or " Z " in Path(f"/proc/{pid}/stat").read_text():
            return True
        time.sleep(0.05)
    return False


def test_the_sequencer_and_its_server_never_outlive_each_other(tmp_path: Path) -> None:
    """``kill -9`` of a server leaves no sequencer and no worker behind; a sequencer that dies
    stops its server, which says why (exit 1)."""
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    cluster, _ = _start_cluster(db_url, tmp_path, 2)
    first, second = cluster.nodes
    try:
        assert first.proc is not None and second.proc is not None
        (sequencer,) = (p for p in _children(first.proc.pid) if "sequencer" in _cmdline(p))
        workers = [p for p in _children(first.proc.pid) if "multiprocessing" in _cmdline(p)]
        assert len(workers) >= 2, [_cmdline(p) for p in _children(first.proc.pid)]
        first.proc.send_signal(signal.SIGKILL)  # the server only, not its process group
        first.proc.wait()
        assert _gone(sequencer, 30), "the sequencer outlived its server"
        # its workers find their sequencer gone and stop: no orphan keeps the port, answering
        # /healthz "ok" and 503 to every write
        assert all(_gone(w, 30) for w in workers), [_cmdline(w) for w in workers]

        (sequencer,) = (p for p in _children(second.proc.pid) if "sequencer" in _cmdline(p))
        os.kill(sequencer, signal.SIGKILL)
        assert second.proc.wait(timeout=60) == 1
        assert "the sequencer exited" in second.stderr(), second.stderr()
    finally:
        for node in cluster.nodes:
            if node.proc is not None and node.proc.poll() is None:
                os.killpg(node.proc.pid, signal.SIGKILL)
                node.proc.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def test_one_worker_server_exits_1_and_cleans_up_when_its_sequencer_dies(tmp_path: Path) -> None:
    """The default ``--workers 1``: uvicorn stops gracefully (not killed by its own SIGTERM),
    so the server exits 1 and removes its sequencer's private folder."""
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _, env = _start_cluster(db_url, tmp_path, 0)  # the database and its env, no node yet
    node = ServerProcess(env, tmp_path / "one", new_session=True).start()
    try:
        assert node.proc is not None
        (sequencer,) = (p for p in _children(node.proc.pid) if "sequencer" in _cmdline(p))
        folder = Path(_cmdline(sequencer).split()[-1]).parent
        assert folder.is_dir()
        os.kill(sequencer, signal.SIGKILL)
        assert node.proc.wait(timeout=60) == 1, node.stderr()
        assert "the sequencer exited" in node.stderr()
        assert "Traceback" not in node.stderr(), node.stderr()
        assert not folder.exists()
    finally:
        if node.proc is not None and node.proc.poll() is None:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait()
