"""Every console page, with every role, shows what the API returns to the same token (issue 12
item 1): the same lots, chains, provenance nodes, certificates, parties and keys — and nothing
of a lot the API hides from it. Pages are parsed as HTML (html.parser), links decoded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.console.i18n import VALUE_LABELS
from tests.api.test_api import Env, app_env
from tests.conftest import _pg_schema_url
from tests.support.scenario import ENCLOSURE, PARTIES

ROLES = ("admin", "auditor", *PARTIES)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The scenario behind the app, on SQLite and on PostgreSQL (the listings' filters are
    SQL: both backends must agree with the API, which is checked on both elsewhere)."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('console')}/ledger.db"])
    else:
        urls = _pg_schema_url()
    url = next(urls)
    with app_env(url, auth_failures_per_minute=10_000) as e:
        yield e
    for _ in urls:  # drops the PostgreSQL schema
        pass


def token_of(env: Env, role: str) -> str:
    return {"admin": env.admin, "auditor": env.auditor}.get(role) or env.partner[role]


class Page(HTMLParser):
    """The links of a page by the id of the element they are in, and the text of ids."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.links: dict[str, list[str]] = {}
        self.attrs: list[dict[str, str | None]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.attrs.append(found)
        if tag in ("input", "meta", "link", "br", "img", "rect", "path", "line", "circle"):
            return
        self.stack.append(found.get("id"))
        if tag == "a" and found.get("href"):
            for owner in {x for x in self.stack if x}:
                self.links.setdefault(owner, []).append(str(found["href"]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if self.stack and tag not in ("input", "meta", "link", "br", "img"):
            self.stack.pop()

    def query(self, owner: str, path: str, member: str = "id") -> list[str]:
        """The ``member`` query values of the links to ``path`` inside the element ``owner``."""
        out = []
        for href in self.links.get(owner, []):
            url = urlsplit(href)
            if url.path == path:
                out.extend(parse_qs(url.query).get(member, []))
        return out


def signed_in(env: Env, role: str) -> TestClient:
    client = TestClient(env.app, follow_redirects=False)
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    resp = client.post(
        "/console/sign-in", data={"csrf": csrf.group(1), "token": token_of(env, role)}
    )
    assert resp.status_code == 303, resp.text
    return client


def api(env: Env, role: str, path: str, **params: Any) -> Any:
    resp = env.client.get(path, params=params, headers=env.headers(token_of(env, role)))
    return resp


def all_lots(env: Env) -> list[str]:
    return [x["lot"] for x in api(env, "admin", "/v1/lots", limit=1000).json()["items"]]


@pytest.mark.parametrize("role", ROLES)
def test_the_lots_page_lists_what_the_api_lists(env: Env, role: str) -> None:
    console = signed_in(env, role)
    for filters in ({}, {"status": "held"}, {"custodian": "alus"}, {"material": "aluminium scrap"}):
        want = [x["lot"] for x in api(env, role, "/v1/lots", limit=1000, **filters).json()["items"]]
        page = console.get("/console/lots", params=filters)
        assert page.status_code == 200
        shown = Page(page.text).query("lots", "/console/lot")
        assert shown == want, (role, filters)
    # the id search is a prefix search, as ?prefix= of the API
    want = [x["lot"] for x in api(env, role, "/v1/lots", prefix="ALUS-").json()["items"]]
    shown = Page(console.get("/console/lots", params={"q": "ALUS-"}).text).query(
        "lots", "/console/lot"
    )
    assert shown == want and all(x.startswith("ALUS-") for x in shown)


def test_the_lots_page_is_paginated(env: Env) -> None:
    console = signed_in(env, "admin")
    from api.console import routes

    every = all_lots(env)
    seen: list[str] = []
    url: str | None = "/console/lots"
    old, routes.PAGE_SIZE = routes.PAGE_SIZE, 3
    try:
        while url is not None:
            page = Page(console.get(url).text)
            seen.extend(page.query("lots", "/console/lot"))
            nxt = [a for a in page.links.get("main", []) if "after=" in a]
            url = nxt[0] if nxt else None
    finally:
        routes.PAGE_SIZE = old
    assert seen == every and len(every) > 3


@pytest.mark.parametrize("role", ROLES)
def test_each_lot_page_shows_what_the_api_returns_to_the_same_token(env: Env, role: str) -> None:
    console = signed_in(env, role)
    every = all_lots(env)
    for lot in every:
        page = console.get("/console/lot", params={"id": lot})
        state = api(env, role, f"/v1/lots/{lot}")
        assert page.status_code == state.status_code, (role, lot)
        if state.status_code != 200:
            assert page.status_code == 404 and "problem-code" in page.text
            # a hidden lot's page is word for word the page of a lot that does not exist
            ghost = console.get("/console/lot", params={"id": "NO-SUCH-LOT-1"})
            assert page.text.replace(lot, "X") == ghost.text.replace("NO-SUCH-LOT-1", "X")
            continue
        text = page.text
        parsed = Page(text)
        chain = api(env, role, f"/v1/lots/{lot}/events").json()["items"]
        seqs = [int(a["data-seq"] or 0) for a in parsed.attrs if a.get("data-seq")]
        assert seqs == [x["seq"] for x in chain], (role, lot)
        # every event row links its signed JSON with its inclusion proof, as the API serves it
        assert [h.rsplit("/", 1)[1] for h in parsed.links["timeline"] if "/v1/events/" in h] == [
            x["hash"] for x in chain
        ]
        graph = api(env, role, f"/v1/lots/{lot}/provenance").json()
        nodes = sorted(set(parsed.query("provenance-graph", "/console/lot")))
        assert nodes == sorted(n["lot"] for n in graph["nodes"]), (role, lot)
        certs = api(env, role, "/v1/certificates", lot=lot).json()["items"]
        assert [c["url"] for c in certs] == parsed.links.get("lot-certificates", [])
        facts = state.json()
        assert f'id="lot-mass">{facts["mass_kg"]}<' in text
        assert f'id="lot-status" data-status="{facts["status"]}">' in text
        # nothing of a lot the API keeps from this token
        seen_by_api = json.dumps(
            [state.json(), chain, graph, api(env, role, f"/v1/lots/{lot}/recycled-content").json()]
        )
        for other in every:
            if re.search(rf"(?<![\w-]){re.escape(other)}(?![\w-])", text):
                assert other in seen_by_api, (role, lot, other)


@pytest.mark.parametrize("role", ROLES)
def test_parties_certificates_and_overview_match_the_api(env: Env, role: str) -> None:
    console = signed_in(env, role)
    parties = api(env, role, "/v1/parties").json()["items"]
    page = Page(console.get("/console/parties").text)
    assert page.query("parties", "/console/party") == [p["id"] for p in parties]
    for party in parties:
        text = console.get("/console/party", params={"id": party["id"]}).text
        kids = re.findall(r"<tr><td><code>([0-9a-f]{16})</code>", text)
        assert kids == [k["kid"] for k in party["keys"]]
    certs = api(env, role, "/v1/certificates").json()["items"]
    page = Page(console.get("/console/certificates").text)
    assert page.links.get("certificates", [])[::2] == [c["url"] for c in certs]
    overview = Page(console.get("/").text)
    hashes = [
        h.rsplit("/", 1)[1] for h in overview.links.get("recent-events", []) if "/v1/events/" in h
    ]
    assert hashes, role
    for h in hashes:  # every recent event is one the API serves this token
        assert api(env, role, f"/v1/events/{h}").status_code == 200, (role, h)
    # and the newest event the API serves it is among them
    assert hashes[0] == newest_visible(env, role)


def newest_visible(env: Env, role: str) -> str:
    for seq in range(env.ledger.size() - 1, -1, -1):
        ((_, ev),) = env.ledger.events(range(seq, seq + 1))
        if api(env, role, f"/v1/events/{ev.hash}").status_code == 200:
            return ev.hash
    raise AssertionError("no visible event")


def test_a_session_reads_the_json_api_but_never_writes(env: Env) -> None:
    """The console's links to the JSON (events, bundles) work with the session cookie; the
    cookie authenticates GET only: a POST with it and no bearer token is 401."""
    console = signed_in(env, "packco")
    bearer = api(env, "packco", f"/v1/lots/{ENCLOSURE}/bundle")
    by_cookie = console.get(f"/v1/lots/{ENCLOSURE}/bundle")
    assert by_cookie.status_code == 200 and by_cookie.json() == bearer.json()
    hidden = console.get("/v1/lots/ALUS-PRIM-2025-0001")
    assert hidden.status_code == api(env, "packco", "/v1/lots/ALUS-PRIM-2025-0001").status_code
    size = env.ledger.size()
    event = env.adjust_enclosure()
    resp = console.post(
        "/v1/events", content=event.canonical, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 401 and env.ledger.size() == size


def test_issuing_from_the_console_is_the_api_with_a_csrf_token(env: Env) -> None:
    console = signed_in(env, "auditor")
    page = console.get("/console/certificates")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None and 'id="issue-lot"' in page.text
    before = len(api(env, "auditor", "/v1/certificates", lot=ENCLOSURE).json()["items"])
    forged = console.post("/console/certificates", data={"csrf": "x", "lot": ENCLOSURE})
    assert forged.status_code == 403
    resp = console.post("/console/certificates", data={"csrf": csrf.group(1), "lot": ENCLOSURE})
    assert resp.status_code == 303, resp.text
    after = api(env, "auditor", "/v1/certificates", lot=ENCLOSURE).json()["items"]
    assert len(after) == before + 1
    listed = Page(console.get(resp.headers["location"]).text)
    assert after[-1]["url"] in listed.links["certificates"]
    # a partner may not certify a lot outside its custody history: the API's 404, as a page
    other = signed_in(env, "bwm")
    csrf2 = re.search(r'name="csrf" value="([^"]+)"', other.get("/console/certificates").text)
    assert csrf2 is not None
    refused = other.post("/console/certificates", data={"csrf": csrf2.group(1), "lot": ENCLOSURE})
    assert refused.status_code == 404 and '<code id="problem-code">not_found</code>' in refused.text
    bad = other.post("/console/certificates", data={"csrf": csrf2.group(1), "lot": "a b"})
    assert bad.status_code == 400


def test_korean_and_english_throughout(env: Env) -> None:
    console = signed_in(env, "auditor")
    english = console.get("/console/lot", params={"id": ENCLOSURE}).text
    assert '<html lang="en">' in english and "Custody timeline" in english
    switch = console.get("/console/lang/ko", params={"next": f"/console/lot?id={ENCLOSURE}"})
    assert (
        switch.status_code == 303 and switch.headers["location"] == f"/console/lot?id={ENCLOSURE}"
    )
    korean = console.get("/console/lot", params={"id": ENCLOSURE}).text
    assert '<html lang="ko">' in korean and "관리 이력" in korean and "원산지 이력" in korean
    assert "Custody timeline" not in korean
    for path in ("/", "/console/lots", "/console/parties", "/console/certificates"):
        assert "로그아웃" in console.get(path).text
    # the ledger's own vocabularies in Korean too, their values kept for machines
    status = api(env, "auditor", f"/v1/lots/{ENCLOSURE}").json()["status"]
    assert f'data-status="{status}">{VALUE_LABELS["status"][status][1]}<' in korean
    results = re.findall(r'<strong data-result="([^"]+)">([^<]+)<', korean)
    assert results and all(VALUE_LABELS["result"][r][1] == word for r, word in results)
    parties = console.get("/console/parties").text
    assert "재활용업체" in parties and "운영자" in parties
    assert ">recycler" not in parties and ", recycler" not in parties
    lots = console.get("/console/lots").text
    assert "운송 중</option>" in lots and ">in_transit<" not in lots
    # an open redirect is refused: the switch goes back to this server only
    away = console.get("/console/lang/en", params={"next": "//evil.example/x"})
    assert away.headers["location"] == "/"
    # Accept-Language chooses before any switch
    fresh = TestClient(env.app)
    assert '<html lang="ko">' in fresh.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).text


def test_names_are_shown_as_registered_and_escaped(env: Env) -> None:
    """Party names are partner input in any script: shown as registered, never as markup."""
    console = signed_in(env, "auditor")
    for party in api(env, "auditor", "/v1/parties").json()["items"]:
        text = console.get("/console/party", params={"id": party["id"]}).text
        from html import escape

        assert f'<h1 id="party-name">{escape(party["name"])}</h1>' in text


def test_no_page_loads_anything_from_another_site(env: Env) -> None:
    console = signed_in(env, "auditor")
    for path in (
        "/",
        "/console/lots",
        f"/console/lot?id={ENCLOSURE}",
        "/console/parties",
        "/console/party?id=alus",
        "/console/certificates",
    ):
        page = console.get(path)
        assert page.status_code == 200
        for attrs in Page(page.text).attrs:
            for name in ("src", "href"):
                value = attrs.get(name) or ""
                assert not value.startswith(("http:", "https:", "//")) or (
                    name == "href" and ("/c/" in value)
                ), (path, value)
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text and " style=" not in page.text
    assert Path(__file__)  # keep the import honest
