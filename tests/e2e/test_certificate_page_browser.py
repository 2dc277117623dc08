"""The certificate's web page in a real headless Chromium (issue 9 item 7), served by a real
``ledger serve``: it renders, says VALID, shows the credential's figures, and its QR code leads
back to the page itself. Screenshots are kept (``artifacts``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ledger.attest.render import CATEGORY_LABELS
from tests.e2e.conftest import ScenarioServer
from tests.support.browser import decode_qr
from tests.support.scenario import ENCLOSURE

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

Credential = dict[str, Any]
Save = Callable[[str, bytes], Path]


def public_url(server: ScenarioServer, cert: Credential) -> str:
    """THE address of a certificate's page, the one its QR code encodes: its credential id,
    ``{LEDGER_PUBLIC_URL}/c/{uuid}`` (the e2e servers' public base URL is their own address)."""
    url = str(cert["id"])
    assert url.startswith(f"{server.url}/c/"), url
    return url


def token_url(server: ScenarioServer, cert: Credential) -> str:
    """The same page on the token-protected route (``/v1/certificates/{uuid}.html``)."""
    return f"{server.url}/v1/certificates/{cert['id'].rsplit('/', 1)[-1]}.html"


@pytest.fixture(scope="module")
def certificate(scenario_server: ScenarioServer) -> Credential:
    """A certificate of the enclosure lot, issued over HTTP by the auditor."""
    r = httpx.post(
        f"{scenario_server.url}/v1/certificates",
        json={"lot": ENCLOSURE},
        headers=scenario_server.headers("auditor"),
        timeout=30,
    )
    assert r.status_code == 201, r.text
    cert: Credential = r.json()
    return cert


@pytest.fixture
def context_of(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """``context_of(**options)``: a fresh browser context (closed after the test)."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        made.append(browser.new_context(**options))
        return made[-1]

    yield make
    for context in made:
        context.close()


def _pct(share: Any) -> str:
    """A share as the page shows it: a percentage with two decimals."""
    return "unknown" if share is None else f"{float(share) * 100:.2f} %"


def _open(context: BrowserContext, url: str, save: Save) -> Page:
    page = context.new_page()
    response = page.goto(url)
    save("page.png", page.screenshot())  # what a visitor sees first
    save("page-full.png", page.screenshot(full_page=True))
    assert response is not None and response.status == 200, (
        f"{url}: {response and response.status}: {page.content()[:500]}"
    )
    return page


def _check_page(page: Page, cert: Credential, url: str, save: Save) -> None:
    """The rendered page (labels in English and Korean): title, heading, VALID, the figures,
    and a QR code of ``url``."""
    subject = cert["credentialSubject"]
    lot = subject["lot"]
    assert page.title() == f"Recycled-content certificate / 재활용 함량 인증서 — {lot}"
    assert page.locator("h1").inner_text().split("\n") == [
        "Recycled-content certificate",
        "재활용 함량 인증서",
    ]
    assert page.get_by_role("cell", name=lot, exact=True).first.is_visible()
    verification = page.locator("pre.verification")
    assert f"certificate for lot {lot}: VALID" in verification.inner_text()
    assert "status: valid" in verification.inner_text()
    # the shares table, cell by cell, against the credential's figures
    figures = subject["recycled_content"]
    elements: Mapping[str, Any] = figures["elements"]
    table = page.locator("h2:has-text('Recycled shares') + table")
    head = table.locator("thead th").all_inner_texts()
    assert head[2:] == list(elements) and head[1].startswith("By mass")
    rows = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    shown = {cells[0].split(" / ")[0]: cells[1:] for cells in rows}
    assert shown == {
        label: [
            _pct(figures["mass"].get(key)),
            *("unknown" if el is None else _pct(el.get(key)) for el in elements.values()),
        ]
        for key, label, _ in CATEGORY_LABELS
    }
    assert shown["recycled, total"][0] == "79.88 %"  # the README's figure, as a fixed point
    # the QR code, as the browser drew it, leads to this very page
    qr = page.locator("figure.qr svg")
    assert qr.is_visible()
    png = qr.screenshot()
    save("qr.png", png)
    assert decode_qr(png) == [url]


def test_certificate_page_with_a_token(
    scenario_server: ScenarioServer,
    certificate: Credential,
    context_of: Callable[..., BrowserContext],
    artifacts: Save,
) -> None:
    """A partner with custody of the lot opens the page with its token; its QR code leads to
    the public page."""
    context = context_of(extra_http_headers=scenario_server.headers("packco"))
    page = _open(context, token_url(scenario_server, certificate), artifacts)
    _check_page(page, certificate, public_url(scenario_server, certificate), artifacts)


def test_certificate_page_without_a_token(
    scenario_server: ScenarioServer,
    certificate: Credential,
    context_of: Callable[..., BrowserContext],
    artifacts: Save,
) -> None:
    """Anyone who scans the QR code opens the page without a token, at its public URL: the
    QR code on that page is the page's own address."""
    url = public_url(scenario_server, certificate)
    page = _open(context_of(), url, artifacts)
    assert page.url == url
    _check_page(page, certificate, url, artifacts)
