"""The web console (spec §9.10, issue 12 items 5 and 6) in a real headless Chromium, served by a
real ``ledger serve`` on the scenario: an auditor signs in through the form, walks the overview,
the lots, the enclosure lot (custody timeline, provenance graph), verifies the lot's bundle in
the browser against a log key it pasted (VALID), then against a bundle tampered in flight
(INVALID, naming the entry), visits the parties, a party and the certificates, switches to
Korean (Hangul headings that really render), and signs out. Screenshots are kept
(``artifacts``).

Every page is checked with a published accessibility checker, Deque's axe-core (pinned in
tests/interop/js/package.json), for WCAG 2.0/2.1 A and AA: no violation. Its script is added to
the browser context as an init script, so the pages keep their own CSP. Without the installed
package (``npm ci --prefix tests/interop/js``) the tests skip, except in CI (``CI`` set), where
they fail: the check must not go quietly missing. Keyboard: Tab from the top of the lot page
reaches "Skip to content" first, which shows, and the verify button, with a visible outline.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.conftest import ScenarioServer
from tests.support.scenario import ENCLOSURE

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request, Route

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "interop" / "js" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTH = 1280  # the README screenshot's width (docs/images/console-lot.png)
Save = Callable[[str, bytes], Path]


@pytest.fixture(scope="module")
def axe_script() -> Path:
    """axe-core's browser build, installed by ``npm ci --prefix tests/interop/js``."""
    if not AXE.is_file():
        reason = (
            f"axe-core is not installed ({AXE.relative_to(ROOT)} is missing): run "
            "`npm ci --prefix tests/interop/js` (scripts/test does)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"the console's accessibility check is unavailable in CI: {reason}")
        pytest.skip(reason)
    return AXE


@pytest.fixture
def context(browser: Browser, axe_script: Path) -> Iterator[BrowserContext]:
    """A fresh context, 1280 px wide, English first, with axe-core in every page."""
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 900}, locale="en-US")
    ctx.set_default_timeout(15_000)
    ctx.add_init_script(path=str(axe_script))
    yield ctx
    ctx.close()


def check_accessible(page: Page, what: str) -> None:
    """axe-core on the whole page, WCAG 2.0/2.1 A and AA: no violation (listed readably)."""
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    violations = result["violations"]
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:3]]
        lines.append(
            f"  {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s), "
            f"e.g. {targets}\n    {v['nodes'][0].get('failureSummary', '')!r}"
        )
    assert not violations, f"axe-core on the {what} page ({page.url}):\n" + "\n".join(lines)
    assert result["passes"], f"axe-core checked nothing on the {what} page"


def shot(page: Page, save: Save, name: str, *, full: bool = True) -> bytes:
    png = page.screenshot(full_page=full)
    save(f"{name}.png", png)
    return png


def vkey_of(server: ScenarioServer) -> str:
    """The log's verifier key as an auditor gets it from a source it trusts (here: the test,
    over its own connection). The page never asks for it."""
    r = httpx.get(f"{server.url}/.well-known/ltl-trust", timeout=10)
    assert r.status_code == 200, r.text
    vkey = r.json()["log_vkey"]
    assert isinstance(vkey, str) and vkey.count("+") == 2, vkey
    return vkey


def tamper(bundle: dict[str, Any]) -> int:
    """Change the mass of the first lot event that names one (the signature no longer fits);
    that entry's seq."""
    for entry in bundle["entries"]:
        body = entry["event"].get("body") or {}
        if isinstance(body.get("mass_kg"), str):
            body["mass_kg"] = str(int(float(body["mass_kg"])) + 1)
            return int(entry["seq"])
    raise AssertionError("no entry with a mass_kg in the bundle")


def verify(page: Page, expected: str) -> None:
    """Click "Verify in this browser" and wait for its verdict (the click clears the last
    one at once, and the button stays disabled until the run ends)."""
    page.click("#verify-button")
    page.wait_for_function(
        "() => !document.querySelector('#verify-button').disabled && "
        "['VALID', 'INVALID', 'ERROR'].some(w => "
        "document.querySelector('#verify-verdict').textContent.startsWith(w))",
        timeout=20_000,
    )
    verdict = page.locator("#verify-verdict")
    assert verdict.inner_text().strip() == expected, (
        verdict.inner_text(),
        page.locator("#verify-errors").inner_text(),
    )


def test_console_walkthrough(
    scenario_server: ScenarioServer, context: BrowserContext, artifacts: Save
) -> None:
    """Sign in, overview, lots, the lot (timeline, graph), verify VALID then a tampered
    bundle INVALID, parties, a party, certificates, Korean, sign out; axe on every page."""
    requests: list[str] = []

    def seen(request: Request) -> None:
        requests.append(request.url)

    context.on("request", seen)
    page = context.new_page()
    url = scenario_server.url

    # ---- sign in through the form
    response = page.goto(f"{url}/")
    assert response is not None and response.status == 200
    assert page.locator("#token").is_visible()
    shot(page, artifacts, "01-sign-in")
    check_accessible(page, "sign-in")
    page.fill("#token", scenario_server.tokens["auditor"])
    page.locator("form[action='/console/sign-in'] button[type=submit]").click()
    page.wait_for_url(f"{url}/")
    assert page.locator("#party").inner_text() == "auditor"
    assert page.locator("#role").inner_text() == "auditor"
    shot(page, artifacts, "02-overview")
    check_accessible(page, "overview")

    # ---- lots: search the enclosure, open it
    nav = page.get_by_role("navigation", name="Console", exact=True)
    nav.get_by_role("link", name="Lots").click()
    page.wait_for_url(re.compile(r"/console/lots"))
    check_accessible(page, "lots")
    page.fill("#q", ENCLOSURE)
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(re.compile(r"/console/lots\?q="))
    rows = page.locator("#lots tbody tr")
    assert rows.count() == 1, rows.all_inner_texts()
    shot(page, artifacts, "03-lots")
    rows.first.get_by_role("link", name=ENCLOSURE).click()
    page.wait_for_url(re.compile(r"/console/lot\?id="))
    assert page.locator("#lot-id").inner_text() == ENCLOSURE
    timeline = page.locator("#timeline tbody tr[data-seq]")
    assert timeline.count() >= 2
    seqs = [int(s) for s in timeline.evaluate_all("rows => rows.map(r => r.dataset.seq)")]
    assert seqs == sorted(seqs), seqs
    graph = page.locator("#provenance-graph svg")
    assert graph.is_visible()
    nodes = graph.locator("a.ltl-node")
    assert nodes.count() >= 2
    box = graph.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    lot_png = shot(page, artifacts, "04-lot")
    check_accessible(page, "lot")

    # ---- verify in this browser, with the key pasted from a trusted source
    page.fill("#log-vkey", vkey_of(scenario_server))
    verify(page, "VALID")
    assert page.locator("#verify-errors li").count() == 0
    assert "entries checked" in page.locator("#verify-summary").inner_text()
    shot(page, artifacts, "05-lot-valid")
    check_accessible(page, "lot (verified)")

    # ---- the same, with the bundle tampered in flight
    tampered: list[int] = []

    def handler(route: Route) -> None:
        real = route.fetch()
        bundle = real.json()
        tampered.append(tamper(bundle))
        route.fulfill(response=real, body=json.dumps(bundle))

    page.route("**/v1/lots/**/bundle", handler)
    verify(page, "INVALID")
    assert len(tampered) == 1
    errors = page.locator("#verify-errors li").all_inner_texts()
    assert errors and any(f"entry seq {tampered[0]} (event " in e for e in errors), errors
    page.locator("#verify-errors").scroll_into_view_if_needed()
    shot(page, artifacts, "06-lot-invalid")
    check_accessible(page, "lot (tampered bundle)")
    page.unroute("**/v1/lots/**/bundle")

    # ---- parties, a party, certificates
    nav.get_by_role("link", name="Parties").click()
    page.wait_for_url(re.compile(r"/console/parties"))
    assert page.locator("#parties tbody tr").count() >= 3
    shot(page, artifacts, "07-parties")
    check_accessible(page, "parties")
    page.locator("#parties tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/console/party\?id="))
    assert page.locator("#keys tbody tr").count() >= 1
    shot(page, artifacts, "08-party")
    check_accessible(page, "party")
    nav.get_by_role("link", name="Certificates").click()
    page.wait_for_url(re.compile(r"/console/certificates"))
    shot(page, artifacts, "09-certificates")
    check_accessible(page, "certificates")

    # ---- Korean: the lot page's headings, in Hangul that renders
    page.goto(f"{url}/console/lot?id={ENCLOSURE}")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="한국어").click()
    page.wait_for_function("document.documentElement.lang === 'ko'")
    assert "console/lot" in page.url
    heading = page.locator("#h-timeline")
    assert heading.inner_text() == "관리 이력"
    assert page.locator("#h-provenance").inner_text() == "원산지 이력"
    hbox = heading.bounding_box()
    assert hbox is not None and hbox["width"] > 20 and hbox["height"] > 5
    assert_hangul_renders(page, artifacts)
    shot(page, artifacts, "10-lot-ko")
    check_accessible(page, "Korean lot")
    page.get_by_role("navigation", name="언어").get_by_role("link", name="English").click()
    page.wait_for_function("document.documentElement.lang === 'en'")

    # ---- the page asked for neither the log key nor a checkpoint: the key was pasted
    asked = [u for u in requests if "ltl-trust" in u or "/v1/log/checkpoint" in u]
    assert not asked, asked
    assert any(re.search(r"/v1/lots/.+/bundle$", u) for u in requests), requests

    # ---- sign out
    page.locator("form[action='/console/sign-out'] button").click()
    page.wait_for_url(f"{url}/")
    assert page.locator("#token").is_visible()
    assert page.locator("#who-party").count() == 0
    shot(page, artifacts, "11-signed-out")
    assert lot_png  # the English lot page (README: docs/images/console-lot.png)


def assert_hangul_renders(page: Page, save: Save) -> None:
    """Hangul is drawn with real glyphs, not tofu: two different Hangul words of the same
    length look different, and neither looks like two white squares."""
    page.evaluate(
        """() => {
          for (const [id, text] of [['t-a', '관리'], ['t-b', '이력'], ['t-tofu', '□□']]) {
            const span = document.createElement('span');
            span.id = id; span.textContent = text; span.lang = 'ko';
            span.style.cssText = 'font-size:32px;display:inline-block;padding:2px;';
            document.querySelector('main').prepend(span);
          }
        }"""
    )
    shots = {}
    for ident in ("t-a", "t-b", "t-tofu"):
        element = page.locator(f"#{ident}")
        box = element.bounding_box()
        assert box is not None and box["width"] > 20, (ident, box)
        shots[ident] = element.screenshot()
        save(f"glyph-{ident}.png", shots[ident])
    assert _pixels(shots["t-a"]) != _pixels(shots["t-b"]), "different Hangul words look alike"
    assert _pixels(shots["t-a"]) != _pixels(shots["t-tofu"]), "Hangul looks like tofu"
    page.evaluate(
        "() => ['t-a', 't-b', 't-tofu'].forEach(i => document.getElementById(i).remove())"
    )


def _pixels(png: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.convert("L").tobytes()


def test_lot_page_keyboard(scenario_server: ScenarioServer, browser: Browser) -> None:
    """From the top of the lot page, Tab focuses "Skip to content" first (it shows); the
    verify button is reachable by Tab and its focus outline shows."""
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 900}, locale="en-US")
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        page.goto(f"{scenario_server.url}/")
        page.fill("#token", scenario_server.tokens["auditor"])
        page.keyboard.press("Enter")
        page.wait_for_selector("#party")
        page.goto(f"{scenario_server.url}/console/lot?id={ENCLOSURE}")
        skip = page.locator("a.skip")
        box = skip.bounding_box()
        assert box is None or box["x"] + box["width"] <= 0, "the skip link shows unfocused"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        box = skip.bounding_box()
        assert box is not None and box["x"] >= 0 and box["width"] > 0 and skip.is_visible()
        assert skip.inner_text() == "Skip to content"
        for _ in range(300):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "verify-button":
                break
        else:
            raise AssertionError("the verify button cannot be reached with Tab")
        style = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement); "
            "return [s.outlineStyle, s.outlineWidth]; }"
        )
        assert style[0] != "none" and float(style[1].removesuffix("px")) > 0, style
    finally:
        ctx.close()
