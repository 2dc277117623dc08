"""An operator mistake must not weaken the log (issue 8 D), end to end with real processes:
concurrent first starts, the pinned log key, and demo mode only on a database the demo made."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from ledger.client.keyfile import save_private_key
from ledger.core.keys import generate
from tests.e2e.conftest import ServerProcess, server_env

pytestmark = pytest.mark.slow

SERVERS = 3


def test_servers_started_at_once_on_a_fresh_database_all_come_up(
    db_url: str, tmp_path: Path
) -> None:
    """Three ``ledger serve`` processes started together on a fresh database all serve: the
    schema migration and the first open (pinning the log key) run one at a time. Before, one
    of three failed on PostgreSQL with ``UniqueViolation pg_type_typname_nsp_index``. (SQLite
    always migrated in one ``BEGIN IMMEDIATE`` transaction; tests/store/test_migrate.py covers
    both databases with bare processes, which is cheaper than three servers.)"""
    if db_url.startswith("sqlite"):
        pytest.skip("three servers cost ~15 s; the race was PostgreSQL's")
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    save_private_key(generate(), key_dir / "log.pem")
    env = server_env(db_url, key_dir)
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
