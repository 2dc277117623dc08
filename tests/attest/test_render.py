"""Certificate renderings: the PDF and the HTML page show the facts and a QR code to verify."""

from __future__ import annotations

import io
from typing import Any

import pypdf

from ledger.attest.render import certificate_html, certificate_pdf, qr_drawing

URL = "https://ledger.example/v1/certificates/urn:uuid:7.html"
CREDENTIAL: dict[str, Any] = {
    "id": "urn:uuid:7",
    "issuer": "did:key:z6MkExample",
    "validFrom": "2026-11-25T00:00:00Z",
    "credentialSubject": {
        "lot": "ALUS-ENC-2025-0042",
        "material": "battery pack enclosure",
        "mass_kg": "19500",
        "custodian": "packco",
        "model": "controlled_blending",
        "recycled_content": {
            "mass": {
                "post_consumer": "0.798793",
                "pre_consumer_battery": "0.000000",
                "pre_consumer_other": "0.050000",
                "virgin": "0.151207",
                "recycled": "0.848793",
            },
            "elements": {
                "Al": {
                    "post_consumer": "0.797000",
                    "pre_consumer_battery": "0.000000",
                    "pre_consumer_other": "0.000000",
                    "virgin": "0.203000",
                    "recycled": "0.797000",
                },
                "Si": None,
            },
        },
        "compliance": [
            {
                "scheme": "eu-2023-1542-art8",
                "as_of": "2031-09-01",
                "provisional": True,
                "elements": {"Ni": {"share": "0.070000", "minimum": "0.06", "result": "pass"}},
            },
        ],
    },
}


def _pdf_text() -> str:
    pdf = certificate_pdf(CREDENTIAL, verify_url=URL, lang="en")
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


def test_the_pdf_shows_lot_material_mass_shares_compliance_and_the_link() -> None:
    text = _pdf_text()
    for fact in (
        "ALUS-ENC-2025-0042",
        "battery pack enclosure",
        "19500 kg",
        "packco",
        "post-consumer 79.88 %",
        "pre-consumer (other) 5.00 %",
        "recycled, total 84.88 %",
        "Al",
        "unknown",
        "(eu-2023-1542-art8) Provisional:",
        "2031-09-01",
        "Ni 7.00 % 6.00 % pass recycled share 7.00 % ≥ minimum 6.00 %",
        URL,
    ):
        assert fact in text, fact


def test_the_qr_code_encodes_the_verification_link() -> None:
    widget = qr_drawing(URL).contents[0]
    assert widget.value == URL


def test_the_html_page_shows_the_same_facts_escaped_with_an_inline_qr() -> None:
    evil = {
        **CREDENTIAL,
        "credentialSubject": {
            **CREDENTIAL["credentialSubject"],
            "material": "<script>alert(1)</script>",
        },
    }
    page = certificate_html(evil, verify_url=URL)
    assert page.startswith("<!doctype html>")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    for fact in ("ALUS-ENC-2025-0042", "19500 kg", "79.88 %", "84.88 %", "pass", URL, "<svg"):
        assert fact in page, fact
