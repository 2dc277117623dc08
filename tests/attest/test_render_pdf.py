"""Certificate renderings of certificates issued through the real path (spec §8.7, issue 9 items
4, 5, 7): Hangul round-trips through the PDF's embedded font, every drawn character stays inside
the margins and off the QR code (found by decoding the rendered page), long lot ids wrap, the
compliance section shows only what applies, projections say so, and partner text is escaped."""

from __future__ import annotations

import copy
import io
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2 as pdfium
import pytest
import zxingcpp

from ledger.attest.certificates import certify, verify_certificate
from ledger.attest.credentials import issue_certificate
from ledger.attest.render import LANGS, MARGIN, certificate_html, certificate_pdf
from ledger.core.keys import key_object
from ledger.errors import LedgerError
from tests.support.ledgers import open_ledger
from tests.support.scenario import ENCLOSURE, private_key, scenario_chain

ATTEST = private_key("attest")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
URL = "https://ledger.example/v1/certificates/urn:uuid:0b5e.html"
#: a GS1 EPC URN of 102 characters, no spaces
LONG = "urn:epc:id:sgtin:8809999.012345.NCM811-PRECURSOR-BATCH-2025-" + "0123456789ABCDEF" * 2
LONG += "-KOREA-001"
NAME_KO = "알루스 코리아"
SITE_KO = "울산 제2공장"
EVIL = '<script>alert("x")</script> & Co'
EVIL_LOT = "EVIL-LOT-0001"
DPI = 150


def _register(chain: Any, party: str, name: str, roles: list[str]) -> None:
    body = {
        "party": {"id": party, "name": name, "country": "KR", "roles": roles, "feoc": False},
        "keys": [key_object(private_key(party))],
    }
    chain.post("operator", "party.register", body)


@pytest.fixture(scope="module")
def ledger() -> Iterator[Any]:
    """The running example plus a Korean-named precursor maker at a Hangul-named site (a lot
    with a 102-character EPC id made of a recycled and a virgin lot) and a party whose name is
    an HTML injection attempt."""
    assert len(LONG) == 102
    chain = scenario_chain()
    _register(chain, "hanla", NAME_KO, ["processor", "recycler"])
    _register(chain, "evilco", EVIL, ["processor"])
    site = {"country": "KR", "name": SITE_KO}
    key = private_key("hanla")
    for lot, source in (("HAN-NI-R1", "post_consumer"), ("HAN-NI-V1", "virgin")):
        body = {
            "lot": lot,
            "material": "nickel sulfate",
            "mass_kg": "500",
            "composition": {"Ni": "0.22", "Co": "0.03"},
            "source": source,
            "site": site,
        }
        chain.post("hanla", "lot.create", body, key=key)
    transform = {
        "process": "co-precipitation",
        "site": site,
        "inputs": [{"lot": "HAN-NI-R1", "mass_kg": "500"}, {"lot": "HAN-NI-V1", "mass_kg": "500"}],
        "outputs": [
            {
                "lot": LONG,
                "material": "NCM 811 전구체",
                "mass_kg": "950",
                "composition": {"Ni": "0.23", "Co": "0.03"},
            }
        ],
    }
    chain.post("hanla", "lot.transform", transform, key=key)
    evil_lot = {
        "lot": EVIL_LOT,
        "material": "<b>scrap</b>",
        "mass_kg": "10",
        "composition": {"Al": "0.9"},
        "source": "post_consumer",
        "site": {"country": "KR", "name": "<img src=x onerror=alert(1)>"},
    }
    chain.post("evilco", "lot.create", evil_lot, key=private_key("evilco"))
    with tempfile.TemporaryDirectory() as tmp:
        led = open_ledger(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        for ev in chain.events:
            led.append(ev)
        yield led


@pytest.fixture(scope="module")
def certs(ledger: Any) -> dict[str, dict[str, Any]]:
    def issue(lot: str, as_of: date | None = None) -> dict[str, Any]:
        bundle = ledger.bundle(lot)
        return certify(bundle, config=ledger.config, issuer_key=ATTEST, now=NOW, as_of=as_of)

    return {
        "korean": issue(LONG, date(2032, 1, 1)),
        "korean_now": issue(LONG),
        "enclosure": issue(ENCLOSURE),
        "evil": issue(EVIL_LOT),
    }


def _text(pdf: bytes) -> str:
    """The PDF's text, every page, whitespace runs as one space (pypdf)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def _squeezed(pdf: bytes) -> str:
    """The PDF's text without any whitespace (pdfium): a wrapped value reads as one word."""
    doc = pdfium.PdfDocument(pdf)
    return "".join(
        re.sub(r"\s+", "", doc[i].get_textpage().get_text_range()) for i in range(len(doc))
    )


def test_hangul_names_and_sites_round_trip_through_the_embedded_font(
    certs: dict[str, dict[str, Any]],
) -> None:
    pdf = certificate_pdf(certs["korean"], verify_url=URL)
    text = _text(pdf)
    for fact in (NAME_KO, f"{NAME_KO} (hanla)", SITE_KO, "NCM 811 전구체", "재활용 함량 인증서"):
        assert fact in text, fact
    # every font the pages use is embedded TrueType: nothing falls back to a standard font
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        assert fonts
        for ref in fonts.values():
            font = ref.get_object()
            assert font["/Subtype"] == "/TrueType", font
            assert "/FontFile2" in font["/FontDescriptor"].get_object(), font


def test_the_subject_names_parties_as_registered_and_verification_recomputes_them(
    ledger: Any, certs: dict[str, dict[str, Any]]
) -> None:
    cred = certs["korean"]
    assert cred["credentialSubject"]["parties"] == {"hanla": {"name": NAME_KO, "country": "KR"}}
    enclosure = certs["enclosure"]["credentialSubject"]["parties"]
    assert set(enclosure) >= {"packco", "bwm", "alus"}
    assert enclosure["packco"] == {"name": "PackCo Battery Packs", "country": "US"}
    bundle = ledger.bundle(LONG)
    assert verify_certificate(cred, bundle).recomputed
    assert verify_certificate(cred, bundle).ok
    # a re-signed certificate that renames the custodian is caught by step 9
    subject = copy.deepcopy(cred["credentialSubject"])
    subject["parties"]["hanla"]["name"] = "Someone Else Ltd"
    lying = issue_certificate(subject, issuer_key=ATTEST, valid_from=cred["validFrom"], id="urn:x")
    report = verify_certificate(lying, bundle)
    assert [m.split(":")[0] for c, m in report.errors if c == "figure_mismatch"] == [
        "credentialSubject.parties.hanla.name"
    ]


def _boxes(page: Any) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(char, (left, bottom, right, top)) in PDF points of every drawn, non-blank character."""
    textpage = page.get_textpage()
    out = []
    for i in range(textpage.count_chars()):
        ch = textpage.get_text_range(i, 1)
        if ch.strip():
            out.append((ch, textpage.get_charbox(i)))
    return out


def _qr_box(page: Any) -> tuple[float, float, float, float]:
    """The QR code's box in PDF points, found by decoding the rendered page; it must lead to
    the verification URL."""
    image = page.render(scale=DPI / 72).to_pil()
    found = zxingcpp.read_barcodes(image)
    assert [b.text for b in found] == [URL]
    pos = found[0].position
    xs = [p.x for p in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right)]
    ys = [p.y for p in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right)]
    height = page.get_height()
    k = 72 / DPI
    return min(xs) * k, height - max(ys) * k, max(xs) * k, height - min(ys) * k


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("which", ["korean", "enclosure", "evil"])
@pytest.mark.parametrize("lang", LANGS)
def test_every_character_is_inside_the_margins_and_off_the_qr_code(
    certs: dict[str, dict[str, Any]], which: str, lang: str
) -> None:
    status = {
        "status": "superseded",
        "superseded_by": "https://ledger.example/v1/certificates/" + "urn:uuid:" + "f" * 36,
        "reason": "figures corrected after a re-assay of the scrap lot by the Ulsan laboratory",
        "checked_at": "2026-01-02T00:00:00Z",
    }
    pdf = certificate_pdf(certs[which], verify_url=URL, lang=lang, status=status)
    doc = pdfium.PdfDocument(pdf)
    qr = _qr_box(doc[0])
    assert qr[2] - qr[0] > 80  # the whole symbol (~40 mm), not a fragment
    tolerance = 0.5
    for n in range(len(doc)):
        page = doc[n]
        width, height = page.get_width(), page.get_height()
        boxes = _boxes(page)
        assert boxes
        for ch, box in boxes:
            left, bottom, right, top = box
            where = f"page {n + 1}: {ch!r} at {box}"
            # left, right, top: the margins; bottom: the footer sits in the bottom margin,
            # still 10 mm clear of the edge
            assert left >= MARGIN - tolerance and right <= width - MARGIN + tolerance, where
            assert top <= height - MARGIN + tolerance and bottom >= 10 * 72 / 25.4, where
            if n == 0:
                assert not _overlap(box, qr), where
        # and the pixels agree: nothing at all is drawn outside the margins' columns
        image = page.render(scale=DPI / 72, grayscale=True).to_pil()
        edge = int((MARGIN - 1.5) * DPI / 72)
        for x0, x1 in ((0, edge), (image.width - edge, image.width)):
            assert image.crop((x0, 0, x1, image.height)).getextrema()[0] >= 250, (n, x0)


def test_a_102_character_lot_id_wraps_inside_its_cell(certs: dict[str, dict[str, Any]]) -> None:
    pdf = certificate_pdf(certs["korean"], verify_url=URL)
    assert LONG in _squeezed(pdf)
    # it is wrapped, not shrunk: some line holds a piece of it and not the whole
    lines = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range().splitlines()
    assert any(line.strip() and line.strip() in LONG and line.strip() != LONG for line in lines)


def test_labels_follow_lang_and_other_langs_are_refused(
    certs: dict[str, dict[str, Any]],
) -> None:
    cred = certs["enclosure"]
    english, korean = (
        ("Custodian", "Recycled-content certificate"),
        ("보관자", "재활용 함량 인증서"),
    )
    for lang, shown, hidden in (
        ("en", english, korean),
        ("ko", korean, english),
        ("en+ko", english + korean + ("Custodian / 보관자",), ()),
    ):
        text = _text(certificate_pdf(cred, verify_url=URL, lang=lang))
        page = certificate_html(cred, verify_url=URL, lang=lang)
        for label in shown:
            assert label in text and label in page.replace('<span lang="ko">', ""), (lang, label)
        for label in hidden:
            assert label not in text and label not in page, (lang, label)
        assert f'<html lang="{"ko" if lang == "ko" else "en"}">' in page
    assert '<span lang="ko">보관자</span>' in certificate_html(cred, verify_url=URL)
    for bad in ("de", "EN", "ko+en", ""):
        with pytest.raises(LedgerError) as e:
            certificate_pdf(cred, verify_url=URL, lang=bad)
        assert e.value.code == "bad_request"
        with pytest.raises(LedgerError):
            certificate_html(cred, verify_url=URL, lang=bad)


def test_an_aluminium_lot_shows_no_art8_rows_but_its_lineage_and_evidence(
    certs: dict[str, dict[str, Any]],
) -> None:
    cred = certs["enclosure"]
    subject = cred["credentialSubject"]
    page = certificate_html(cred, verify_url=URL, lang="en")
    for rendering in (
        _text(certificate_pdf(cred, verify_url=URL, lang="en")),
        page[: page.index("<h2>Credential")],  # the credential JSON itself follows
    ):
        assert "Does not apply to this material: it contains none of Co, Li, Ni, Pb." in rendering
        for gone in ("no Co in the lot", "no Ni in the lot", "Co 0.00 %", "Pb 0.00 %"):
            assert gone not in rendering
        assert "Provisional: the Commission" in rendering
        assert "Informational: the 30D credit ended" in rendering
        for fact in (
            "This certifies that lot ALUS-ENC-2025-0042 of material battery pack enclosure, "
            "19500 kg, held by PackCo Battery Packs (packco), US, contains 79.88 % recycled",
            "BWM Recycling, Bartlesville OK (bwm)",
            "ALUS Aluminium, Ulsan (alus)",
            "Bartlesville",
            "post-consumer",
            "79.88 %",
            "20.12 %",
            subject["evidence"]["log_origin"],
            subject["evidence"]["bundle_sha256"],
            subject["evidence"]["checkpoint"].split("\n")[2],
            "ledger certificate verify cert.json --bundle bundle.json --log-key LOG_VKEY "
            f"--issuer {cred['issuer']}",
            URL,
        ):
            assert fact in " ".join(rendering.split()), fact
        assert "PROJECTION" not in rendering
    # a lot that contains Ni and Co shows exactly those rows, with their reasons
    text = _text(certificate_pdf(certs["korean"], verify_url=URL, lang="en"))
    assert "Co 50.00 % 16.00 % pass recycled share" in text
    assert "Ni 50.00 % 6.00 % pass recycled share" in text
    assert "Li " not in text and "Does not apply" not in text


def test_an_evaluation_after_the_issue_date_is_labelled_a_projection(
    certs: dict[str, dict[str, Any]],
) -> None:
    label = "PROJECTION: evaluated as of 2032-01-01, after the issue date (2026-01-01)"
    for cred, projected in ((certs["korean"], True), (certs["korean_now"], False)):
        text = _text(certificate_pdf(cred, verify_url=URL))
        page = certificate_html(cred, verify_url=URL)
        assert (label in text) is projected
        assert (label in page) is projected
        assert ("전망" in text) is projected


def test_partner_text_is_escaped_in_the_page_and_printed_as_is_in_the_pdf(
    certs: dict[str, dict[str, Any]],
) -> None:
    cred = certs["evil"]
    page = certificate_html(cred, verify_url=URL, verification="<b>VALID</b>")
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co (evilco)" in page
    text = _text(certificate_pdf(cred, verify_url=URL))
    assert f"{EVIL} (evilco)" in text and "<img src=x onerror=alert(1)>" in text


def test_issuer_object_and_status_are_shown(certs: dict[str, dict[str, Any]]) -> None:
    cred = dict(certs["enclosure"])
    did = cred["issuer"]
    cred["issuer"] = {"id": did, "name": "LTL 인증 기관"}
    status = {
        "status": "revoked",
        "superseded_by": None,
        "reason": "issued in error",
        "checked_at": "2026-02-01T00:00:00Z",
    }
    text = _squeezed(certificate_pdf(cred, verify_url=URL, status=status, lang="en"))
    assert f"LTL인증기관({did})" in text
    assert "revoked—issuedinerror—checkedat2026-02-01T00:00:00Z" in text
    page = certificate_html(cred, verify_url=URL, status=status, lang="ko")
    assert f"LTL 인증 기관 ({did})" in page and "취소됨" in page
    assert "Current status" not in _text(certificate_pdf(certs["enclosure"], verify_url=URL))
