"""The console's "Verify in this browser" panel (api/static/console/verify-page.js) in a real
headless Chromium: the markup of tests/js/fixtures/verify-section.html, the module and
../verify/*.js served as files under ``script-src 'self'``, bundles made by the Python code
(tests/js/bundles.py). Playwright answers every request itself (``page.route``), so no server
runs; the page is on ``http://localhost`` because WebCrypto needs a secure context.

Checked: VALID / INVALID / ERROR as the auditor sees them, the failing entry named and marked,
the pinned key (localStorage) and its removal, fetch failures never VALID, a bad key line named
without fetching, partner text shown as text, labels from the section's data-* attributes, and
that the page requests nothing but itself, its scripts and the bundle (never a key)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from ledger.core.checkpoint import Signer
from tests.js.bundles import write_cases
from tests.support.ledgers import ORIGIN
from tests.support.scenario import ENCLOSURE, private_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
STATIC = HERE.parents[1] / "api" / "static"
FIXTURE = (HERE / "fixtures" / "verify-section.html").read_text(encoding="utf-8")
SECURE = "http://localhost:8765"  # never connected to: every request is answered by the route
CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'"
Save = Callable[[str, bytes], Path]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("verify-page")
    write_cases(folder / "bundles", f"sqlite:///{folder}/ledger.db")
    found = {}
    for path in sorted((folder / "bundles").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        found[case["name"]] = case
    return found


class Site:
    """The lot page, its scripts and its bundles, answered by Playwright; records requests."""

    def __init__(self, bundles: dict[str, str], labels: dict[str, str] | None = None) -> None:
        self.bundles = bundles
        self.labels = labels or {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def page_html(self, bundle: str, lot: str) -> str:
        section = FIXTURE.replace(
            'data-bundle-url="/console/lots/ENC-1/bundle"',
            f'data-bundle-url="/bundle/{html.escape(bundle)}"',
        ).replace('data-lot="ENC-1"', f'data-lot="{html.escape(lot)}"')
        for name, text in self.labels.items():
            section, n = re.subn(
                rf'data-label-{name}="[^"]*"', f'data-label-{name}="{html.escape(text)}"', section
            )
            assert n == 1, name
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Lot</title>'
            f"</head><body>{section}</body></html>"
        )

    def handle(self, route: Route) -> None:
        request = route.request
        url = urlsplit(request.url)
        self.requests.append((url.path, dict(request.headers)))
        if url.path == "/lot":
            query = parse_qs(url.query)
            body = self.page_html(query["bundle"][0], query["lot"][0])
            route.fulfill(
                status=200,
                body=body,
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Security-Policy": CSP,
                },
            )
        elif url.path.startswith("/static/"):
            file = (STATIC / url.path.removeprefix("/static/")).resolve()
            if not file.is_relative_to(STATIC) or not file.is_file():
                route.fulfill(status=404, body="")
                return
            route.fulfill(
                status=200, body=file.read_bytes(), headers={"Content-Type": "text/javascript"}
            )
        elif url.path.startswith("/bundle/"):
            name = url.path.removeprefix("/bundle/")
            if name == "abort":
                route.abort()
            elif name == "missing":
                route.fulfill(status=404, json={"title": "not found"})
            elif name == "broken":
                route.fulfill(status=500, body="oops")
            elif name == "sign-in":  # an expired session answered by the sign-in page
                route.fulfill(
                    status=200,
                    body="<!doctype html><form>sign in</form>",
                    headers={"Content-Type": "text/html"},
                )
            else:
                route.fulfill(
                    status=200,
                    body=self.bundles[name],
                    headers={"Content-Type": "application/json"},
                )
        else:
            route.fulfill(status=404, body="")

    def bundle_requests(self) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p.startswith("/bundle/")]


@pytest.fixture
def open_page(
    browser: Browser, cases: dict[str, dict[str, Any]], artifacts: Save
) -> Iterator[Callable[..., tuple[Page, Site]]]:
    """``open_page(bundle_name, lot=..., labels=..., origin=...)``: a fresh context on the
    lot page; the page's console errors fail the test (except the expected failed loads)."""
    contexts = []
    problems: list[str] = []

    def make(
        bundle: str,
        lot: str = ENCLOSURE,
        labels: dict[str, str] | None = None,
        origin: str = SECURE,
        extra: dict[str, str] | None = None,
    ) -> tuple[Page, Site]:
        bundles = {name: json.dumps(c["bundle"]) for name, c in cases.items()}
        bundles.update(extra or {})
        site = Site(bundles, labels)
        context = browser.new_context()
        contexts.append(context)
        context.route(f"{origin}/**", site.handle)
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: (
                problems.append(f"console: {m.text}")
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        response = page.goto(f"{origin}/lot?{urlencode({'bundle': bundle, 'lot': lot})}")
        assert response is not None and response.status == 200
        return page, site

    yield make
    for context in contexts:
        context.close()
    assert problems == []


def _verify(page: Page, keys: str, pin: bool = False) -> str:
    from playwright.sync_api import expect

    page.fill("#log-vkey", keys)
    if pin:
        page.check("#pin-key")
    page.click("#verify-button")
    verdict = page.locator("#verify-verdict")
    expect(verdict).not_to_have_text(re.compile(r"^(|Verifying…)$"))
    expect(page.locator("#verify-button")).to_be_enabled()
    return verdict.inner_text()


def _rows(page: Page) -> list[list[str]]:
    return [
        r.locator("td").all_inner_texts() for r in page.locator("#verify-entries tbody tr").all()
    ]


def _items(page: Page) -> list[str]:
    return page.locator("#verify-errors li").all_inner_texts()


def test_valid_bundle_and_a_pinned_key(
    open_page: Callable[..., tuple[Page, Site]], cases: dict[str, dict[str, Any]], artifacts: Save
) -> None:
    case = cases[f"honest-{ENCLOSURE}"]
    page, site = open_page(f"honest-{ENCLOSURE}")
    assert page.locator("#pinned-note").is_hidden()
    assert page.locator("#forget-key").is_hidden()
    assert _verify(page, case["vkey"], pin=True) == "VALID"
    artifacts("valid.png", page.screenshot(full_page=True))
    verdict = page.locator("#verify-verdict")
    assert verdict.get_attribute("class") == "valid"
    assert verdict.get_attribute("role") == "status"
    assert verdict.get_attribute("aria-live") == "polite"
    entries = case["bundle"]["entries"]
    summary = page.locator("#verify-summary").inner_text()
    assert summary.startswith(
        f"Lot {ENCLOSURE}: {len(entries)} entries checked, {len(entries)} passed"
    )
    assert f"checkpoint {ORIGIN} (size " in summary
    assert _items(page) == []
    assert _rows(page) == [
        [str(e["seq"]), e["event"]["type"], e["event"]["actor"], e["event"]["time"], "✓"]
        for e in entries
    ]
    # the one bundle request, as JSON, and nothing but the page, its scripts and the bundle
    assert [h.get("accept") for h in site.bundle_requests()] == ["application/json"]
    assert {p for p, _ in site.requests} == {
        "/lot",
        "/bundle/" + f"honest-{ENCLOSURE}",
        *(f"/static/{m}" for m in ["console/verify-page.js"]),
        *(
            f"/static/verify/{m}.js"
            for m in ["bundle", "ed25519", "encoding", "jcs", "merkle", "note"]
        ),
    }
    # pinned: the next visit pre-fills the key and says so; forgetting clears it
    stored = page.evaluate("localStorage.getItem('ltl.console.logVkeys')")
    assert json.loads(stored) == [case["vkey"]]
    page.reload()
    assert page.input_value("#log-vkey") == case["vkey"]
    assert (
        page.locator("#pinned-note").inner_text() == "This key was pinned in this browser earlier."
    )
    assert not page.is_checked("#pin-key")
    assert _verify(page, page.input_value("#log-vkey")) == "VALID"
    page.click("#forget-key")
    assert page.evaluate("localStorage.getItem('ltl.console.logVkeys')") is None
    assert (
        page.locator("#pinned-note").inner_text() == "The pinned key was removed from this browser."
    )
    assert page.locator("#forget-key").is_hidden()


def test_tampered_bundle_names_the_entry(
    open_page: Callable[..., tuple[Page, Site]], cases: dict[str, dict[str, Any]], artifacts: Save
) -> None:
    case = cases["tamper-flipped-byte"]
    page, _ = open_page("tamper-flipped-byte")
    assert _verify(page, case["vkey"]) == "INVALID"
    artifacts("invalid.png", page.screenshot(full_page=True))
    assert page.locator("#verify-verdict").get_attribute("class") == "invalid"
    failed = {f["seq"] for f in case["python"]["errors"] if f["seq"] is not None}
    first = min(failed)
    items = _items(page)
    assert any(
        re.match(rf"entry seq {first} \(event [0-9a-f]{{12}}…\): bad_signature — ", i)
        for i in items
    ), items
    assert items[-1].startswith("bundle: chain_incomplete — ")
    marks = {int(r[0]): r[4] for r in _rows(page)}
    assert {s for s, m in marks.items() if m == "✗"} == failed
    assert all(m == "✓" for s, m in marks.items() if s not in failed)


def test_wrong_key_checks_nothing(
    open_page: Callable[..., tuple[Page, Site]], cases: dict[str, dict[str, Any]]
) -> None:
    wrong = Signer(ORIGIN, private_key("not-the-log")).verifier.vkey
    page, _ = open_page(f"honest-{ENCLOSURE}")
    assert _verify(page, wrong) == "INVALID"
    assert [i.split(" — ")[0] for i in _items(page)] == ["bundle: bad_checkpoint"]
    assert "none checked" in page.locator("#verify-summary").inner_text()
    assert {r[4] for r in _rows(page)} == {"–"}


@pytest.mark.parametrize(
    ("bundle", "verdict", "item"),
    [
        ("missing", "ERROR (HTTP 404)", None),
        ("broken", "ERROR (HTTP 500)", None),
        ("sign-in", "ERROR (HTTP 200)", "The server's answer is not a JSON bundle."),
        ("abort", "ERROR", "The bundle could not be fetched: "),
    ],
)
def test_fetch_failures_are_errors(
    open_page: Callable[..., tuple[Page, Site]],
    cases: dict[str, dict[str, Any]],
    bundle: str,
    verdict: str,
    item: str | None,
) -> None:
    page, _ = open_page(bundle)
    assert _verify(page, cases[f"honest-{ENCLOSURE}"]["vkey"]) == verdict
    assert page.locator("#verify-verdict").get_attribute("class") == "invalid"
    items = _items(page)
    if item is None:
        assert items == []
    else:
        assert len(items) == 1 and items[0].startswith(item), items
    assert page.locator("#verify-entries").is_hidden()


def test_a_bad_key_line_is_named_and_nothing_fetched(
    open_page: Callable[..., tuple[Page, Site]], cases: dict[str, dict[str, Any]]
) -> None:
    page, site = open_page(f"honest-{ENCLOSURE}")
    vkey = cases[f"honest-{ENCLOSURE}"]["vkey"]
    text = _verify(page, f"{vkey}\n{vkey[:-4]}AAA=")
    assert text.startswith("Line 2 of the log key is not a valid vkey: "), text
    assert site.bundle_requests() == []
    assert _verify(page, "  \n") == "Paste the log's verifier key (vkey) first."
    assert site.bundle_requests() == []


def test_partner_text_stays_text(
    open_page: Callable[..., tuple[Page, Site]], cases: dict[str, dict[str, Any]]
) -> None:
    case = cases[f"honest-{ENCLOSURE}"]
    hostile = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>"
    bundle = json.loads(json.dumps(case["bundle"]))
    bundle["lot"] = hostile
    bundle["entries"][0]["event"]["actor"] = hostile
    page, _ = open_page("hostile", lot=hostile, extra={"hostile": json.dumps(bundle)})
    assert _verify(page, case["vkey"]) == "INVALID"
    assert page.locator("#verify-summary").inner_text().startswith(f"Lot {hostile}: ")
    assert _rows(page)[0][2] == hostile
    assert any(hostile in i for i in _items(page))
    assert page.locator("#browser-verify img, #browser-verify script").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_labels_come_from_the_section(
    open_page: Callable[..., tuple[Page, Site]], cases: dict[str, dict[str, Any]]
) -> None:
    labels = {
        "valid": "유효",
        "checked": "로트 {lot}: 항목 {total}개 검증, {passed}개 통과 "
        "(체크포인트 {origin}, 크기 {size}, 루트 {root}…)",
        "entry-ok": "확인",
    }
    page, _ = open_page(f"honest-{ENCLOSURE}", labels=labels)
    assert _verify(page, cases[f"honest-{ENCLOSURE}"]["vkey"]) == "유효"
    assert page.locator("#verify-summary").inner_text().startswith(f"로트 {ENCLOSURE}: 항목 ")
    assert {r[4] for r in _rows(page)} == {"확인"}


def test_without_a_secure_context_nothing_is_verified(
    open_page: Callable[..., tuple[Page, Site]], cases: dict[str, dict[str, Any]]
) -> None:
    page, site = open_page(f"honest-{ENCLOSURE}", origin="http://ledger.test")
    assert _verify(page, cases[f"honest-{ENCLOSURE}"]["vkey"]) == "ERROR"
    assert _items(page) == [
        "This browser offers no Web Cryptography here (the page must be served over HTTPS): "
        "nothing was verified."
    ]
    assert site.bundle_requests() == []
