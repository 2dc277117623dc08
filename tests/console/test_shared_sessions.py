"""Console sessions live in the database (spec §9.10): every worker process and node on one
database shares them. Two apps over one database stand for two workers; on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import sessions
from api.console.sessions import SESSION_COOKIE, ConsoleSessions
from ledger.service import Ledger
from ledger.service.sessions import hash_session_id
from ledger.service.settings import Settings
from ledger.service.tokens import hash_token
from ledger.store.sql import SqlStore
from tests.support.ledgers import ORIGIN, dump, open_ledger

SIGN_IN_FORM = 'id="token"'


@pytest.fixture
def workers(db_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on one database, each as a worker process opens its own."""
    first = open_ledger(db_url)
    second = open_ledger(db_url)
    yield first, second
    second.close()
    first.close()


def _client(ledger: Ledger) -> TestClient:
    app = create_app(Settings(origin=ORIGIN), ledger=ledger)
    return TestClient(app, follow_redirects=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _rows(ledger: Ledger) -> list[tuple[object, ...]]:
    assert isinstance(ledger.store, SqlStore)
    return dump(ledger.store, "console_sessions")


def test_a_session_opened_on_one_worker_is_served_and_ended_by_another(
    workers: tuple[Ledger, Ledger],
) -> None:
    one, two = workers
    token = one.create_token("packco", "partner")
    a, b = _client(one), _client(two)
    resp = a.post("/console/sign-in", data={"csrf": _csrf(a.get("/").text), "token": token})
    assert resp.status_code == 303
    sid = a.cookies[SESSION_COOKIE]
    b.cookies.set(SESSION_COOKIE, sid)
    page = b.get("/")  # the other worker knows the session
    assert page.status_code == 200 and '<dd id="party">packco</dd>' in page.text
    assert b.get("/v1/lots").status_code == 200  # and reads the API with it
    assert _client(two).get("/v1/lots").status_code == 401  # (which needs the session)
    csrf = _csrf(page.text)
    assert csrf == _csrf(a.get("/").text)  # one session, one CSRF token, on both
    assert b.post("/console/sign-out", data={"csrf": csrf}).status_code == 303
    page = a.get("/")  # signed out on the first worker too
    assert SIGN_IN_FORM in page.text and "packco" not in page.text
    assert _rows(one) == []


def test_a_revoked_token_ends_its_session_on_every_worker(workers: tuple[Ledger, Ledger]) -> None:
    one, two = workers
    token = one.create_token("packco", "partner")
    a, b = _client(one), _client(two)
    a.post("/console/sign-in", data={"csrf": _csrf(a.get("/").text), "token": token})
    b.cookies.set(SESSION_COOKIE, a.cookies[SESSION_COOKIE])
    assert two.revoke_token(hash_token(token))
    assert SIGN_IN_FORM in a.get("/").text
    assert SIGN_IN_FORM in b.get("/").text


def test_the_database_holds_no_session_id_and_no_token(workers: tuple[Ledger, Ledger]) -> None:
    one, _ = workers
    token = one.create_token("packco", "partner")
    a = _client(one)
    a.post("/console/sign-in", data={"csrf": _csrf(a.get("/").text), "token": token})
    sid = a.cookies[SESSION_COOKIE]
    ((sid_hash, token_hash, csrf, created, expires),) = _rows(one)
    assert sid_hash == hash_session_id(sid) and token_hash == hash_token(token)
    assert csrf == _csrf(a.get("/").text)
    assert expires - created == sessions.SESSION_SECONDS * 1_000_000
    everything = repr(_rows(one))
    assert sid not in everything and token not in everything


def test_one_token_keeps_at_most_its_cap_of_sessions_the_oldest_going_first(
    workers: tuple[Ledger, Ledger],
) -> None:
    one, two = workers
    cap = sessions.MAX_SESSIONS_PER_TOKEN
    books = ConsoleSessions(one.sessions), ConsoleSessions(two.sessions)
    other, _ = books[1].open("other-token-hash")
    opened = [books[i % 2].open("token-hash")[0] for i in range(cap + 3)]
    assert [books[0].get(s) is not None for s in opened] == [False] * 3 + [True] * cap
    assert books[0].get(other) is not None
    assert len(_rows(one)) == cap + 1


def test_the_database_keeps_at_most_max_sessions_the_oldest_going_first(
    workers: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = workers
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 5)
    books = ConsoleSessions(one.sessions), ConsoleSessions(two.sessions)
    opened = [books[i % 2].open(f"token-{i}")[0] for i in range(8)]
    assert [books[1].get(s) is not None for s in opened] == [False] * 3 + [True] * 5
    assert len(_rows(one)) == 5


def test_a_session_expires_after_its_lifetime_and_expired_rows_are_purged(
    workers: tuple[Ledger, Ledger],
) -> None:
    one, two = workers
    now = [1_800_000_000.0]
    for ledger in workers:
        ledger.sessions.clock = lambda: now[0]
    books = ConsoleSessions(one.sessions, lifetime=60), ConsoleSessions(two.sessions, lifetime=60)
    first, session = books[0].open("token-a")
    assert session.expires == now[0] + 60
    second, _ = books[0].open("token-b")
    now[0] += 59.9
    assert books[1].get(first) is not None
    now[0] += 0.1  # absolute: reading it did not extend it
    assert books[1].get(first) is None  # expired, and deleted when found so
    assert len(_rows(one)) == 1
    books[1].open("token-c")  # a sign-in purges every expired session
    assert books[0].get(second) is None
    assert [row[1] for row in _rows(one)] == ["token-c"]


def test_sign_ins_racing_on_two_workers_keep_the_cap(workers: tuple[Ledger, Ledger]) -> None:
    cap = sessions.MAX_SESSIONS_PER_TOKEN
    books = [ConsoleSessions(ledger.sessions) for ledger in workers]
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def sign_in_again_and_again(book: ConsoleSessions) -> None:
        start.wait()
        try:
            for _ in range(8):
                book.open("token-hash")
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [
        threading.Thread(target=sign_in_again_and_again, args=(books[i % 2],), daemon=True)
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert len(_rows(workers[0])) == cap
