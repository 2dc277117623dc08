"""The console's sign-in and session (issue 12 item 1): cookies, CSRF, revocation, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.routes import SESSION_COOKIE, SIGN_IN_COOKIE
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import hash_token
from tests.support.ledgers import ORIGIN, open_ledger


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    led = open_ledger(db_url)
    yield led
    led.close()


def _client(ledger: Ledger, base_url: str = "http://testserver", **settings: object) -> TestClient:
    app = create_app(Settings(origin=ORIGIN, **settings), ledger=ledger)  # type: ignore[arg-type]
    return TestClient(app, base_url=base_url, follow_redirects=False)


def _hidden_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _set_cookie(resp: httpx.Response, name: str) -> str:
    (header,) = [h for h in resp.headers.get_list("set-cookie") if h.startswith(name + "=")]
    return header


def _sign_in(client: TestClient, token: str) -> httpx.Response:
    csrf = _hidden_csrf(client.get("/").text)
    return client.post("/console/sign-in", data={"csrf": csrf, "token": token})


def test_sign_in_sets_a_strict_httponly_session_cookie_and_shows_the_overview(
    ledger: Ledger,
) -> None:
    token = ledger.create_token("packco", "partner")
    client = _client(ledger)
    page = client.get("/")
    assert page.status_code == 200
    assert '<label for="token">' in page.text and 'id="token"' in page.text
    resp = _sign_in(client, token)
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = _set_cookie(resp, SESSION_COOKIE)
    attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attrs
    assert "secure" not in attrs
    value = cookie.split(";")[0].split("=", 1)[1]
    assert token not in cookie and hash_token(token) not in cookie and len(value) >= 40
    overview = client.get("/")
    assert overview.status_code == 200
    assert '<dd id="party">packco</dd>' in overview.text
    assert '<dd id="role">partner</dd>' in overview.text
    assert f'<dd id="log-size">{ledger.size()}</dd>' in overview.text
    assert 'id="checkpoint-size"' in overview.text


def test_the_session_cookie_is_secure_over_https(ledger: Ledger) -> None:
    token = ledger.create_token("packco", "partner")
    client = _client(ledger, base_url="https://testserver")
    resp = _sign_in(client, token)
    assert resp.status_code == 303
    attrs = {a.strip().lower() for a in _set_cookie(resp, SESSION_COOKIE).split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attrs
    assert '<dd id="party">packco</dd>' in client.get("/").text


def test_a_bad_token_shows_the_page_again_with_an_error_and_no_session(ledger: Ledger) -> None:
    client = _client(ledger)
    secret = "ltl_never-issued-but-secret"
    resp = _sign_in(client, secret)
    assert resp.status_code == 401
    assert 'role="alert"' in resp.text and secret not in resp.text
    assert not any(h.startswith(SESSION_COOKIE + "=") for h in resp.headers.get_list("set-cookie"))
    assert 'id="token"' in client.get("/").text


def test_failed_sign_ins_are_rate_limited(ledger: Ledger) -> None:
    client = _client(ledger, auth_failures_per_minute=2)
    statuses = [_sign_in(client, "ltl_wrong").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_sign_in_without_the_pre_session_csrf_pair_is_refused(ledger: Ledger) -> None:
    token = ledger.create_token("packco", "partner")
    client = _client(ledger)
    client.get("/")  # the cookie half, but a forged form
    resp = client.post("/console/sign-in", data={"csrf": "forged", "token": token})
    assert resp.status_code == 403
    fresh = _client(ledger)  # the form half, but no cookie (a cross-site post)
    csrf = _hidden_csrf(client.get("/").text)
    resp = fresh.post("/console/sign-in", data={"csrf": csrf, "token": token})
    assert resp.status_code == 403
    assert SIGN_IN_COOKIE and not any(
        h.startswith(SESSION_COOKIE + "=") for h in resp.headers.get_list("set-cookie")
    )


def test_sign_out_needs_the_session_csrf_token(ledger: Ledger) -> None:
    token = ledger.create_token("packco", "partner")
    client = _client(ledger)
    _sign_in(client, token)
    csrf = _hidden_csrf(client.get("/").text)
    assert client.post("/console/sign-out").status_code == 415  # no form at all
    resp = client.post("/console/sign-out", data={"csrf": "wrong"})
    assert resp.status_code == 403
    assert '<code id="problem-code">forbidden</code>' in resp.text
    assert '<dd id="party">packco</dd>' in client.get("/").text  # still signed in
    resp = client.post("/console/sign-out", data={"csrf": csrf})
    assert resp.status_code == 303
    cleared = _set_cookie(resp, SESSION_COOKIE).lower()
    assert "max-age=0" in cleared or "expires=thu, 01 jan 1970" in cleared
    assert 'id="token"' in client.get("/").text
    # the old session id is dead on the server too, not just forgotten by the browser
    assert client.post("/console/sign-out", data={"csrf": csrf}).status_code == 403


def test_a_revoked_tokens_session_ends_at_the_next_request(ledger: Ledger) -> None:
    token = ledger.create_token("packco", "partner")
    client = _client(ledger)
    _sign_in(client, token)
    assert '<dd id="party">packco</dd>' in client.get("/").text
    assert ledger.revoke_token(hash_token(token))
    page = client.get("/")
    assert page.status_code == 200 and 'id="token"' in page.text and "packco" not in page.text


def test_console_pages_have_security_headers_and_no_external_url(ledger: Ledger) -> None:
    token = ledger.create_token("operator", "admin")
    client = _client(ledger)
    pages = [client.get("/"), _sign_in(client, "ltl_wrong")]
    _sign_in(client, token)
    pages.append(client.get("/"))
    assert 'id="party">operator<' in pages[-1].text
    for page in pages:
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in page.text.lower()
        assert not re.search(r"https?://", page.text), page.text


def test_console_routes_are_not_in_the_openapi_document(ledger: Ledger) -> None:
    paths = _client(ledger).get("/openapi.json").json()["paths"]
    assert not {"/", "/console/sign-in", "/console/sign-out"} & set(paths)
