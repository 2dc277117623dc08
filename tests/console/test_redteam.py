"""Red-team findings on the web console (issue 12), one test per finding: each failed before
its fix. A finding not fixed yet is ``xfail(strict=True)``: it fails (as expected) until the fix
lands, then XPASSes, which fails the run until the mark is removed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.console import sessions
from api.console.sessions import ConsoleSessions
from tests.api.test_api import Env, app_env
from tests.console.test_pages import signed_in
from tests.support.ledgers import PUBLIC_URL
from tests.support.scenario import NICKEL, private_key


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with app_env(db_url, auth_failures_per_minute=10_000) as e:
        yield e


def _create(env: Env, lot: str, actor: str = "bwm") -> None:
    resp = env.post_event(env.create(lot, actor), env.partner[actor])
    assert resp.status_code == 201, resp.text


# ------------------------------------------------------------------------------------------
# Finding: the lot page's "API JSON" link of a lot whose id ends in a route word
# (``X/events``, ``X/bundle``, ...) pointed at ANOTHER lot's route (``/v1/lots/X/events``: the
# chain of lot X), so a partner could name its lot so that its link showed someone else's data.
@pytest.mark.parametrize("word", ["events", "provenance", "bundle", "recycled-content"])
def test_lot_json_link_names_the_lot_even_when_its_id_ends_in_a_route_word(
    env: Env, word: str
) -> None:
    _create(env, "BWM-X")
    _create(env, f"BWM-X/{word}")
    client = signed_in(env, "bwm")
    page = client.get("/console/lot", params={"id": f"BWM-X/{word}"})
    assert page.status_code == 200
    (section,) = re.findall(r'data-bundle-url="([^"]*)"', page.text)
    links = [
        h
        for h in re.findall(r'href="(/v1/lots/[^"]*)"', page.text)
        if not h.endswith("/bundle") or h == section
    ]
    assert links, page.text
    for href in links:
        resp = client.get(href)  # the session reads the JSON API
        assert resp.status_code == 200, (href, resp.text)
        assert resp.json().get("lot") == f"BWM-X/{word}", (href, resp.text[:200])
    bundle = client.get(section.replace("&amp;", "&"))
    assert bundle.status_code == 200
    assert bundle.json()["lot"] == f"BWM-X/{word}"


# ------------------------------------------------------------------------------------------
# Finding: one token could sign in MAX_SESSIONS times (a valid token is all it takes: the
# pre-session CSRF pair comes with GET /) and evict every other user's console session, the
# oldest first: a partner could sign every auditor out, over and over.
def test_one_token_signing_in_again_and_again_cannot_evict_other_sessions(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 50)
    book = ConsoleSessions(env.ledger.sessions)
    victim, _ = book.open("auditor-token-hash")
    for _ in range(200):
        book.open("hostile-partner-token-hash")
    assert book.get(victim) is not None


def test_one_token_signing_in_again_and_again_over_http_keeps_the_auditor_signed_in(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 40)
    auditor = signed_in(env, "auditor")
    assert '<dd id="role">auditor</dd>' in auditor.get("/").text
    for _ in range(60):
        signed_in(env, "bwm")
    assert '<dd id="role">auditor</dd>' in auditor.get("/").text


# Finding: signing in again in the same browser (another token) left the previous session
# live on the server for its 8 hours, although its cookie was replaced: a copy of the old
# cookie kept the old token's rights.
def test_signing_in_again_ends_the_session_the_browser_brought(env: Env) -> None:
    client = signed_in(env, "auditor")
    old = client.cookies.get(sessions.SESSION_COOKIE)
    assert old
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    # a signed-in page has no sign-in form: get a fresh pre-session pair in another client
    other = TestClient(env.app, follow_redirects=False)
    form = re.search(r'name="csrf" value="([^"]+)"', other.get("/").text)
    assert form is not None
    client.cookies.set("ltl_console_csrf", other.cookies["ltl_console_csrf"])
    resp = client.post(
        "/console/sign-in", data={"csrf": form.group(1), "token": env.partner["bwm"]}
    )
    assert resp.status_code == 303
    stale = TestClient(env.app, follow_redirects=False)
    stale.cookies.set(sessions.SESSION_COOKIE, old)
    assert stale.get("/v1/lots/" + NICKEL).status_code == 401
    assert 'id="token"' in stale.get("/").text


# ------------------------------------------------------------------------------------------
# Finding: the static assets (the verifier's JavaScript modules and the stylesheet) were served
# without the console's security headers (no nosniff, no CSP, no frame denial).
@pytest.mark.parametrize("path", ["/static/console/console.css", "/static/console/verify-page.js"])
def test_static_assets_carry_the_console_security_headers(env: Env, path: str) -> None:
    resp = env.client.get(path)
    assert resp.status_code == 200
    assert resp.headers.get("x-content-type-options") == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers.get("content-security-policy", "")
    assert resp.headers.get("x-frame-options") == "DENY"
    assert resp.headers.get("referrer-policy") == "same-origin"


# ------------------------------------------------------------------------------------------
# Finding (fixed: the store lists only certificates of lots in the partner's view, one query
# on the visibility index): a partner's certificate list paged through EVERY certificate of
# the ledger until it had found a page of its own, so anyone able to issue many certificates
# (a partner for its own lots, with no rate limit on issuing) made every partner's
# /console/certificates (and GET /v1/certificates) cost a scan of all of them.
def test_a_partners_certificate_list_does_not_scan_other_partners_certificates(
    env: Env,
) -> None:
    for _ in range(120):  # bwm's lot: packco never sees it
        env.ledger.issue_certificate(
            NICKEL, issuer_key=private_key("attest"), public_url=PUBLIC_URL
        )
    calls: list[Any] = []
    book = env.ledger.certificates
    real = book.list

    def counted(**kw: Any) -> Any:
        calls.append(kw)
        return real(**kw)

    book.list = counted  # type: ignore[method-assign]
    try:
        client = signed_in(env, "packco")
        assert client.get("/console/certificates").status_code == 200
    finally:
        del book.list
    assert len(calls) <= 2, f"{len(calls)} pages of other parties' certificates read"
