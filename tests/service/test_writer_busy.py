"""A writer kept from the writers' lock gives up after a bounded wait (``WriterBusy``), on both
databases: a stalled node or a long maintenance command holding the lock must make the others'
writes fail at once with a retryable 503 — never queue forever behind it, and never retry a
whole group one event at a time, each waiting the lock out again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from ledger.errors import StorageError, WriterBusy
from ledger.service.sequencer import _ERR, _error_body, _error_of
from ledger.service.writer import Writer
from ledger.store.sql import _ADVISORY_LOCK_ID, SqlStore
from tests.api.test_api import app_env, assert_problem
from tests.service.test_concurrency import _create
from tests.support.ledgers import open_ledger
from tests.support.scenario import registered_chain

WAIT = 0.5  # seconds the tests' writers wait for the lock


@contextmanager
def writers_lock_held(url: str) -> Iterator[None]:
    """Hold the writers' lock from another connection, as a stalled writer would."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url) as pg:
        pg.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_ID,))
        yield
        pg.rollback()


def count_writes(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """A list that gets an item per write transaction begun from now on."""
    attempts: list[None] = []
    write = SqlStore.write

    def counted(self: SqlStore) -> object:
        attempts.append(None)
        return write(self)

    monkeypatch.setattr(SqlStore, "write", counted)
    return attempts


def test_a_group_kept_from_the_lock_fails_whole_at_once_and_its_retry_commits(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_ledger(db_url, lock_wait=WAIT) as led:
        led.append_many(registered_chain().events)
        size = led.size()
        attempts = count_writes(monkeypatch)
        events = [_create(f"BUSY-{i}") for i in range(8)]
        with writers_lock_held(db_url):
            results = led.append_many(events)
        assert all(isinstance(r, WriterBusy) for r in results), results
        assert all(r.code == "storage_error" for r in results)  # type: ignore[union-attr]
        assert "write lock" in str(results[0]) and "retry with the same bytes" in str(results[0])
        # one wait for the whole group (the pipeline may hand it over in two parts), not one
        # more per event as when the database refuses an event itself
        assert len(attempts) <= 2, attempts
        assert led.size() == size  # nothing written
        # the same bytes, once the lock is free: committed, then idempotent
        receipts = led.append_many(events)
        assert [r.seq for r in receipts] == list(range(size, size + 8))  # type: ignore[union-attr]
        again = led.append_many(events)
        assert [r.created for r in again] == [False] * 8  # type: ignore[union-attr]
        assert led.fsck().ok


def test_a_sequencers_group_waits_the_lock_out_once_not_once_per_part(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sequencer commits what its workers sent in parts of ``max_batch``: once one part
    waited the lock out, the others fail at once too."""
    with open_ledger(db_url, lock_wait=WAIT) as led:
        led.append_many(registered_chain().events)
        attempts = count_writes(monkeypatch)
        writer = led.writer
        assert isinstance(writer, Writer)
        writer.max_batch = 3
        group = [writer.prepare(_create(f"PART-{i}")) for i in range(8)]
        with writers_lock_held(db_url):
            writer.commit(group)
        assert all(isinstance(p.future.exception(), WriterBusy) for p in group)
        assert len(attempts) == 1


def test_writer_busy_crosses_the_sequencer_line_as_itself() -> None:
    """A worker's RemoteWriter rebuilds what the sequencer's writer raised: the API's 503
    carries its Retry-After only when it knows the failure was a busy lock."""
    busy = _error_of(_error_body(7, WriterBusy("held"))[_ERR.size :])
    assert isinstance(busy, WriterBusy) and busy.message == "held"
    other = _error_of(_error_body(7, StorageError("disk full"))[_ERR.size :])
    assert type(other) is StorageError and other.code == "storage_error"


def test_the_api_answers_a_busy_lock_with_503_and_retry_after(db_url: str) -> None:
    with app_env(db_url, lock_wait=WAIT) as e:
        bwm = e.partner["bwm"]
        size = e.ledger.size()
        ev = e.create()
        with writers_lock_held(db_url):
            one = e.post_event(ev, bwm)
            batch = e.post_batch([e.create().envelope for _ in range(3)], bwm)
        body = assert_problem(one, 503, "storage_error")
        assert one.headers["retry-after"] == "5"
        assert "write lock" in body["detail"] and "same bytes" in body["detail"]
        assert batch.status_code == 200
        items = batch.json()["results"]
        assert [i["status"] for i in items] == [503] * 3
        for item in items:  # the client's detail, never the database's own message
            assert item["problem"]["code"] == "storage_error"
            assert "write lock" in item["problem"]["detail"]
            assert "SQL" not in item["problem"]["detail"]
        assert e.ledger.size() == size
        assert e.post_event(ev, bwm).status_code == 201  # the retry commits


def test_a_lock_wait_over_leaves_the_ledger_usable(tmp_path: Path) -> None:
    """SQLite's busy timeout is the store's wait: a held lock fails a write, then all is well."""
    url = f"sqlite:///{tmp_path}/l.db"
    with open_ledger(url, lock_wait=WAIT) as led:
        led.append_many(registered_chain().events)
        with writers_lock_held(url), pytest.raises(WriterBusy):
            led.append(_create("AFTER-0"))
        assert led.append(_create("AFTER-1")).created
        assert led.fsck().ok
