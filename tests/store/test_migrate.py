"""Schema migration when several servers (or threads) open a fresh database at the same moment.

Before ``migrate`` ran under a lock, concurrent first starts on PostgreSQL raced in CREATE TABLE
(``UniqueViolation ... pg_type_typname_nsp_index``): one server of three failed to start. In one
process, concurrent migrations deadlocked, since Alembic's migration context is process-global.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from ledger.store.sql import SqlStore

OPENERS = 3

#: a child process: import everything, sleep until the common start time, open (migrate), close
CHILD = """
import sys, time
from ledger.store.sql import SqlStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
SqlStore(sys.argv[1]).close()
"""


def test_concurrent_first_opens_in_processes_all_migrate(db_url: str) -> None:
    start_at = str(time.time() + 4.0)  # after every child has imported the database stack
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(OPENERS)
    ]
    results = [(child.communicate(timeout=120)[1], child.returncode) for child in children]
    failures = ["\n".join(err.strip().splitlines()[-8:]) for err, code in results if code != 0]
    assert not failures, "\n\n".join(failures)
    store = SqlStore(db_url)  # the schema is complete
    assert store.is_empty()
    store.close()


def test_concurrent_first_opens_in_threads_all_migrate(db_url: str) -> None:
    start = threading.Barrier(OPENERS)
    errors: list[BaseException] = []

    def open_store() -> None:
        start.wait()
        try:
            SqlStore(db_url).close()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=open_store, daemon=True) for _ in range(OPENERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "concurrent migrations deadlocked"
    assert errors == []
