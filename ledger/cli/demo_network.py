"""The processes of ``ledger demo``: the ledger server, the partners' witnesses, the monitor.

``ledger demo`` (without ``--url``) runs, each as its own process on a free local port, the
ledger server and two C2SP tlog-witnesses — one operated by the Korean partner (``alus``), one
by the US partner (``bwm``) — with the server requiring both cosignatures (spec §5.9). After the
scenario it waits for the checkpoint of the final tree cosigned by both, and runs one pass of
``ledger monitor`` for ``packco`` against its posting journal (spec §5.11).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..client import LedgerClient
from ..core.checkpoint import CheckpointError, Verifier, Witness, WitnessSigner, verify_checkpoint
from ._common import fail

__all__ = [
    "DEMO_WITNESSES",
    "MONITORED_PARTY",
    "DemoWitness",
    "free_port",
    "make_witnesses",
    "monitor_once",
    "processes",
    "wait_cosigned",
]

#: (operating partner, witness key name) of the demo's witnesses
DEMO_WITNESSES = (("alus", "witness.alus.example"), ("bwm", "witness.bwm.example"))
#: the partner whose events the demo's monitor pass checks against its journal
MONITORED_PARTY = "packco"
#: seconds between the server's rounds of submissions to the witnesses
WITNESS_INTERVAL = 0.5
#: how long the demo waits for the final checkpoint to be cosigned by both
COSIGN_TIMEOUT = 15.0


@dataclass(frozen=True)
class DemoWitness:
    """One partner's witness: its key files, its state, and where it listens."""

    party: str
    name: str
    vkey: str
    key_path: Path
    vkey_path: Path
    db_path: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, log: Verifier) -> list[str]:
        return [
            *("witness", "serve", "--key", str(self.key_path)),
            *("--log", f"{log.name}={log.vkey}"),
            *("--db", f"sqlite:///{self.db_path}", "--port", str(self.port)),
        ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unlink_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def make_witnesses(workdir: Path) -> list[DemoWitness]:
    """Fresh keys (``<party>-witness.key`` / ``.vkey``) and empty state for each witness."""
    made = []
    for party, name in DEMO_WITNESSES:
        signer = WitnessSigner.generate(name)
        key_path = workdir / f"{party}-witness.key"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(signer.skey + "\n")
        vkey_path = workdir / f"{party}-witness.vkey"
        vkey_path.write_text(signer.witness.vkey + "\n")
        db = workdir / f"{party}-witness.db"
        _unlink_db(db)
        made.append(
            DemoWitness(party, name, signer.witness.vkey, key_path, vkey_path, db, free_port())
        )
    return made


@contextmanager
def processes(
    commands: Sequence[tuple[str, list[str], Mapping[str, str], str]],
) -> Iterator[None]:
    """Start ``(what, ledger args, env, ready URL)`` processes, wait until each answers 200 at
    its URL, and stop them all on the way out."""
    started: list[tuple[str, subprocess.Popen[bytes], str]] = []
    try:
        for what, args, env, ready in commands:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ledger", *args],
                env=dict(env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            started.append((what, proc, ready))
        deadline = time.monotonic() + 30
        for what, proc, ready in started:
            while True:
                try:
                    if httpx.get(ready, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.terminate()
                    _, err = proc.communicate(timeout=10)
                    raise fail(f"the {what} did not start: {err.decode()[-2000:]}")
                time.sleep(0.1)
        yield
    finally:
        for _, proc, _ in started:
            if proc.poll() is None:
                proc.terminate()
        for _, proc, _ in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()


def wait_cosigned(
    reader: LedgerClient,
    log: Verifier,
    witnesses: Sequence[DemoWitness],
    out: Path,
    echo: Callable[[str], None],
) -> None:
    """Wait (bounded) until the served checkpoint is the final tree's, cosigned by every
    witness; verify it and write it to ``out``."""
    deadline = time.monotonic() + COSIGN_TIMEOUT
    while True:
        health = reader.health()
        if health.cosigned_size is not None and health.cosigned_size == health.size:
            break
        if time.monotonic() > deadline:
            states = "; ".join(
                f"{w.name}: size {w.last_size}, {w.error or 'ok'}" for w in health.witnesses
            )
            raise fail(
                f"the witnesses did not cosign size {health.size} within {COSIGN_TIMEOUT:.0f} s "
                f"(cosigned size {health.cosigned_size}; {states})"
            )
        time.sleep(0.2)
    note = reader.checkpoint()
    try:
        cp = verify_checkpoint(
            note,
            log,
            witnesses=[Witness.parse(w.vkey) for w in witnesses],
            quorum=len(witnesses),
        )
    except CheckpointError as e:
        raise fail(f"the served checkpoint does not verify: {e.message}") from e
    out.write_text(note)
    by = " and ".join(f"{w.name} ({w.party})" for w in witnesses)
    echo(f"   cosigned checkpoint:  size {cp.size}, cosigned by {by} -> {out}")


def monitor_once(
    url: str, env: Mapping[str, str], token: str, vkey_path: Path, workdir: Path, journal: Path
) -> tuple[bool, str]:
    """One ``ledger monitor --once`` pass (a fresh state file) for the monitored party: (clean,
    what it said)."""
    state = workdir / "monitor-state.json"
    state.unlink(missing_ok=True)
    args = [
        *("monitor", "--url", url, "--log-key", str(vkey_path), "--state", str(state)),
        *("--checkpoint", str(workdir / "checkpoint-cosigned.txt")),
        *("--party", MONITORED_PARTY, "--journal", str(journal), "--once"),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        env={**env, "LEDGER_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = done.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1])["summary"]
    except (IndexError, ValueError, KeyError, TypeError):
        return False, (done.stdout + done.stderr).strip()[-2000:]
    clean = done.returncode == 0 and summary["findings"] == 0
    said = (
        f"{summary['findings']} findings; tree size {summary['size']}, "
        f"{summary['events_read']} events read, state in {state}"
    )
    if not clean:
        said += "\n" + "\n".join(lines[:-1]) + done.stderr
    return clean, said
