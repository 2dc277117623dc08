"""``POST /v1/events`` is served by ``EventFastPath`` (no FastAPI routing or dependency
resolution); it must answer exactly what the documented route answers. The same requests go to
an app with the fast path and to one without it, over two copies of the same ledger, and every
answer — status, problem body, the headers that tell a client what to do — must be equal."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger.client.keyfile import save_private_key
from ledger.core.events import SignedEvent, sign
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import create_token
from tests.api.test_api import LATE, PUBLIC_URL, WRONG
from tests.support.ledgers import scenario_ledger
from tests.support.scenario import KEYS, private_key, scrap_body

HEADERS = ("content-type", "www-authenticate", "retry-after", "accept-post", "accept-encoding")


def _create(n: int, actor: str = "bwm", **kw: Any) -> SignedEvent:
    body = scrap_body(f"FAST-{n:03d}")
    return sign(type="lot.create", actor=actor, key=KEYS[actor], body=body, time=LATE, **kw)


@contextlib.contextmanager
def _served(url: str, fast_path: bool) -> Iterator[tuple[TestClient, Ledger, dict[str, str]]]:
    with scenario_ledger(url) as led, tempfile.TemporaryDirectory() as keys:
        save_private_key(private_key("attest"), Path(keys) / "attest.pem")
        settings = Settings(
            database_url=url,
            key_dir=Path(keys),
            public_url=PUBLIC_URL,
            write_rate=0.001,
            write_burst=12,  # the 13th write of the list is over the rate
        )
        app = create_app(settings, ledger=led, fast_path=fast_path)
        tokens = {"bwm": create_token(led.store, "bwm", "partner")}
        with TestClient(app) as client:
            yield client, led, tokens


def _requests(first: SignedEvent) -> list[tuple[str, Callable[[TestClient, str], httpx.Response]]]:
    """(what, request) pairs; ``token`` is the app's own bwm partner token."""
    other_bytes = _create(1, id=first.id)  # the same id, other bytes
    wrong_actor = _create(2, actor="alus")
    forged = _create(7, actor="alus").body  # bwm's event signed with alus's key
    bad_sig = sign(type="lot.create", actor="bwm", key=KEYS["alus"], body=forged, time=LATE)
    json_h = {"Content-Type": "application/json"}

    def post(raw: bytes, headers: dict[str, str]) -> Callable[[TestClient, str], httpx.Response]:
        def run(c: TestClient, token: str) -> httpx.Response:
            auth = {"Authorization": f"Bearer {token}"} if "Authorization" not in headers else {}
            return c.post("/v1/events", content=raw, headers={**auth, **headers})

        return run

    return [
        ("accepted", post(first.canonical, json_h)),
        ("idempotent repeat", post(first.canonical, json_h)),
        ("duplicate id", post(other_bytes.canonical, json_h)),
        ("no token", post(_create(3).canonical, {**json_h, "Authorization": ""})),
        (
            "unknown token",
            post(_create(3).canonical, {**json_h, "Authorization": f"Bearer {WRONG}"}),
        ),
        ("no content type", post(_create(3).canonical, {})),
        ("form content type", post(_create(3).canonical, {"Content-Type": "text/plain"})),
        ("gzip", post(_create(3).canonical, {**json_h, "Content-Encoding": "gzip"})),
        ("too large", post(b" " * 70_000, json_h)),
        ("not JSON", post(b"{not json", json_h)),
        ("duplicate member", post(b'{"id": 1, "id": 2}', json_h)),
        ("another party's event", post(wrong_actor.canonical, json_h)),
        ("bad signature", post(bad_sig.canonical, json_h)),
        ("accepted again", post(_create(4).canonical, json_h)),
        ("over the write rate", post(_create(5).canonical, json_h)),
        ("GET", lambda c, t: c.get("/v1/events", headers={"Authorization": f"Bearer {t}"})),
        ("trailing slash", lambda c, t: c.post("/v1/events/", content=b"{}", headers=json_h)),
    ]


def test_the_fast_path_answers_exactly_what_the_route_answers(tmp_path: Path) -> None:
    requests = _requests(_create(0))  # the same signed bytes for both apps
    answers: dict[bool, list[tuple[str, int, Any, dict[str, str]]]] = {}
    for fast in (True, False):
        with _served(f"sqlite:///{tmp_path}/{fast}.db", fast) as (client, led, tokens):
            out = []
            for what, request in requests:
                r = request(client, tokens["bwm"])
                body = r.json() if r.content else None
                headers = {h: r.headers[h] for h in HEADERS if h in r.headers}
                if "retry-after" in headers:
                    headers["retry-after"] = "n"  # seconds from now: differs by a few
                out.append((what, r.status_code, body, headers))
            answers[fast] = out
            assert led.fsck().ok
    for fast, slow in zip(answers[True], answers[False], strict=True):
        assert fast == slow
    statuses = {what: status for what, status, _, _ in answers[True]}
    assert statuses["accepted"] == 201 and statuses["idempotent repeat"] == 200
    assert statuses["over the write rate"] == 429 and statuses["bad signature"] == 422
    assert statuses["no token"] == 401 and statuses["too large"] == 413
    assert statuses["GET"] == 405


@pytest.mark.parametrize("fast_path", [True, False])
def test_both_apps_document_the_route(tmp_path: Path, fast_path: bool) -> None:
    with _served(f"sqlite:///{tmp_path}/l.db", fast_path) as (client, _, _):
        doc = client.get("/openapi.json").json()
        assert "post" in doc["paths"]["/v1/events"]
