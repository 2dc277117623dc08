"""An operator mistake must not weaken the log (issue 8 D), end to end with real processes:
concurrent first starts, the pinned log key, and demo mode only on a database the demo made."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from ledger.client.keyfile import save_private_key
from ledger.core.checkpoint import Signer
from ledger.core.keys import generate
from tests.e2e.conftest import (
    ORIGIN,
    ServerProcess,
    clean_env,
    free_port,
    run_cli,
    server_env,
    stored_events,
)

pytestmark = pytest.mark.slow

SERVERS = 3


@pytest.mark.postgres
def test_servers_started_at_once_on_a_fresh_database_all_come_up(
    pg_url: str, tmp_path: Path
) -> None:
    """Three ``ledger serve`` processes started together on a fresh database all serve: the
    schema migration and the first open (pinning the log key) run one at a time. Before, one
    of three failed on PostgreSQL with ``UniqueViolation pg_type_typname_nsp_index``. (SQLite
    always migrated in one ``BEGIN IMMEDIATE`` transaction; tests/store/test_migrate.py covers
    both databases with bare processes, which is cheaper than three servers.)"""
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    save_private_key(generate(), key_dir / "log.pem")
    env = server_env(pg_url, key_dir)
    processes = [ServerProcess(env, tmp_path / f"s{i}") for i in range(SERVERS)]
    errors: list[BaseException] = []

    def start(process: ServerProcess) -> None:
        try:
            process.start()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        notes = {httpx.get(f"{p.url}/v1/log/checkpoint").text for p in processes}
        assert len(notes) == 1  # one log, one checkpoint of size 0
    finally:
        for p in processes:
            p.stop()
    for p in processes:
        assert "Traceback" not in p.stderr(), p.stderr()[-3000:]


def _key_dir(path: Path) -> Signer:
    """A key folder with a fresh log key; its signer."""
    path.mkdir()
    key = generate()
    save_private_key(key, path / "log.pem")
    return Signer(ORIGIN, key)


def _serve(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ledger serve`` that must refuse to start (a server that starts times out: failure)."""
    return run_cli(["serve", "--port", str(free_port()), *args], env, cwd, timeout=60)


def _refused(result: subprocess.CompletedProcess[str], code: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith(f"error: {code}: "), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def _tokens(db_url: str) -> int:
    if db_url.startswith("sqlite:///"):
        with closing(sqlite3.connect(db_url[len("sqlite:///") :])) as db:
            return int(db.execute("SELECT count(*) FROM tokens").fetchone()[0])
    import psycopg

    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM tokens").fetchone()
        assert row is not None
        return int(row[0])


# --------------------------------------------------------------------------- 10. the log key
def test_init_and_serve_refuse_another_log_key(db_url: str, tmp_path: Path) -> None:
    """Before, ``ledger init`` or ``ledger serve`` with another key folder signed the next
    checkpoint of the same log with another key."""
    first = _key_dir(tmp_path / "keys")
    env = server_env(db_url, tmp_path / "keys")
    done = run_cli(["init"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"log vkey {first.verifier.vkey}" in done.stdout

    other = _key_dir(tmp_path / "other-keys")
    other_env = server_env(db_url, tmp_path / "other-keys")
    for result in (run_cli(["init"], other_env, tmp_path), _serve(other_env, tmp_path)):
        message = _refused(result, "log_key_mismatch")
        assert first.verifier.vkey in message and other.verifier.vkey in message
        assert "LEDGER_KEY_DIR" in message
    renamed = _refused(
        _serve({**env, "LEDGER_ORIGIN": "renamed.test/log"}, tmp_path), "log_key_mismatch"
    )
    assert "key name renamed.test/log" in renamed

    fsck = run_cli(["fsck", "--json"], env, tmp_path)  # every checkpoint is the first key's
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert stored_events(db_url) == 1


# --------------------------------------------------------------------------- 9. demo mode
def test_serve_demo_refuses_a_live_database(db_url: str, tmp_path: Path) -> None:
    """Before, ``ledger serve --demo`` on a live database minted an admin token (and printed
    it) and signed checkpoints with the published example log key."""
    _key_dir(tmp_path / "keys")
    env = server_env(db_url, tmp_path / "keys")
    assert run_cli(["init"], env, tmp_path).returncode == 0
    for demo in (("--demo",), ()):  # the flag, or the setting
        demo_env = env if demo else {**env, "LEDGER_DEMO": "1"}
        result = _serve(demo_env, tmp_path, *demo)
        message = _refused(result, "demo_refused")
        assert "LEDGER_DATABASE_URL" in message
        assert "token" not in result.stdout
    assert _tokens(db_url) == 0 and stored_events(db_url) == 1


def test_a_demo_database_is_refused_outside_demo_mode(db_url: str, tmp_path: Path) -> None:
    _key_dir(tmp_path / "keys")
    env = server_env(db_url, tmp_path / "keys")
    made = run_cli(["init"], {**env, "LEDGER_DEMO": "1"}, tmp_path)  # demo mode makes it
    assert made.returncode == 0, made.stderr
    message = _refused(_serve(env, tmp_path), "demo_database")
    assert "made in demo mode" in message and "ledger init" in message
    _refused(run_cli(["init"], env, tmp_path), "demo_database")


def test_demo_command_refuses_to_replace_a_ledger_it_did_not_make(tmp_path: Path) -> None:
    """``ledger demo`` deletes and recreates ``WORKDIR/ledger.db``: never a real ledger."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    _key_dir(tmp_path / "keys")
    db_url = f"sqlite:///{workdir / 'ledger.db'}"
    assert run_cli(["init"], server_env(db_url, tmp_path / "keys"), tmp_path).returncode == 0
    result = run_cli(["demo", "--workdir", str(workdir)], clean_env(), tmp_path)
    assert "another --workdir" in _refused(result, "demo_refused")
    assert stored_events(db_url) == 1
