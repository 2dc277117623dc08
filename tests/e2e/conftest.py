"""End-to-end fixtures: a REAL ``ledger serve`` process on a free port (on an empty database, or
on the README scenario for the whole session), and CLI helpers.

Every subprocess gets a clean environment (no inherited ``LEDGER_*``) plus the test's settings;
its output goes to files, so there are no pipes to leak. A server whose stderr shows a traceback
fails the test at teardown.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest

from ledger.cli.demo import demo_tokens
from ledger.client.keyfile import save_private_key
from ledger.core.checkpoint import Signer, Verifier
from ledger.core.keys import generate
from ledger.service.tokens import create_token
from tests.support import ledgers
from tests.support.scenario import private_key

ORIGIN = "e2e.test/log"
STARTUP_SECONDS = 60.0


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``LEDGER_*`` variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def run_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ledger ARGS`` to completion, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def create_tokens(
    roles: Mapping[str, str] | Sequence[tuple[str, str]], env: Mapping[str, str], cwd: Path
) -> list[str]:
    """``ledger token create`` once per (party, role), in parallel; the tokens in that order."""
    pairs = list(roles.items()) if isinstance(roles, Mapping) else list(roles)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ledger", "token", "create", "--party", p, "--role", r],
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p, r in pairs
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    tokens = []
    for (party, role), proc, (out, err) in zip(pairs, procs, outputs, strict=True):
        assert proc.returncode == 0, f"token create {party} {role}: {err}"
        lines = out.strip().splitlines()
        assert len(lines) >= 1 and party in out, out
        token = lines[-1]
        assert token.startswith("ltl_") and " " not in token, out
        tokens.append(token)
    return tokens


def stored_events(db_url: str) -> int:
    """How many events the database holds, read with a schema-qualified query (so a server
    that ignored the URL's ``search_path`` and wrote to another schema would be caught)."""
    parts = urlsplit(db_url)
    if db_url.startswith("sqlite:///"):
        with closing(sqlite3.connect(db_url[len("sqlite:///") :])) as db:
            (count,) = db.execute("SELECT count(*) FROM events").fetchone()
            return int(count)
    import psycopg

    options = parse_qs(parts.query)["options"][0]
    assert options.startswith("-csearch_path="), options
    schema = options[len("-csearch_path=") :]
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    with psycopg.connect(base) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".events').fetchone()
        assert row is not None
        return int(row[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A ``python -m ledger serve`` child process; stdout/stderr go to files in ``workdir``."""

    env: dict[str, str]
    workdir: Path
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    #: in a process group of its own (a test may kill the whole node: ``os.killpg``)
    new_session: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"serve-{self.port}.out"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"serve-{self.port}.err"

    def stdout(self) -> str:
        return self.stdout_path.read_text() if self.stdout_path.exists() else ""

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    def start(self, attempts: int = 3) -> ServerProcess:
        """Start the process and wait until GET /healthz answers 200 (on another free port
        when the chosen one was taken in the meantime)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            if self._spawn_and_wait():
                return self
            if "address already in use" not in self.stderr().lower():
                break
            self.port = free_port()
        assert self.proc is not None
        raise RuntimeError(
            f"`ledger serve` exited with {self.proc.returncode}: {self.stderr()[-3000:]}"
        )

    def _spawn_and_wait(self) -> bool:
        # the public base URL (of QR codes) is the server's own address unless the test set one
        env = {"LEDGER_PUBLIC_URL": self.url, **self.env}
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ledger", "serve", "--port", str(self.port), *self.args],
                env=env,
                cwd=self.workdir,
                stdout=out,
                stderr=err,
                start_new_session=self.new_session,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                return False
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"`ledger serve` is not up: {self.stderr()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        """Terminate (SIGTERM, then SIGKILL after 10 s); the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


@dataclass
class Server:
    """A running server on a fresh database with a freshly generated log key."""

    process: ServerProcess
    env: dict[str, str]
    workdir: Path
    verifier: Verifier
    db_url: str

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``python -m ledger ARGS`` against the same database and keys."""
        return run_cli(args, self.env, self.workdir, timeout=timeout)

    def tokens(self, roles: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[str]:
        """Issue tokens with ``ledger token create`` (in parallel)."""
        return create_tokens(roles, self.env, self.workdir)


def server_env(db_url: str, key_dir: Path) -> dict[str, str]:
    return clean_env(LEDGER_DATABASE_URL=db_url, LEDGER_KEY_DIR=str(key_dir), LEDGER_ORIGIN=ORIGIN)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """``ledger serve`` on the test's database (SQLite file or PostgreSQL schema)."""
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    log_key = generate()
    save_private_key(log_key, key_dir / "log.pem")
    env = server_env(db_url, key_dir)
    process = ServerProcess(env, tmp_path)
    process.start()
    try:
        yield Server(process, env, tmp_path, Signer(ORIGIN, log_key).verifier, db_url)
    finally:
        process.stop()
    assert "Traceback" not in process.stderr(), process.stderr()[-3000:]


@dataclass
class ScenarioServer:
    """A running server on the README scenario that can issue certificates (``attest.pem``),
    with the demo's tokens (admin ``operator``, auditor ``auditor``, every other party a
    partner). Shared by the session: tests add to it, never assume it unchanged."""

    process: ServerProcess
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.process.url

    def headers(self, party: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[party]}"}


@pytest.fixture(scope="session")
def scenario_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    """``ledger serve`` (SQLite) on the scenario, loaded in-process first (faster than posting
    it over HTTP) with the tests' deterministic log key and origin."""
    workdir = tmp_path_factory.mktemp("scenario-server")
    db_url = f"sqlite:///{workdir / 'ledger.db'}"
    with ledgers.scenario_ledger(db_url) as led:
        tokens = demo_tokens(lambda party, role: create_token(led.store, party, role))
    key_dir = workdir / "keys"
    key_dir.mkdir()
    save_private_key(private_key("log"), key_dir / "log.pem")
    save_private_key(private_key("attest"), key_dir / "attest.pem")
    env = clean_env(
        LEDGER_DATABASE_URL=db_url, LEDGER_KEY_DIR=str(key_dir), LEDGER_ORIGIN=ledgers.ORIGIN
    )
    process = ServerProcess(env, workdir).start()
    try:
        yield ScenarioServer(process, tokens)
    finally:
        process.stop()
    # pytest.fail, not assert: this teardown may run in an xfail(raises=AssertionError) test's
    if "Traceback" in process.stderr():
        pytest.fail(f"the scenario server failed: {process.stderr()[-3000:]}")
