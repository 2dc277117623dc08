"""The HTTP API (spec §9) through FastAPI's TestClient, on SQLite and PostgreSQL.

Covers: the access matrix (every route x every kind of caller, exact statuses), partner
visibility against an independent computation from the log, RFC 9457 problem+json with the spec
codes, lot ids holding ``:`` ``/`` ``#`` in paths, size and rate limits (413, 429), per-event
batch results, proofs that verify against the signed checkpoints, and the OpenAPI document.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.audit.verify import verify_bundle
from ledger.client.keyfile import save_private_key
from ledger.core import merkle
from ledger.core.canonical import MAX_EVENT_BYTES, jcs
from ledger.core.checkpoint import verify_checkpoint
from ledger.core.events import SIGNING_PREFIX, SignedEvent, build_event, sign
from ledger.core.keys import b64url_encode
from ledger.core.values import format_mass
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import create_token, hash_token
from ledger.store.sql import WRITE_LOCK_WAIT
from tests.conftest import _pg_schema_url
from tests.support.ledgers import ORIGIN, PUBLIC_URL, log_signer, scenario_ledger
from tests.support.scenario import (
    BILLET,
    BLACK_MASS,
    ENCLOSURE,
    KEYS,
    NICKEL,
    NISO4,
    PARTIES,
    PRIMARY,
    RESIDUE,
    SCRAP,
    US_SITE,
    private_key,
)

LATE = "2025-12-01T00:00:00Z"  # after every scenario event, before the ledger's fixed clock
WRONG = "ltl_this-token-was-never-issued"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}
CODE_STATUS = {
    "invalid_event": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "stale_head": 409,
    "duplicate_id": 409,
    "too_large": 413,
    "bad_signature": 422,
    "rate_limited": 429,
}


# --------------------------------------------------------------------------- the test bench


@dataclass
class Env:
    """A scenario ledger behind the app, a client, and one token per kind of caller."""

    ledger: Ledger
    app: FastAPI
    client: TestClient
    partner: dict[str, str] = field(default_factory=dict)  # party -> partner token
    auditor: str = ""  # party auditor, role auditor
    admin: str = ""  # party operator, role admin
    certificate: dict[str, Any] = field(default_factory=dict)  # issued for the enclosure
    n: int = 0

    def headers(self, token: str | None) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(token), **kw)

    def post_event(self, ev: SignedEvent | bytes, token: str | None) -> httpx.Response:
        raw = ev.canonical if isinstance(ev, SignedEvent) else ev
        headers = {"Content-Type": "application/json", **self.headers(token)}
        return self.client.post("/v1/events", content=raw, headers=headers)

    def post_batch(self, events: list[Any], token: str | None) -> httpx.Response:
        raw = json.dumps({"events": events}).encode()
        headers = {"Content-Type": "application/json", **self.headers(token)}
        return self.client.post("/v1/events/batch", content=raw, headers=headers)

    # fresh valid events ------------------------------------------------------------------
    def adjust_enclosure(self, *, id: str | None = None, head: str | None = None) -> SignedEvent:
        """packco (the enclosure's custodian) writes 1 kg of it off, at the current head."""
        lot = self.ledger.lot(ENCLOSURE)
        return sign(
            type="lot.adjust",
            actor="packco",
            key=KEYS["packco"],
            body={"lot": ENCLOSURE, "mass_kg": format_mass(lot.mass - 1), "reason": "offcut"},
            prev={ENCLOSURE: head or lot.head},
            time=LATE,
            id=id,
        )

    def create(self, lot: str | None = None, actor: str = "bwm") -> SignedEvent:
        """A new lot created by ``actor`` (a recycler by default)."""
        if lot is None:
            self.n += 1
            lot = f"API-TEST-{self.n:04d}"
        return sign(
            type="lot.create",
            actor=actor,
            key=KEYS[actor],
            body={
                "lot": lot,
                "material": "aluminium scrap",
                "mass_kg": "100",
                "source": "post_consumer",
                "site": US_SITE,
            },
            time=LATE,
        )


@contextmanager
def app_env(url: str, *, lock_wait: float = WRITE_LOCK_WAIT, **settings: Any) -> Iterator[Env]:
    """The GUIDE scenario on ``url`` behind ``create_app(Settings(..., **settings))``
    (``lock_wait``: the store's wait for the writers' lock, seconds)."""
    with scenario_ledger(url, lock_wait=lock_wait) as led, tempfile.TemporaryDirectory() as keys:
        save_private_key(private_key("attest"), Path(keys) / "attest.pem")
        settings = {"public_url": PUBLIC_URL, **settings}
        app = create_app(Settings(database_url=url, key_dir=Path(keys), **settings), ledger=led)
        env = Env(ledger=led, app=app, client=TestClient(app))
        env.partner = {p: create_token(led.store, p, "partner") for p in PARTIES}
        env.auditor = create_token(led.store, "auditor", "auditor")
        env.admin = create_token(led.store, "operator", "admin")
        env.certificate, _ = led.issue_certificate(
            ENCLOSURE, issuer_key=private_key("attest"), public_url=PUBLIC_URL
        )
        yield env
        # whatever the test posted, accepted or refused, the database re-derives from its log
        report = led.fsck()
        assert report.ok, report.to_text()


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with app_env(db_url, auth_failures_per_minute=10_000) as e:
        yield e


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


def assert_problem(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with the spec ``code``; returns its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].split(";")[0] == "application/problem+json", resp.headers
    body: dict[str, Any] = resp.json()
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == resp.status_code
    assert body["type"].endswith("/" + body["code"])
    assert body["title"] and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    if body["code"] in CODE_STATUS:
        assert CODE_STATUS[body["code"]] == status
    return body


# --------------------------------------------------------------------------- 1. access matrix

CALLERS = ("none", "wrong", "partner-other", "partner", "auditor", "admin")
"""The kinds of caller: no Authorization header; an unknown token; a partner of another party
(``bwm``: never held the enclosure); a partner (``packco``: holds the enclosure); the auditor
party's auditor token; the operator's admin token."""


def _token(env: Env, caller: str) -> str | None:
    return {
        "none": None,
        "wrong": WRONG,
        "partner-other": env.partner["bwm"],
        "partner": env.partner["packco"],
        "auditor": env.auditor,
        "admin": env.admin,
    }[caller]


def _row(*statuses: int | tuple[int, int]) -> dict[str, int | tuple[int, int]]:
    return dict(zip(CALLERS, statuses, strict=True))


PUBLIC = _row(200, 200, 200, 200, 200, 200)
LOT_READ = _row(401, 401, 404, 200, 200, 200)
DIRECTORY = _row(401, 401, 200, 200, 200, 200)
#: a console page asked for with a bearer token and no session: the sign-in form (HTML, 401)
CONSOLE = _row(401, 401, 401, 401, 401, 401)

# (method, path as the app declares it, label) -> status per caller. POST /v1/events/batch
# answers 200 with per-event results: (HTTP status, status of the one event in the batch).
MATRIX: dict[tuple[str, str, str], dict[str, int | tuple[int, int]]] = {
    ("GET", "/v1/events/{event_hash}", "event"): LOT_READ,
    ("POST", "/v1/events", "events"): _row(401, 401, 403, 201, 403, 201),
    ("POST", "/v1/events/batch", "batch"): _row(
        401, 401, (200, 403), (200, 201), (200, 403), (200, 201)
    ),
    ("GET", "/v1/lots", "lots"): DIRECTORY,
    ("GET", "/v1/lots/{lot}", "lot"): LOT_READ,
    ("GET", "/v1/lots/{lot}/events", "lot-events"): LOT_READ,
    ("GET", "/v1/lots/{lot}/provenance", "lot-provenance"): LOT_READ,
    ("GET", "/v1/lots/{lot}/bundle", "lot-bundle"): LOT_READ,
    ("GET", "/v1/lots/{lot}/recycled-content", "lot-recycled-content"): LOT_READ,
    ("GET", "/v1/lots/{lot}/epcis", "lot-epcis"): LOT_READ,
    ("GET", "/v1/lots/{lot}/battery-pass/circularity", "lot-battery-pass"): LOT_READ,
    ("POST", "/v1/certificates", "certificates"): _row(401, 401, 404, 201, 201, 201),
    ("POST", "/v1/certificates/verify", "certificate-verify"): PUBLIC,
    ("GET", "/v1/certificates/{cert_id}", "certificate"): LOT_READ,
    ("GET", "/v1/certificates/{cert_id}.pdf", "certificate-pdf"): LOT_READ,
    ("GET", "/v1/certificates/{cert_id}.html", "certificate-html"): LOT_READ,
    ("GET", "/v1/certificates/{cert_id}/status", "certificate-status"): LOT_READ,
    ("GET", "/v1/certificates", "certificate-list"): DIRECTORY,
    ("POST", "/v1/certificates/{cert_id}/revoke", "certificate-revoke"): _row(
        401, 401, 403, 403, 403, 200
    ),
    ("GET", "/c/{uuid}", "public-page"): PUBLIC,
    ("GET", "/c/{uuid}.json", "public-json"): PUBLIC,
    ("GET", "/c/{uuid}.pdf", "public-pdf"): PUBLIC,
    ("GET", "/c/{uuid}/status", "public-status"): PUBLIC,
    ("GET", "/status/{number}", "status-list"): PUBLIC,
    ("GET", "/v1/parties", "parties"): DIRECTORY,
    ("GET", "/v1/parties/{party_id}", "party"): DIRECTORY,
    ("GET", "/v1/log/checkpoint", "checkpoint"): PUBLIC,
    ("GET", "/v1/log/proof/inclusion", "inclusion"): PUBLIC,
    ("GET", "/v1/log/proof/consistency", "consistency"): PUBLIC,
    ("GET", "/checkpoint", "tlog-checkpoint"): PUBLIC,
    ("GET", "/tile/{level}/{path}", "tile"): PUBLIC,
    ("GET", "/tile/entries/{path}", "tile-entries"): PUBLIC,
    ("POST", "/v1/tokens", "tokens"): _row(401, 401, 403, 403, 403, 201),
    ("GET", "/v1/tokens", "token-list"): _row(401, 401, 403, 403, 403, 200),
    ("DELETE", "/v1/tokens/{token_id}", "token-revoke"): _row(401, 401, 403, 403, 403, 204),
    ("GET", "/healthz", "healthz"): PUBLIC,
    ("GET", "/.well-known/ltl-trust", "trust"): PUBLIC,
    ("GET", "/v1/schemas", "schemas"): PUBLIC,
    ("GET", "/v1/schemas/{name}", "schema"): PUBLIC,
    ("GET", "/openapi.json", "openapi"): PUBLIC,
    ("GET", "/docs", "docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect", "docs-oauth2"): PUBLIC,
    ("GET", "/redoc", "redoc"): PUBLIC,
    # the console (tests/console): public pages, signed in by session cookie (a bearer header
    # means nothing there); its state-changing forms refuse a post without their CSRF token
    ("GET", "/", "console"): PUBLIC,
    ("POST", "/console/sign-in", "console-sign-in"): _row(403, 403, 403, 403, 403, 403),
    ("POST", "/console/sign-out", "console-sign-out"): _row(403, 403, 403, 403, 403, 403),
    ("POST", "/console/certificates", "console-issue"): _row(403, 403, 403, 403, 403, 403),
    ("GET", "/console/lang/{lang}", "console-lang"): _row(303, 303, 303, 303, 303, 303),
    # without a session every page answers the sign-in form (401)
    ("GET", "/console/lots", "console-lots"): CONSOLE,
    ("GET", "/console/lot", "console-lot"): CONSOLE,
    ("GET", "/console/parties", "console-parties"): CONSOLE,
    ("GET", "/console/party", "console-party"): CONSOLE,
    ("GET", "/console/certificates", "console-certificates"): CONSOLE,
}


def _enclosure_receive(led: Ledger) -> str:
    """The hash of packco's receipt of the enclosure (an event bwm has no business seeing)."""
    return next(ev.hash for _, ev in led.chain(ENCLOSURE) if ev.type == "lot.receive")


def _request(env: Env, method: str, label: str, token: str | None) -> httpx.Response:
    """Issue the matrix request of one route (with a fresh valid event for the writes)."""
    headers = env.headers(token)
    if label == "events":
        return env.post_event(env.adjust_enclosure(), token)
    if label == "batch":
        return env.post_batch([env.adjust_enclosure().envelope], token)
    if label == "tokens":
        return env.client.post(
            "/v1/tokens", json={"party": "packco", "role": "partner"}, headers=headers
        )
    if label == "token-revoke":  # a fresh throw-away token each time
        spare = create_token(env.ledger.store, "lab", "partner")
        return env.client.delete(f"/v1/tokens/{hash_token(spare)}", headers=headers)
    if label == "certificates":
        return env.client.post("/v1/certificates", json={"lot": ENCLOSURE}, headers=headers)
    if label == "certificate-verify":
        return env.client.post(
            "/v1/certificates/verify", json={"credential": env.certificate}, headers=headers
        )
    if label == "certificate-revoke":  # a fresh throw-away certificate each time
        spare, _ = env.ledger.issue_certificate(
            ENCLOSURE, issuer_key=private_key("attest"), public_url=PUBLIC_URL
        )
        return env.client.post(
            f"/v1/certificates/{spare['id'].rsplit('/', 1)[-1]}/revoke",
            json={"reason": "issued by the access matrix"},
            headers=headers,
        )
    if label in ("console-sign-in", "console-sign-out", "console-issue"):
        # the bearer token, but no session and no CSRF token
        path = {
            "console-sign-in": "/console/sign-in",
            "console-sign-out": "/console/sign-out",
            "console-issue": "/console/certificates",
        }[label]
        fields = {"token": token or ""} if label == "console-sign-in" else {}
        return env.client.post(
            path,
            data={
                "csrf": "forged",
                **fields,
                **({"lot": ENCLOSURE} if label == "console-issue" else {}),
            },
            headers=headers,
        )
    receive = _enclosure_receive(env.ledger)
    cert = env.certificate["id"].rsplit("/", 1)[-1]
    path = {
        "certificate-status": f"/v1/certificates/{cert}/status",
        "certificate-list": "/v1/certificates",
        "public-page": f"/c/{cert}",
        "public-json": f"/c/{cert}.json",
        "public-pdf": f"/c/{cert}.pdf",
        "public-status": f"/c/{cert}/status",
        "status-list": "/status/1",
        "lot-recycled-content": f"/v1/lots/{ENCLOSURE}/recycled-content",
        "token-list": "/v1/tokens",
        "certificate": f"/v1/certificates/{cert}",
        "certificate-pdf": f"/v1/certificates/{cert}.pdf",
        "certificate-html": f"/v1/certificates/{cert}.html",
        "event": f"/v1/events/{receive}",
        "lots": "/v1/lots",
        "lot": f"/v1/lots/{ENCLOSURE}",
        "lot-events": f"/v1/lots/{ENCLOSURE}/events",
        "lot-provenance": f"/v1/lots/{ENCLOSURE}/provenance",
        "lot-bundle": f"/v1/lots/{ENCLOSURE}/bundle",
        "lot-epcis": f"/v1/lots/{ENCLOSURE}/epcis",
        "lot-battery-pass": f"/v1/lots/{ENCLOSURE}/battery-pass/circularity",
        "parties": "/v1/parties",
        "party": "/v1/parties/alus",
        "checkpoint": "/v1/log/checkpoint",
        "inclusion": f"/v1/log/proof/inclusion?hash={receive}",
        "consistency": f"/v1/log/proof/consistency?from=1&to={env.ledger.size()}",
        "tlog-checkpoint": "/checkpoint",
        "tile": "/tile/0/000.p/1",
        "tile-entries": "/tile/entries/000.p/1",
        "healthz": "/healthz",
        "trust": "/.well-known/ltl-trust",
        "schemas": "/v1/schemas",
        "schema": "/v1/schemas/lot.create",
        "openapi": "/openapi.json",
        "docs": "/docs",
        "docs-oauth2": "/docs/oauth2-redirect",
        "redoc": "/redoc",
        "console": "/",
        "console-lang": "/console/lang/ko?next=/console/lots",
        "console-lots": "/console/lots",
        "console-lot": f"/console/lot?id={ENCLOSURE}",
        "console-parties": "/console/parties",
        "console-party": "/console/party?id=alus",
        "console-certificates": "/console/certificates",
    }[label]
    assert method == "GET"
    return env.client.get(path, headers=headers, follow_redirects=label != "console-lang")


def _app_routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, str(route.path_format)))
    return found


_CASES = [
    pytest.param(key, caller, id=f"{key[0]} {key[2]}/{caller}")
    for key in MATRIX
    for caller in CALLERS
]


@pytest.fixture(
    scope="class", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def matrix_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """One scenario app per backend for the whole matrix (auth-failure limit out of the way)."""
    urls = (
        iter([f"sqlite:///{tmp_path_factory.mktemp('matrix')}/ledger.db"])
        if request.param == "sqlite"
        else _pg_schema_url()
    )
    for url in urls:  # the PostgreSQL generator drops its schema when the loop ends
        with app_env(url, auth_failures_per_minute=100_000) as e:
            yield e


class TestAccessMatrix:
    """Every route x {none, wrong, partner-other, partner, auditor, admin}: the exact status."""

    def test_the_matrix_covers_every_route_of_the_app(self, matrix_env: Env) -> None:
        declared = {(method, path) for method, path, _ in MATRIX}
        assert _app_routes(matrix_env.app) == declared
        assert len({label for _, _, label in MATRIX}) == len(MATRIX)

    @pytest.mark.parametrize(("key", "caller"), _CASES)
    def test_status(self, matrix_env: Env, key: tuple[str, str, str], caller: str) -> None:
        method, _, label = key
        expected = MATRIX[key][caller]
        size = matrix_env.ledger.size()
        resp = _request(matrix_env, method, label, _token(matrix_env, caller))
        want, item = expected if isinstance(expected, tuple) else (expected, None)
        if label.startswith("console"):  # HTML pages: the sign-in form, or a problem page
            assert resp.status_code == want, resp.text
            if want >= 400:
                assert resp.headers["content-type"].startswith("text/html")
                marker = 'id="token"' if want == 401 else '<code id="problem-code">forbidden'
                assert marker in resp.text, resp.text
            return
        if want >= 400:
            code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}[want]
            assert_problem(resp, want, code)
        else:
            assert resp.status_code == want, resp.text
        if item is not None:
            (result,) = resp.json()["results"]
            assert result["status"] == item, result
            if item == 403:
                assert result["problem"]["code"] == "forbidden"
        if label in ("events", "batch"):
            # writes land exactly when accepted
            accepted = want == 201 or item == 201
            assert matrix_env.ledger.size() == size + accepted
        if want == 401:
            assert "Bearer" in resp.headers["www-authenticate"]
        if label == "lots" and want == 200:  # the list never shows what the lot route hides
            listed = {x["lot"] for x in resp.json()["items"]}
            assert (ENCLOSURE in listed) == (
                MATRIX[("GET", "/v1/lots/{lot}", "lot")][caller] == 200
            )


# --------------------------------------------------------------------------- 2. visibility


def _expected_views(led: Ledger) -> dict[str, dict[str, int | None]]:
    """Per party, lot -> the last log index a partner may see of it (None: all), computed
    independently from the log by the rule of spec §9.1: a lot the party holds or has in
    transit to it: all of it; a lot it held: up to the lot.receive that ended its (latest)
    custody; then, to a fixed point, every input of a transform on a visible part of a visible
    lot's chain (inputs and outputs), up to that transform (the latest such)."""
    holder: dict[str, str] = {}
    transit: dict[str, str] = {}
    ended: dict[tuple[str, str], int] = {}
    transforms: list[tuple[int, list[str], list[str]]] = []
    for seq, ev in led.events(range(led.size())):
        body = ev.body
        if ev.type == "lot.create":
            holder[body["lot"]] = ev.actor
        elif ev.type == "lot.transform":
            ins = [i["lot"] for i in body["inputs"]]
            outs = [o["lot"] for o in body["outputs"]]
            transforms.append((seq, ins, outs))
            for out in outs:
                holder[out] = ev.actor
        elif ev.type == "lot.ship":
            transit[body["lot"]] = body["to"]
        elif ev.type == "lot.receive":
            ended[(holder[body["lot"]], body["lot"])] = seq
            holder[body["lot"]] = ev.actor
            del transit[body["lot"]]
    views: dict[str, dict[str, int | None]] = {}
    for party in PARTIES:
        view: dict[str, int | None] = {lot: seq for (p, lot), seq in ended.items() if p == party}
        view.update({lot: None for lot, p in holder.items() if p == party})
        view.update({lot: None for lot, p in transit.items() if p == party})
        changed = True
        while changed:
            changed = False
            for seq, ins, outs in transforms:
                for lot in (*ins, *outs):
                    if lot not in view or (view[lot] is not None and seq > view[lot]):  # type: ignore[operator]
                        continue
                    for other in ins:
                        if other == lot:
                            continue
                        old = view.get(other, -1)
                        if old is not None and old < seq:
                            view[other] = seq
                            changed = True
        views[party] = view
    return views


def _all_lots(env: Env) -> set[str]:
    items = env.get("/v1/lots?limit=1000", env.auditor).json()["items"]
    return {x["lot"] for x in items}


def test_partner_reads_its_custody_and_upstream_only(env: Env) -> None:
    packco, bwm = env.partner["packco"], env.partner["bwm"]
    for lot in (ENCLOSURE, BILLET, SCRAP, PRIMARY):
        assert env.get(f"/v1/lots/{lot}", packco).status_code == 200, lot
    for lot in (BLACK_MASS, NISO4, NICKEL, RESIDUE):
        assert_problem(env.get(f"/v1/lots/{lot}", packco), 404, "not_found")
    for lot in (SCRAP, BLACK_MASS, NICKEL, NISO4, RESIDUE):
        assert env.get(f"/v1/lots/{lot}", bwm).status_code == 200, lot
    for lot in (BILLET, ENCLOSURE, PRIMARY):
        for suffix in ("", "/events", "/provenance", "/bundle"):
            assert_problem(env.get(f"/v1/lots/{lot}{suffix}", bwm), 404, "not_found")
    # a hidden lot answers exactly like a lot that does not exist
    hidden = env.get(f"/v1/lots/{ENCLOSURE}", bwm).json()
    missing = env.get("/v1/lots/NO-SUCH-LOT", bwm).json()
    assert {k: v for k, v in hidden.items() if k not in ("detail", "instance")} == {
        k: v for k, v in missing.items() if k not in ("detail", "instance")
    }
    listed = [x["lot"] for x in env.get("/v1/lots", packco).json()["items"]]
    assert listed == sorted([BILLET, ENCLOSURE, PRIMARY, SCRAP])


def test_a_partner_sees_an_upstream_lot_as_it_was_when_it_entered_its_lineage(env: Env) -> None:
    """packco's enclosures were extruded from the billet; alus's later saw-cut write-off on
    the remaining billet is alus's business, not packco's."""
    packco = env.partner["packco"]
    extruded_at = env.ledger.lot(ENCLOSURE).created_seq
    now = env.get(f"/v1/lots/{BILLET}", env.auditor).json()
    then = env.get(f"/v1/lots/{BILLET}", packco).json()
    assert (now["mass_kg"], then["mass_kg"]) == ("3990", "4000")
    assert then["head"] != now["head"]
    chain = env.get(f"/v1/lots/{BILLET}/events", packco).json()["items"]
    assert chain[-1]["seq"] == extruded_at
    assert "lot.adjust" not in {c["event"]["type"] for c in chain}
    bundle = env.get(f"/v1/lots/{BILLET}/bundle", packco).json()
    assert max(e["seq"] for e in bundle["entries"]) == extruded_at
    report = verify_bundle(bundle, env.ledger.log_signer.verifier)
    assert report.ok, report.to_text()
    assert report.state is not None and str(report.state.lot(BILLET).mass) == "4000"
    nodes = {
        n["lot"]: n for n in env.get(f"/v1/lots/{ENCLOSURE}/provenance", packco).json()["nodes"]
    }
    assert nodes[BILLET]["mass_kg"] == "4000"
    listed = {x["lot"]: x for x in env.get("/v1/lots", packco).json()["items"]}
    assert listed[BILLET]["mass_kg"] == "4000" and listed[ENCLOSURE]["custodian"] == "packco"
    adjust = next(ev for _, ev in env.ledger.chain(BILLET) if ev.type == "lot.adjust")
    assert_problem(env.get(f"/v1/events/{adjust.hash}", packco), 404, "not_found")


def test_visibility_of_every_party_and_lot_matches_an_independent_computation(
    env: Env,
) -> None:
    # widen the story first: packco ships the enclosure on to the carrier (in transit to it)
    lot = env.ledger.lot(ENCLOSURE)
    ship = sign(
        type="lot.ship",
        actor="packco",
        key=KEYS["packco"],
        body={"lot": ENCLOSURE, "to": "carrier", "mass_kg": format_mass(lot.mass)},
        prev={ENCLOSURE: lot.head},
        time=LATE,
    )
    assert env.post_event(ship, env.partner["packco"]).status_code == 201
    views = _expected_views(env.ledger)
    expected = {party: set(view) for party, view in views.items()}
    assert expected["carrier"] == {ENCLOSURE, BILLET, SCRAP, PRIMARY}
    assert expected["lab"] == expected["auditor"] == expected["operator"] == set()
    lots = _all_lots(env)
    assert lots == {SCRAP, BLACK_MASS, PRIMARY, BILLET, ENCLOSURE, NICKEL, NISO4, RESIDUE}
    events = env.ledger.events(range(env.ledger.size()))
    for party, token in env.partner.items():
        for lot_id in sorted(lots):
            for suffix in ("", "/events", "/provenance", "/bundle"):
                resp = env.get(f"/v1/lots/{lot_id}{suffix}", token)
                if lot_id in expected[party]:
                    assert resp.status_code == 200, (party, lot_id, suffix)
                else:
                    assert_problem(resp, 404, "not_found")
        # the list holds exactly the visible lots, on one page and page by page
        items = env.get("/v1/lots", token).json()
        assert {x["lot"] for x in items["items"]} == expected[party]
        assert items["next"] is None
        paged: list[str] = []
        url = "/v1/lots?limit=1"
        for _ in range(20):
            page = env.get(url, token).json()
            paged += [x["lot"] for x in page["items"]]
            if page["next"] is None:
                break
            url = f"/v1/lots?limit=1&after={quote(page['next'], safe='')}"
        assert paged == sorted(expected[party])
        # an event is readable when it touches a lot of the party's custody history, or an
        # upstream lot up to its cut-off (or no lot at all); a lot's chain ends there too
        view = views[party]
        for seq, ev in events:
            lots_of = {*ev.lots_touched, *ev.lots_created}
            resp = env.get(f"/v1/events/{ev.hash}", token)
            seen = [
                lot for lot in lots_of if lot in view and (view[lot] in (None,) or seq <= view[lot])
            ]  # type: ignore[operator]
            if not lots_of or seen:
                assert resp.status_code == 200, (party, ev.type)
            else:
                assert_problem(resp, 404, "not_found")
        for lot_id, cutoff in view.items():
            chain = env.get(f"/v1/lots/{lot_id}/events", token).json()["items"]
            whole = [seq for seq, _ in env.ledger.chain(lot_id)]
            assert [c["seq"] for c in chain] == [
                s for s in whole if cutoff is None or s <= cutoff
            ], (party, lot_id)
    # auditors and admins read everything
    for token in (env.auditor, env.admin):
        assert {x["lot"] for x in env.get("/v1/lots", token).json()["items"]} == lots


# --------------------------------------------------------------------------- 3. problem+json


def test_idempotent_repeat_returns_the_original_receipt(env: Env) -> None:
    packco = env.partner["packco"]
    ev = env.adjust_enclosure()
    first = env.post_event(ev, packco)
    assert first.status_code == 201, first.text
    assert first.headers["content-type"] == "application/json"
    receipt = first.json()
    assert receipt == {"seq": receipt["seq"], "hash": ev.hash, "lots": {ENCLOSURE: ev.hash}}
    size = env.ledger.size()
    again = env.post_event(ev, packco)
    assert again.status_code == 200
    assert again.json() == receipt
    relayed = env.post_event(ev, env.admin)  # the same event relayed: the same answer
    assert (relayed.status_code, relayed.json()) == (200, receipt)
    assert env.ledger.size() == size


def test_every_refusal_is_problem_json_with_its_spec_code(env: Env) -> None:
    packco = env.partner["packco"]
    old_head = env.ledger.lot(ENCLOSURE).head
    accepted = env.adjust_enclosure()
    assert env.post_event(accepted, packco).status_code == 201
    size = env.ledger.size()

    # stale head: signed against the head before ``accepted``
    assert_problem(env.post_event(env.adjust_enclosure(head=old_head), packco), 409, "stale_head")
    # the same id with different bytes
    dup = env.adjust_enclosure(id=accepted.id)
    assert_problem(env.post_event(dup, packco), 409, "duplicate_id")
    # a signature that does not cover the bytes sent
    forged = dict(env.adjust_enclosure().envelope)
    forged["body"] = {**forged["body"], "reason": "changed after signing"}
    assert_problem(env.post_event(json.dumps(forged).encode(), packco), 422, "bad_signature")
    # schema and strict JSON
    invalid = dict(env.adjust_enclosure().envelope)
    invalid["extra"] = 1
    for raw in (
        json.dumps(invalid).encode(),
        b"{",
        b'{"ltl": 1.0}',
        b'{"ltl": 1, "ltl": 1}',
        b"[]",
        b"\xff",
    ):
        assert_problem(env.post_event(raw, packco), 400, "invalid_event")
    # authentication and reads
    assert_problem(env.post_event(env.adjust_enclosure(), None), 401, "unauthorized")
    assert_problem(env.post_event(env.adjust_enclosure(), WRONG), 401, "unauthorized")
    assert_problem(env.get("/v1/lots", "Basic xyz"), 401, "unauthorized")
    resp = env.client.get("/v1/lots", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert_problem(resp, 401, "unauthorized")
    for path in (
        "/v1/lots/NO-SUCH-LOT",
        "/v1/lots/NO-SUCH-LOT/bundle",
        "/v1/parties/nobody",
        f"/v1/events/{'0' * 64}",
        "/v1/events/not-a-hash",
        "/v1/no-such-route",
    ):
        assert_problem(env.get(path, env.auditor), 404, "not_found")
    assert_problem(env.get(f"/v1/log/proof/inclusion?hash={'0' * 64}"), 404, "not_found")
    assert_problem(env.get(f"/v1/log/proof/consistency?from=2&to={size + 1}"), 404, "not_found")
    assert_problem(env.get("/v1/log/proof/consistency?from=3&to=2"), 404, "not_found")
    # malformed query parameters and bodies are 400 problems, never 500 or plain JSON
    for path in ("/v1/log/proof/inclusion?hash=xyz", "/v1/log/proof/consistency?from=0&to=1"):
        assert_problem(env.get(path), 400)
    assert_problem(env.get("/v1/lots?limit=0", env.auditor), 400)
    assert_problem(env.get("/v1/lots?status=lost", env.auditor), 400)
    bad_token = env.client.post(
        "/v1/tokens", json={"party": "packco", "role": "king"}, headers=env.headers(env.admin)
    )
    assert_problem(bad_token, 400)
    # a wrong method is a problem too, and says what is allowed
    wrong_method = env.client.delete("/v1/lots", headers=env.headers(env.auditor))
    body = assert_problem(wrong_method, 405)
    assert wrong_method.headers.get("allow") == "GET", body
    # nothing of the above was written
    assert env.ledger.size() == size
    assert env.ledger.lot(ENCLOSURE).head == accepted.hash


def test_rule_violations_map_to_their_status(env: Env) -> None:
    """Rule codes other than the ones above: each with the status of spec §4's table mapping."""
    admin = env.admin
    # bwm may not adjust a lot packco holds
    lot = env.ledger.lot(ENCLOSURE)
    thief = sign(
        type="lot.adjust",
        actor="bwm",
        key=KEYS["bwm"],
        body={"lot": ENCLOSURE, "mass_kg": "1", "reason": "x"},
        prev={ENCLOSURE: lot.head},
        time=LATE,
    )
    assert_problem(env.post_event(thief, admin), 422, "unknown_lot")  # not its lot (§4.3)
    # the same lot id twice
    assert env.post_event(env.create("LOT-TWICE"), admin).status_code == 201
    assert_problem(env.post_event(env.create("LOT-TWICE"), admin), 409, "lot_exists")
    # a key of another party
    imposter = sign(
        type="lot.create",
        actor="bwm",
        key=KEYS["alus"],
        body=dict(env.create("LOT-IMPOSTER").body),
        time=LATE,
    )
    body = assert_problem(env.post_event(imposter, admin), 422)
    assert body["code"] in ("unknown_key", "bad_signature")


# --------------------------------------------------------------------------- 4. lot ids in paths

ODD_LOTS = ["urn:epc:class:lgtin:8801234.012345.B77", "A/B/C", "LOT#7", "x.y_z-1:2/3#4"]


def _path(lot: str) -> str:
    """The lot in a URL path: ':' and '/' as they are, '#' percent-encoded."""
    return quote(lot, safe=":/")


@pytest.mark.parametrize("lot", ODD_LOTS, ids=["epc-urn", "slashes", "hash-sign", "all"])
def test_lot_ids_with_colon_slash_and_hash_work_in_paths(env: Env, lot: str) -> None:
    bwm = env.partner["bwm"]
    ev = env.create(lot)
    created = env.post_event(ev, bwm)
    assert created.status_code == 201, created.text
    assert created.json()["lots"] == {lot: created.json()["hash"]}
    one = env.get(f"/v1/lots/{_path(lot)}", bwm)
    assert one.status_code == 200, one.text
    assert (one.json()["lot"], one.json()["custodian"]) == (lot, "bwm")
    chain = env.get(f"/v1/lots/{_path(lot)}/events", bwm).json()["items"]
    assert [x["hash"] for x in chain] == [created.json()["hash"]]
    prov = env.get(f"/v1/lots/{_path(lot)}/provenance", bwm).json()
    assert prov["lot"] == lot and [n["lot"] for n in prov["nodes"]] == [lot]
    bundle = env.get(f"/v1/lots/{_path(lot)}/bundle", bwm).json()
    assert bundle["lot"] == lot
    assert bundle["entries"][-1]["event"] == dict(ev.envelope)
    # fully percent-encoded works as well, and other partners still see nothing
    assert env.get(f"/v1/lots/{quote(lot, safe='')}", bwm).json()["lot"] == lot
    assert_problem(env.get(f"/v1/lots/{_path(lot)}", env.partner["packco"]), 404, "not_found")
    # ship it to alus: the custody of an odd id is tracked like any other
    ship = sign(
        type="lot.ship",
        actor="bwm",
        key=KEYS["bwm"],
        body={"lot": lot, "to": "alus", "mass_kg": "100"},
        prev={lot: created.json()["hash"]},
        time=LATE,
    )
    assert env.post_event(ship, bwm).status_code == 201
    assert env.get(f"/v1/lots/{_path(lot)}", env.partner["alus"]).json()["status"] == "in_transit"


def test_a_lot_id_ending_in_a_route_word_is_readable(sqlite_url: str) -> None:
    """Name it with the last slash percent-encoded; its own suffix routes still work."""
    with app_env(sqlite_url) as e:
        for word in ("events", "provenance", "bundle"):
            lot = f"X/{word}"
            assert e.post_event(e.create(lot), e.admin).status_code == 201
            got = e.get(f"/v1/lots/{quote(lot, safe='')}", e.admin)
            assert got.status_code == 200 and got.json()["lot"] == lot
            chain = e.get(f"/v1/lots/{quote(lot, safe='')}/events", e.admin).json()["items"]
            assert [c["event"]["type"] for c in chain] == ["lot.create"]


# --------------------------------------------------------------------------- 5. limits


def test_an_event_over_64_kib_is_413(sqlite_url: str) -> None:
    with app_env(sqlite_url) as e:
        big = b'{"ltl": 1, "pad": "' + b"x" * MAX_EVENT_BYTES + b'"}'
        assert_problem(e.post_event(big, e.admin), 413, "too_large")
        # streamed without a Content-Length: counted while reading
        chunks = (big[i : i + 4096] for i in range(0, len(big), 4096))
        resp = e.client.post(
            "/v1/events",
            content=chunks,
            headers={"Content-Type": "application/json", **e.headers(e.admin)},
        )
        assert_problem(resp, 413, "too_large")
        # exactly at the limit is not refused for its size (it is just not an event)
        at_limit = b'{"ltl": 1, "p": "' + b"x" * (MAX_EVENT_BYTES - 19) + b'"}'
        assert len(at_limit) == MAX_EVENT_BYTES
        assert_problem(e.post_event(at_limit, e.admin), 400, "invalid_event")


def _sign_unchecked(unsigned: dict[str, Any], actor: str) -> dict[str, Any]:
    """Sign an envelope the way a careless client would: no schema or size check."""
    sig = KEYS[actor].sign(SIGNING_PREFIX + jcs(unsigned))
    return {**unsigned, "sig": b64url_encode(sig)}


def test_an_event_over_64_kib_inside_a_batch_is_invalid(sqlite_url: str) -> None:
    """spec §2: an event over 64 KiB is refused, also when it arrives inside a batch."""
    with app_env(sqlite_url) as e:
        lot = e.ledger.lot(ENCLOSURE)
        docs = [{"kind": "photo", "ref": f"{i:02d}" + "r" * 4000} for i in range(17)]
        body = {"lot": ENCLOSURE, "to": "alus", "mass_kg": format_mass(lot.mass), "documents": docs}
        unsigned = build_event(
            type="lot.ship",
            actor="packco",
            kid=e.ledger.party_keys("packco")[0].kid,
            body=body,
            prev={ENCLOSURE: lot.head},
            time=LATE,
        )
        huge = _sign_unchecked(unsigned, "packco")
        assert len(jcs(huge)) > MAX_EVENT_BYTES
        assert_problem(e.post_event(jcs(huge), e.admin), 413, "too_large")
        resp = e.post_batch([huge], e.admin)
        assert resp.status_code == 200, resp.text
        (result,) = resp.json()["results"]
        assert (result["status"], result["problem"]["code"]) == (400, "invalid_event"), result
        now = e.ledger.lot(ENCLOSURE)
        assert (now.head, now.status) == (lot.head, "held")


def test_batch_over_its_byte_and_event_limits_is_413(sqlite_url: str) -> None:
    with app_env(sqlite_url, max_batch_events=5, max_batch_bytes=8192) as e:
        size = e.ledger.size()
        six = [e.create().envelope for _ in range(6)]
        body = assert_problem(e.post_batch(six, e.admin), 413, "too_large")
        assert "5" in body["detail"]
        five = [e.create().envelope for _ in range(5)]
        ok = e.post_batch(five, e.admin)
        assert [r["status"] for r in ok.json()["results"]] == [201] * 5
        big = json.dumps({"events": [], "pad": "x" * 9000}).encode()
        resp = e.client.post(
            "/v1/events/batch",
            content=big,
            headers={"Content-Type": "application/json", **e.headers(e.admin)},
        )
        assert_problem(resp, 413, "too_large")
        assert e.ledger.size() == size + 5


def test_third_quick_write_of_one_token_is_429_with_retry_after(sqlite_url: str) -> None:
    with app_env(sqlite_url, write_rate=1, write_burst=2) as e:
        bwm = e.partner["bwm"]
        assert e.post_event(e.create(), bwm).status_code == 201
        assert e.post_event(e.create(), bwm).status_code == 201
        third = e.post_event(e.create(), bwm)
        assert_problem(third, 429, "rate_limited")
        assert int(third.headers["retry-after"]) >= 1
        # the bucket is per token: another token still writes, and batches count too
        assert e.post_event(e.create(), e.admin).status_code == 201
        assert_problem(e.post_batch([e.create().envelope], bwm), 429, "rate_limited")
        # reads are not rate limited
        assert e.get("/v1/lots", bwm).status_code == 200


def test_fourth_failed_authentication_is_429(sqlite_url: str) -> None:
    with app_env(sqlite_url, auth_failures_per_minute=3) as e:
        for i in range(3):
            assert_problem(e.get("/v1/lots", f"{WRONG}-{i}"), 401, "unauthorized")
        fourth = e.get("/v1/lots", f"{WRONG}-3")
        assert_problem(fourth, 429, "rate_limited")
        assert int(fourth.headers["retry-after"]) >= 1
        assert_problem(e.post_event(e.create(), WRONG), 429, "rate_limited")
        # a valid token is not locked out
        assert e.get("/v1/lots", e.auditor).status_code == 200


# --------------------------------------------------------------------------- 6. batch


def test_batch_reports_each_event_in_order_and_applies_only_the_valid_ones(env: Env) -> None:
    old = env.ledger.lot(ENCLOSURE)
    size = env.ledger.size()
    first = env.create("BATCH-1")
    ship = sign(
        type="lot.ship",
        actor="bwm",
        key=KEYS["bwm"],
        body={"lot": "BATCH-1", "to": "alus", "mass_kg": "100"},
        prev={"BATCH-1": first.hash},  # the head the first event of this batch makes
        time=LATE,
    )
    invalid = {**env.create("BATCH-BAD").envelope, "ltl": 2}
    stale = env.adjust_enclosure(head="f" * 64)
    forged = {**env.create("BATCH-FORGED").envelope}
    forged["body"] = {**forged["body"], "mass_kg": "999"}
    last = env.create("BATCH-2")
    resp = env.post_batch(
        [
            first.envelope,
            invalid,
            stale.envelope,
            ship.envelope,
            forged,
            last.envelope,
            first.envelope,
        ],
        env.admin,
    )
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 409, 201, 422, 201, 200]
    codes = [r["problem"]["code"] if r["problem"] else None for r in results]
    assert codes == [None, "invalid_event", "stale_head", None, "bad_signature", None, None]
    for r in results:
        if r["problem"] is not None:
            assert set(r["problem"]) >= PROBLEM_MEMBERS
            assert r["problem"]["status"] == r["status"]
            assert r["receipt"] is None
    receipts = [r["receipt"] for r in results]
    assert receipts[0]["hash"] == first.hash and receipts[6] == receipts[0]
    assert [receipts[i]["seq"] for i in (0, 3, 5)] == [size, size + 1, size + 2]
    assert receipts[3]["lots"] == {"BATCH-1": ship.hash}
    # the valid ones are in the ledger, the refused ones changed nothing
    assert env.ledger.size() == size + 3
    batch1 = env.get("/v1/lots/BATCH-1", env.auditor).json()
    assert (batch1["status"], batch1["transit_to"], batch1["head"]) == (
        "in_transit",
        "alus",
        ship.hash,
    )
    assert env.get("/v1/lots/BATCH-2", env.auditor).status_code == 200
    for refused in ("BATCH-BAD", "BATCH-FORGED"):
        assert_problem(env.get(f"/v1/lots/{refused}", env.auditor), 404, "not_found")
    now = env.ledger.lot(ENCLOSURE)
    assert (now.head, now.mass) == (old.head, old.mass)
    # a partner's batch: its own events pass, another party's are forbidden one by one
    mixed = env.post_batch(
        [env.create("BATCH-3").envelope, env.adjust_enclosure().envelope], env.partner["bwm"]
    )
    assert [r["status"] for r in mixed.json()["results"]] == [201, 403]
    # not a batch at all
    for doc in (b"[]", b'{"events": {}}', b'{"events": [], "more": 1}'):
        raw = env.client.post(
            "/v1/events/batch",
            content=doc,
            headers={"Content-Type": "application/json", **env.headers(env.admin)},
        )
        assert_problem(raw, 400)


# --------------------------------------------------------------------------- 7. proofs


def _b64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(x, validate=True) for x in items]


def test_event_comes_with_an_inclusion_proof_that_verifies(env: Env) -> None:
    verifier = log_signer().verifier
    for _, ev in env.ledger.events([0, 5, env.ledger.size() - 1]):
        resp = env.get(f"/v1/events/{ev.hash}", env.auditor)
        assert resp.status_code == 200
        got = resp.json()
        assert got["hash"] == ev.hash and got["event"] == dict(ev.envelope)
        cp = verify_checkpoint(got["checkpoint"], verifier, origin=ORIGIN)
        proof = got["proof"]
        assert (proof["index"], proof["size"]) == (got["seq"], cp.size)
        assert cp.size == env.ledger.size()
        leaf = merkle.leaf_hash(bytes.fromhex(ev.hash))
        merkle.verify_inclusion(leaf, got["seq"], cp.size, _b64(proof["proof"]), cp.root)
        # the public proof route agrees, at the latest and at an explicit size
        public = env.get(f"/v1/log/proof/inclusion?hash={ev.hash}").json()
        assert public == proof
        sized = env.get(f"/v1/log/proof/inclusion?hash={ev.hash}&size={got['seq'] + 1}").json()
        assert (sized["index"], sized["size"]) == (got["seq"], got["seq"] + 1)


def test_checkpoint_is_signed_text_and_consistency_proofs_verify(env: Env) -> None:
    verifier = log_signer().verifier
    resp = env.get("/v1/log/checkpoint")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    old = verify_checkpoint(resp.text, verifier, origin=ORIGIN)
    assert old.size == env.ledger.size()
    assert env.post_event(env.create(), env.partner["bwm"]).status_code == 201
    assert env.post_event(env.adjust_enclosure(), env.partner["packco"]).status_code == 201
    new = verify_checkpoint(env.get("/v1/log/checkpoint").text, verifier, origin=ORIGIN)
    assert new.size == old.size + 2
    got = env.get(f"/v1/log/proof/consistency?from={old.size}&to={new.size}").json()
    assert (got["from"], got["to"]) == (old.size, new.size)
    merkle.verify_consistency(old.size, new.size, _b64(got["proof"]), old.root, new.root)
    same = env.get(f"/v1/log/proof/consistency?from={new.size}&to={new.size}").json()
    assert same["proof"] == []
    # a bundle's checkpoint is a signed one as well, and the health check sees the size
    bundle = env.get(f"/v1/lots/{ENCLOSURE}/bundle", env.auditor).json()
    assert verify_checkpoint(bundle["checkpoint"], verifier, origin=ORIGIN).size == new.size
    health = env.get("/healthz").json()
    assert health["status"] == "ok" and health["size"] == health["checkpoint_size"] == new.size
    assert (health["cosigned_size"], health["witnesses"]) == (None, [])


# --------------------------------------------------------------------------- 8. OpenAPI


def test_openapi_lists_every_route_and_documents_the_event_body(env: Env) -> None:
    doc = env.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    in_schema = {
        (method, str(r.path_format))
        for r in iter_route_contexts(env.app.routes)
        if getattr(r, "include_in_schema", False)
        for method in (r.methods or ())
        if method != "HEAD"
    }
    assert documented == in_schema
    api_routes = (
        {k[:2] for k in MATRIX}
        - {("GET", p) for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/")}
        - {(m, p) for m, p in {k[:2] for k in MATRIX} if p.startswith("/console/")}
    )
    assert documented == api_routes
    post = doc["paths"]["/v1/events"]["post"]
    union = post["requestBody"]["content"]["application/json"]["schema"]
    assert post["requestBody"]["required"] is True
    assert union == {"$ref": "#/components/schemas/Event"}
    variants = doc["components"]["schemas"]["Event"]["oneOf"]
    assert len(variants) == 12  # one envelope per event type (tests/api/test_openapi_types.py)
    schema = doc["components"]["schemas"][variants[0]["$ref"].rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {
        "ltl",
        "id",
        "type",
        "actor",
        "kid",
        "time",
        "prev",
        "body",
        "sig",
    }
    assert {"200", "201", "401", "403", "409", "413", "422", "429"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["409"]["content"]
    batch = doc["paths"]["/v1/events/batch"]["post"]
    assert "requestBody" in batch


def test_admin_lists_and_revokes_tokens_with_immediate_effect(env: Env) -> None:
    spare = create_token(env.ledger.store, "lab", "partner")
    assert env.get("/v1/parties", spare).status_code == 200  # now cached by the server
    listed = env.get("/v1/tokens", env.admin).json()["items"]
    mine = [t for t in listed if t["id"] == hash_token(spare)]
    assert mine == [
        {
            "id": hash_token(spare),
            "party": "lab",
            "role": "partner",
            "created_at": mine[0]["created_at"],
            "revoked": False,
        }
    ]
    assert spare not in str(listed)  # only hashes are stored and shown
    gone = env.client.delete(f"/v1/tokens/{hash_token(spare)}", headers=env.headers(env.admin))
    assert gone.status_code == 204
    assert_problem(env.get("/v1/parties", spare), 401, "unauthorized")
    again = env.client.delete(f"/v1/tokens/{hash_token(spare)}", headers=env.headers(env.admin))
    assert_problem(again, 404, "not_found")
    listed = env.get("/v1/tokens", env.admin).json()["items"]
    assert [t["revoked"] for t in listed if t["id"] == hash_token(spare)] == [True]
