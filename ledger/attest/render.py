"""Certificates as people read them: a PDF and an HTML page (spec §8.7).

Both renderings are built from one :class:`_View` of the signed credential: what is certified
(one sentence), the lot, material, mass, custodian and issuer by registered name, the recycled
shares by mass and per element, the lineage's origins, the compliance evaluations that apply
to the lot's material (with reasons, the schemes' notes, and a projection warning when they were
evaluated after the issue date), the evidence, the offline verification command and a QR code
leading to the certificate's verification page. They are renderings: only the JSON credential
verifies. Labels are in English, Korean or both (:data:`LANGS`).

The PDF embeds a subset of WenQuanYi Micro Hei (TrueType outlines, Hangul and Latin; Apache
License 2.0), shipped by the ``paperang-p2-fonts-cjk`` package (docs/DECISIONS.md): no font of
the machine is used. Party names, site names and lot ids are partner input, in any script: they
are escaped for ReportLab's paragraph markup and for HTML alike.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ..errors import LedgerError
from .compliance import load_packs

__all__ = [
    "CATEGORY_LABELS",
    "FONT",
    "LANGS",
    "MARGIN",
    "QR_SIZE",
    "certificate_html",
    "certificate_pdf",
    "qr_drawing",
]

#: the label languages: English, Korean, or both ("Lot / 로트")
LANGS = ("en", "ko", "en+ko")
#: the PDF's font (registered with ReportLab on first use)
FONT = "LedgerSans"
FONT_MONO = "LedgerMono"
#: the PDF's page margins; nothing is drawn outside them
MARGIN = 18 * mm
#: the side of the PDF's QR code
QR_SIZE = 40 * mm

#: (category key, English, Korean)
CATEGORY_LABELS = (
    ("post_consumer", "post-consumer", "소비 후"),
    ("pre_consumer_battery", "pre-consumer (battery)", "소비 전 (배터리)"),
    ("pre_consumer_other", "pre-consumer (other)", "소비 전 (기타)"),
    ("recycled", "recycled, total", "재활용 합계"),
    ("virgin", "virgin", "신재"),
)

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Recycled-content certificate", "재활용 함량 인증서"),
    "certificate": ("Certificate", "인증서 번호"),
    "lot": ("Lot", "로트"),
    "material": ("Material", "소재"),
    "mass": ("Mass", "질량"),
    "custodian": ("Custodian", "보관자"),
    "issuer": ("Issuer", "발행자"),
    "issued": ("Issue date", "발행일"),
    "model": ("Model", "산정 모델"),
    "as_of": ("Evaluated as of", "평가 기준일"),
    "status": ("Current status", "현재 상태"),
    "shares": ("Recycled shares", "재활용 비율"),
    "category": ("Category", "구분"),
    "by_mass": ("By mass", "질량 기준"),
    "lineage": ("Lineage: origins", "이력: 원료 출처"),
    "origin_lot": ("Origin lot", "원료 로트"),
    "party": ("Party", "당사자"),
    "country": ("Country", "국가"),
    "site": ("Site", "사업장"),
    "source": ("Source", "원료 구분"),
    "contributed": ("Share of mass", "질량 기여율"),
    "compliance": ("Compliance", "규정 준수"),
    "element": ("Element / check", "원소 / 항목"),
    "share": ("Share", "비율"),
    "minimum": ("Minimum", "최소 기준"),
    "result": ("Result", "결과"),
    "reason": ("Reason", "사유"),
    "evidence": ("Evidence", "증거"),
    "log_origin": ("Log origin", "로그 출처"),
    "tree_size": ("Checkpoint size", "체크포인트 크기"),
    "root_hash": ("Root hash (base64)", "루트 해시 (base64)"),
    "bundle_sha256": ("Bundle SHA-256", "번들 SHA-256"),
    "verify": ("Verification", "검증"),
    "verify_offline": ("Verify offline", "오프라인 검증"),
    "verify_online": ("Verify online", "온라인 검증"),
    "log_vkey": (
        "LOG_VKEY is the log's published verifier key (GET /.well-known/ltl-trust)",
        "LOG_VKEY는 공개된 로그 검증 키입니다 (GET /.well-known/ltl-trust)",
    ),
    "scan": ("Scan to verify", "스캔하여 검증"),
    "informative": (
        "This rendering is informative: only the signed JSON credential verifies.",
        "이 문서는 참고용 표시이며, 서명된 JSON 자격증명만 검증됩니다.",
    ),
    "page": ("Page", "쪽"),
    "unknown": ("unknown", "알 수 없음"),
    "no_origins": ("no origins in the lineage", "이력에 원료 출처 없음"),
    "pass": ("pass", "적합"),
    "fail": ("fail", "부적합"),
    "n/a": ("n/a", "해당 없음"),
    "valid": ("valid", "유효"),
    "superseded": ("superseded", "대체됨"),
    "revoked": ("revoked", "취소됨"),
    "superseded_by": ("superseded by", "대체 인증서"),
    "checked_at": ("checked at", "확인 시각"),
    "check_mass": ("all elements, by mass", "전체 (질량 기준)"),
    "check_feoc": ("FEOC screen", "FEOC 심사"),
    "verification_report": ("Server-side verification", "서버 검증 결과"),
    "credential": ("Credential", "자격증명"),
}

_SCHEME_KO = {
    "eu-2023-1542-art8": "EU 배터리 규정 (EU) 2023/1542 제8조: 최소 재활용 함량",
    "us-fta-sourcing": "미국 핵심광물 조달 요건 (IRA 26 U.S.C. 30D(e)(1)), 참고용",
}

_EU = "eu-2023-1542-art8"


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise LedgerError(f"lang must be one of {', '.join(LANGS)}", code="bad_request")


# --- text -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _T:
    """A piece of text in English and Korean; ``ko`` None when the text is the same in both
    (a name, an id, a number)."""

    en: str
    ko: str | None = None

    def text(self, lang: str, sep: str = " / ") -> str:
        if self.ko is None or lang == "en":
            return self.en
        if lang == "ko":
            return self.ko
        return self.en if self.en == self.ko else f"{self.en}{sep}{self.ko}"


def _lab(key: str) -> _T:
    en, ko = _LABELS[key]
    return _T(en, ko)


def _raw(value: Any) -> _T:
    return _T("—" if value is None or value == "" else str(value))


def _pct(share: Any) -> _T:
    if share is None:
        return _lab("unknown")
    try:
        return _T(f"{Decimal(str(share)) * 100:.2f} %")
    except (InvalidOperation, ValueError):
        return _T("—")


def _category(key: Any) -> _T:
    for k, en, ko in CATEGORY_LABELS:
        if k == key:
            return _T(en, ko)
    return _raw(key)


_REASONS_KO: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"composition unknown"), "조성 미상"),
    (re.compile(r"no (\w+) in the lot"), r"로트에 \1 없음"),
    (re.compile(r"(\w+) share unknown"), r"\1 비율 미상"),
    (re.compile(r"no minimum applies on this date"), "이 날짜에 적용되는 최소 기준 없음"),
    (re.compile(r"informational"), "참고용 (최소 기준 없음)"),
)


def _reason(text: str) -> _T:
    for pattern, ko in _REASONS_KO:
        if pattern.fullmatch(text):
            return _T(text, pattern.sub(ko, text))
    return _T(text)


# --- the view both renderings show ------------------------------------------------------------


@dataclass
class _Table:
    header: list[_T]
    rows: list[list[_T]]
    #: relative column widths
    widths: list[float]


@dataclass
class _Scheme:
    title: _T
    notes: list[_T]
    table: _Table | None
    #: shown instead of the table when the scheme does not apply to the material
    not_applicable: _T | None = None


@dataclass
class _View:
    lot: str
    issuer_did: str
    header: list[tuple[_T, _T]]
    statement: _T
    facts: list[tuple[_T, _T]]
    shares: _Table
    lineage: _Table | None
    projection: _T | None
    schemes: list[_Scheme]
    evidence: list[tuple[_T, _T]]
    command: str
    verify_url: str
    status: _T | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _party(parties: Mapping[str, Any], party_id: Any) -> _T:
    """``name (id)`` as the certificate registers it; the id alone when it names none."""
    if party_id is None:
        return _T("—")
    found = parties.get(str(party_id))
    name = found.get("name") if isinstance(found, Mapping) else None
    return _T(f"{name} ({party_id})" if name else str(party_id))


def _issuer(credential: Mapping[str, Any]) -> tuple[str, str | None]:
    """The issuer's DID and name: ``issuer`` is a DID or an object ``{"id", "name"}``."""
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        name = issuer.get("name")
        return str(issuer.get("id", "")), None if name is None else str(name)
    return str(issuer or ""), None


def _checkpoint(note: Any) -> tuple[str, str, str]:
    """(origin, tree size, root hash) of a C2SP checkpoint note; "—" for what is missing."""
    lines = (str(note) if note else "").split("\n")
    origin, size, root = [*lines, "—", "—", "—"][:3]
    try:
        base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError):
        root = "—"
    return origin or "—", size if size.isdigit() else "—", root or "—"


def _share_table(report: Mapping[str, Any]) -> _Table:
    elements: Mapping[str, Any] = report.get("elements") or {}
    mass = report.get("mass") or {}
    rows = []
    for key, en, ko in CATEGORY_LABELS:
        row = [_T(en, ko), _pct(mass.get(key))]
        for el in elements:
            shares = elements[el]
            row.append(_lab("unknown") if shares is None else _pct(shares.get(key)))
        rows.append(row)
    header = [_lab("category"), _lab("by_mass"), *(_T(str(e)) for e in elements)]
    return _Table(header, rows, [2.4] + [1.0] * (1 + len(elements)))


def _lineage_table(report: Mapping[str, Any], parties: Mapping[str, Any]) -> _Table | None:
    origins = (report.get("lineage") or {}).get("origins")
    if origins is None:
        return None
    rows = [
        [
            _raw(o.get("lot")),
            _party(parties, o.get("party")),
            _raw(o.get("country")),
            _raw(o.get("site")),
            _category(o.get("source")),
            _pct(o.get("share")),
        ]
        for o in origins
    ]
    header = [
        _lab("origin_lot"),
        _lab("party"),
        _lab("country"),
        _lab("site"),
        _lab("source"),
        _lab("contributed"),
    ]
    return _Table(header, rows, [2.4, 2.4, 0.9, 1.6, 1.6, 1.2])


def _present(composition: Any, element: str) -> bool:
    try:
        return bool(Decimal(str(composition[element])))
    except (KeyError, InvalidOperation, TypeError):
        return False


def _verdict_reason(res: Mapping[str, Any], counts: Sequence[str]) -> _T:
    """The reason of a ``pass``/``fail`` (the packs give one only for ``n/a``)."""
    if res.get("reason"):
        return _reason(str(res["reason"]))
    share, minimum = _pct(res.get("share")).en, _pct(res.get("minimum")).en
    op = "≥" if res.get("result") == "pass" else "<"
    what_en = " + ".join(_category(c).en for c in counts)
    what_ko = " + ".join(_category(c).text("ko") for c in counts)
    return _T(
        f"recycled share{f' ({what_en})' if counts else ''} {share} {op} minimum {minimum}",
        f"재활용 비율{f' ({what_ko})' if counts else ''} {share} {op} 최소 기준 {minimum}",
    )


def _result(res: Mapping[str, Any]) -> _T:
    result = str(res.get("result", "—"))
    return _lab(result) if result in _LABELS else _T(result)


def _scheme(
    pack: Mapping[str, Any], report: Mapping[str, Any], parties: Mapping[str, Any]
) -> _Scheme:
    scheme = str(pack.get("scheme", "?"))
    data = load_packs().get(scheme) or {}
    title = _T(
        f"{data.get('title', scheme)} ({scheme})", f"{_SCHEME_KO.get(scheme, scheme)} ({scheme})"
    )
    notes = []
    note = str(data.get("note", ""))
    if pack.get("provisional"):
        notes.append(
            _T(
                f"Provisional: {note.removeprefix('provisional: ')}; thresholds and the method "
                "may change.",
                "잠정: 기준값과 산정 방법이 변경될 수 있습니다.",
            )
        )
    if pack.get("informational"):
        notes.append(
            _T(
                f"Informational: {note.removeprefix('informational: ')}; no minimum applies.",
                "참고용: 적용되는 최소 기준이 없습니다.",
            )
        )
    composition = report.get("composition")
    counts = list(pack.get("counts") or [])
    rows: list[list[_T]] = []
    elements: Mapping[str, Any] = pack.get("elements") or {}
    for el, res in elements.items():
        if scheme == _EU and composition is not None and not _present(composition, el):
            continue  # Article 8 concerns the elements the battery material contains
        rows.append(
            [
                _T(str(el)),
                _pct(res.get("share")) if "share" in res else _T("—"),
                _T("—") if res.get("minimum") is None else _pct(res.get("minimum")),
                _result(res),
                _verdict_reason(res, counts),
            ]
        )
    for name, res in (pack.get("checks") or {}).items():
        label = _lab(f"check_{name}") if f"check_{name}" in _LABELS else _T(str(name))
        if name == "feoc":
            flagged = [_party(parties, p).en for p in res.get("parties") or []]
            reason = (
                _T(
                    "registered as a foreign entity of concern: " + ", ".join(flagged),
                    "우려 외국 기관(FEOC)으로 등록된 당사자: " + ", ".join(flagged),
                )
                if flagged
                else _T(
                    "no party of the lineage is registered as a foreign entity of concern",
                    "이력의 당사자 중 우려 외국 기관(FEOC)으로 등록된 곳이 없습니다",
                )
            )
            rows.append([label, _T("—"), _T("—"), _result(res), reason])
            continue
        share, minimum = res.get("share"), res.get("minimum")
        rows.append(
            [
                label,
                _pct(share),
                _T("—") if minimum is None else _pct(minimum),
                _result(res),
                _verdict_reason(res, counts),
            ]
        )
    if scheme == _EU and not rows:
        listed = ", ".join(str(e) for e in elements) or "Co, Li, Ni, Pb"
        return _Scheme(
            title,
            notes,
            None,
            _T(
                f"Does not apply to this material: it contains none of {listed}.",
                f"이 소재에는 {listed} 중 어느 것도 없으므로 적용되지 않습니다.",
            ),
        )
    header = [_lab("element"), _lab("share"), _lab("minimum"), _lab("result"), _lab("reason")]
    return _Scheme(title, notes, _Table(header, rows, [1.4, 1.0, 1.0, 0.9, 3.6]))


def _status(status: Mapping[str, Any] | None) -> _T | None:
    if status is None:
        return None
    state = str(status.get("status", "—"))
    word = _lab(state) if state in ("valid", "superseded", "revoked") else _T(state)
    en, ko = [word.en], [word.ko or word.en]
    if status.get("superseded_by"):
        by = str(status["superseded_by"])
        en.append(f"{_LABELS['superseded_by'][0]} {by}")
        ko.append(f"{_LABELS['superseded_by'][1]} {by}")
    if status.get("reason"):
        en.append(str(status["reason"]))
        ko.append(str(status["reason"]))
    if status.get("checked_at"):
        at = str(status["checked_at"])
        en.append(f"{_LABELS['checked_at'][0]} {at}")
        ko.append(f"{_LABELS['checked_at'][1]} {at}")
    return _T(" — ".join(en), " — ".join(ko))


def _view(
    credential: Mapping[str, Any], verify_url: str, status: Mapping[str, Any] | None
) -> _View:
    subject: Mapping[str, Any] = credential.get("credentialSubject") or {}
    report: Mapping[str, Any] = subject.get("recycled_content") or {}
    compliance = list(subject.get("compliance") or report.get("compliance") or [])
    parties: Mapping[str, Any] = subject.get("parties") or {}
    lot = str(subject.get("lot", "—"))
    did, issuer_name = _issuer(credential)
    issued = str(credential.get("validFrom", ""))[:10] or "—"
    custodian_id = subject.get("custodian")
    custodian = _party(parties, custodian_id)
    found = parties.get(str(custodian_id))
    country = found.get("country") if isinstance(found, Mapping) else None
    if country:
        custodian = _T(f"{custodian.en}, {country}")
    material = str(subject.get("material", "—"))
    mass = f"{subject.get('mass_kg', '—')} kg"
    shares = report.get("mass") or {}
    pct = {k: _pct(shares.get(k)) for k, _, _ in CATEGORY_LABELS}

    def ko(key: str) -> str:
        return pct[key].text("ko")

    statement = _T(
        f"This certifies that lot {lot} of material {material}, {mass}, held by {custodian.en}, "
        f"contains {pct['recycled'].en} recycled material by mass ({pct['post_consumer'].en} "
        f"post-consumer, {pct['pre_consumer_battery'].en} pre-consumer battery, "
        f"{pct['pre_consumer_other'].en} pre-consumer other), as computed from the signed "
        "custody events named in the evidence below.",
        f"본 인증서는 로트 {lot}({material}, {mass}, 보관자: {custodian.en})가 질량 기준 "
        f"{ko('recycled')}의 재활용 원료(소비 후 {ko('post_consumer')}, 소비 전 배터리 "
        f"{ko('pre_consumer_battery')}, 소비 전 기타 {ko('pre_consumer_other')})를 함유함을, "
        "아래 증거가 가리키는 서명된 관리 이벤트로부터 산정하여 증명합니다.",
    )
    as_of = str(report.get("as_of") or (compliance[0].get("as_of") if compliance else "") or "")
    projection = None
    if as_of and issued != "—" and as_of > issued:
        projection = _T(
            f"PROJECTION: evaluated as of {as_of}, after the issue date ({issued}): "
            "a projection, not a present obligation.",
            f"전망: 발행일({issued}) 이후인 {as_of} 기준으로 평가한 결과로, 현재의 의무가 아닌 "
            "예측입니다.",
        )
    issuer = _T(f"{issuer_name} ({did})" if issuer_name else did)
    header = [
        (_lab("certificate"), _raw(credential.get("id"))),
        (_lab("issuer"), issuer),
        (_lab("issued"), _T(issued)),
    ]
    facts = [
        (_lab("lot"), _T(lot)),
        (_lab("material"), _T(material)),
        (_lab("mass"), _T(mass)),
        (_lab("custodian"), custodian),
        (_lab("model"), _raw(subject.get("model"))),
        (_lab("as_of"), _raw(as_of or None)),
    ]
    evidence: Mapping[str, Any] = subject.get("evidence") or {}
    origin, size, root = _checkpoint(evidence.get("checkpoint"))
    return _View(
        lot=lot,
        issuer_did=did,
        header=header,
        statement=statement,
        facts=facts,
        shares=_share_table(report),
        lineage=_lineage_table(report, parties),
        projection=projection,
        schemes=[_scheme(p, report, parties) for p in compliance],
        evidence=[
            (_lab("log_origin"), _T(origin)),
            (_lab("tree_size"), _T(size)),
            (_lab("root_hash"), _T(root)),
            (_lab("bundle_sha256"), _raw(evidence.get("bundle_sha256"))),
        ],
        command=(
            "ledger certificate verify cert.json --bundle bundle.json --log-key LOG_VKEY "
            f"--issuer {did or 'DID'}"
        ),
        verify_url=verify_url,
        status=_status(status),
    )


# --- PDF --------------------------------------------------------------------------------------


def qr_drawing(data: str, size: float = QR_SIZE) -> Drawing:
    """A QR code of ``data`` as a ReportLab drawing ``size`` points square (quiet zone included)."""
    widget = QrCodeWidget(data)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


@cache
def _fonts() -> None:
    """Register the embedded fonts with ReportLab (once): sans and mono faces of the package's
    WenQuanYi Micro Hei collection. ReportLab embeds the subset of glyphs a document uses."""
    ref = resources.files("paperang_p2_fonts_cjk").joinpath("fonts/wqy-microhei.ttc")
    with resources.as_file(ref) as path:
        pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
        pdfmetrics.registerFont(TTFont(FONT_MONO, str(path), subfontIndex=1))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT, italic=FONT, boldItalic=FONT)


def _style(name: str, size: float, *, font: str = FONT, **kw: Any) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.3, **kw)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped for ReportLab's markup; newlines kept)."""
    return Paragraph(html.escape(text).replace("\n", "<br/>"), style)


class _QR(Flowable):  # type: ignore[misc]
    def __init__(self, data: str) -> None:
        super().__init__()
        self.drawing = qr_drawing(data)
        self.drawing.initialFontName = FONT  # not Helvetica: no standard font in the PDF
        self.width = self.height = QR_SIZE

    def draw(self) -> None:
        renderPDF.draw(self.drawing, self.canv, 0, 0)


_GRID = [
    ("FONTNAME", (0, 0), (-1, -1), FONT),  # the cells' own font, though they hold paragraphs
    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
]


def _pdf_table(table: _Table, lang: str, width: float, style: ParagraphStyle) -> Table:
    total = sum(table.widths)
    widths = [width * w / total for w in table.widths]
    head = [_p(h.text(lang), style) for h in table.header]
    body = [[_p(c.text(lang), style) for c in row] for row in table.rows]
    out = Table([head, *body], colWidths=widths, repeatRows=1)
    out.setStyle(TableStyle([*_GRID, ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4"))]))
    return out


def _pdf_pairs(
    pairs: Sequence[tuple[_T, _T]], lang: str, widths: Sequence[float], style: ParagraphStyle
) -> Table:
    out = Table(
        [[_p(k.text(lang), style), _p(v.text(lang), style)] for k, v in pairs],
        colWidths=list(widths),
    )
    out.setStyle(TableStyle([*_GRID, ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f5f8"))]))
    return out


def certificate_pdf(
    credential: Mapping[str, Any],
    *,
    verify_url: str,
    lang: str = "en+ko",
    status: Mapping[str, Any] | None = None,
) -> bytes:
    """The certificate as an A4 PDF (one page when it fits) with a QR code leading to
    ``verify_url``; labels in ``lang`` (:data:`LANGS`); ``status``: the certificate's current
    status (``{"status", "superseded_by", "reason", "checked_at"}``), shown when given.

    Raises:
        LedgerError: ``lang`` is not one of :data:`LANGS` (``bad_request``).
    """
    _check_lang(lang)
    _fonts()
    v = _view(credential, verify_url, status)
    body = _style("body", 8.5)
    small = _style("small", 7.5)
    mono = _style("mono", 7.5, font=FONT_MONO)
    h1 = _style("h1", 15, spaceAfter=2 * mm)
    h2 = _style("h2", 11, spaceBefore=3 * mm, spaceAfter=1.5 * mm)
    h3 = _style("h3", 9.5, spaceBefore=2 * mm, spaceAfter=1 * mm)
    warn = _style(
        "warn",
        9,
        textColor=colors.HexColor("#8a1c00"),
        backColor=colors.HexColor("#fff1e6"),
        borderPadding=2,
        spaceAfter=1.5 * mm,
    )
    width = A4[0] - 2 * MARGIN
    qr_col = QR_SIZE + 4 * mm
    left = width - qr_col
    title = [_p(_lab("title").text(lang, "\n"), h1)]
    head_pairs = list(v.header)
    if v.status is not None:
        head_pairs.append((_lab("status"), v.status))
    title.append(_pdf_pairs(head_pairs, lang, [0.28 * left, 0.72 * left - 2 * mm], small))
    qr_cell = [_QR(v.verify_url), _p(_lab("scan").text(lang), small)]
    top = Table([[title, qr_cell]], colWidths=[left, qr_col])
    top.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (0, 0), 2 * mm),
                ("RIGHTPADDING", (1, 0), (1, 0), 0),
                ("LEFTPADDING", (1, 0), (1, 0), 4 * mm),
            ]
        )
    )
    story: list[Flowable] = [top, Spacer(1, 3 * mm)]
    story += [_p(v.statement.en, body)] if lang != "ko" else []
    story += [_p(v.statement.text("ko"), body)] if lang != "en" else []
    story.append(Spacer(1, 2 * mm))
    story.append(_pdf_pairs(v.facts, lang, [0.25 * width, 0.75 * width], body))
    story += [_p(_lab("shares").text(lang), h2), _pdf_table(v.shares, lang, width, body)]
    if v.lineage is not None:
        story.append(_p(_lab("lineage").text(lang), h2))
        if v.lineage.rows:
            story.append(_pdf_table(v.lineage, lang, width, small))
        else:
            story.append(_p(_lab("no_origins").text(lang), body))
    # the heading and the projection warning stay with the first scheme
    block: list[Flowable] = [_p(_lab("compliance").text(lang), h2)]
    if v.projection is not None:
        block.append(_p(v.projection.text(lang, "\n"), warn))
    for s in v.schemes:
        block.append(_p(s.title.text(lang, "\n"), h3))
        block += [_p(n.text(lang, "\n"), small) for n in s.notes]
        if s.not_applicable is not None:
            block.append(_p(s.not_applicable.text(lang, "\n"), body))
        if s.table is not None:
            block += [Spacer(1, 1 * mm), _pdf_table(s.table, lang, width, small)]
        story.append(KeepTogether(block))
        block = []
    story += block
    story += [
        _p(_lab("evidence").text(lang), h2),
        _pdf_pairs(v.evidence, lang, [0.25 * width, 0.75 * width], small),
    ]
    story += [
        _p(_lab("verify").text(lang), h2),
        _p(_lab("verify_offline").text(lang) + ":", body),
        _p(v.command, mono),
        _p(_lab("log_vkey").text(lang, "\n"), small),
        Spacer(1, 1.5 * mm),
        _p(f"{_lab('verify_online').text(lang)}: {v.verify_url}", body),
    ]
    footer = _lab("informative").text(lang, " ")
    page_word = _lab("page").text(lang)

    def on_page(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 6.5)
        text = f"{footer}  {page_word} {doc.page}"
        # shrink, never overflow: the footer stays inside the margins
        size = 6.5
        while size > 4 and pdfmetrics.stringWidth(text, FONT, size) > width:
            size -= 0.5
        canvas.setFont(FONT, size)
        canvas.drawString(MARGIN, MARGIN - 6 * mm, text)
        canvas.restoreState()

    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{_lab('title').en} — {v.lot}",
        author=v.issuer_did,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        # no standard-14 font anywhere: the canvas starts in the embedded one
        initialFontName=FONT,
    ).build(
        story,
        onFirstPage=on_page,
        onLaterPages=on_page,
    )
    return buffer.getvalue()


# --- HTML -------------------------------------------------------------------------------------


def _h(t: _T, lang: str, sep: str = " / ") -> str:
    """Escaped HTML of a text; in ``en+ko`` the Korean part is marked ``lang="ko"``."""
    e = html.escape
    if t.ko is None or lang == "en":
        return e(t.en)
    if lang == "ko":
        return e(t.ko)
    if t.en == t.ko:
        return e(t.en)
    return f'{e(t.en)}{sep}<span lang="ko">{e(t.ko)}</span>'


def _html_table(table: _Table, lang: str) -> str:
    head = "".join(f"<th>{_h(h, lang)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_h(c, lang)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_pairs(pairs: Sequence[tuple[_T, _T]], lang: str) -> str:
    rows = "".join(f"<tr><th>{_h(k, lang)}</th><td>{_h(v, lang)}</td></tr>" for k, v in pairs)
    return f"<table class='facts'>{rows}</table>"


def certificate_html(
    credential: Mapping[str, Any],
    *,
    verify_url: str,
    verification: str | None = None,
    status: Mapping[str, Any] | None = None,
    lang: str = "en+ko",
) -> str:
    """The certificate as a self-contained HTML page with an inline SVG QR code and, when
    given, ``verification``: the text of the server's verification report (proof, and figures
    recomputed from its bundle); ``status`` and ``lang`` as for :func:`certificate_pdf`.

    Raises:
        LedgerError: ``lang`` is not one of :data:`LANGS` (``bad_request``).
    """
    _check_lang(lang)
    v = _view(credential, verify_url, status)
    e = html.escape
    br = "<br>"
    qr = renderSVG.drawToString(qr_drawing(verify_url))
    qr = qr[qr.find("<svg") :]
    head_pairs = list(v.header) + ([(_lab("status"), v.status)] if v.status is not None else [])
    parts = [
        f"<header><div><h1>{_h(_lab('title'), lang, br)}</h1>{_html_pairs(head_pairs, lang)}</div>",
        f"<figure class='qr'>{qr}<figcaption>{_h(_lab('scan'), lang)}</figcaption></figure>",
        "</header>",
        f"<p class='statement'>{_h(v.statement, lang, br + br)}</p>",
        _html_pairs(v.facts, lang),
        f"<h2>{_h(_lab('shares'), lang)}</h2>{_html_table(v.shares, lang)}",
    ]
    if v.lineage is not None:
        parts.append(f"<h2>{_h(_lab('lineage'), lang)}</h2>")
        parts.append(
            _html_table(v.lineage, lang)
            if v.lineage.rows
            else f"<p>{_h(_lab('no_origins'), lang)}</p>"
        )
    parts.append(f"<h2>{_h(_lab('compliance'), lang)}</h2>")
    if v.projection is not None:
        parts.append(f"<p class='projection'>{_h(v.projection, lang, br)}</p>")
    for s in v.schemes:
        parts.append(f"<h3>{_h(s.title, lang, br)}</h3>")
        parts += [f"<p class='note'>{_h(n, lang, br)}</p>" for n in s.notes]
        if s.not_applicable is not None:
            parts.append(f"<p class='na'>{_h(s.not_applicable, lang, br)}</p>")
        if s.table is not None:
            parts.append(_html_table(s.table, lang))
    parts.append(f"<h2>{_h(_lab('evidence'), lang)}</h2>{_html_pairs(v.evidence, lang)}")
    parts.append(f"<h2>{_h(_lab('verify'), lang)}</h2>")
    if verification is not None:
        parts.append(
            f"<h3>{_h(_lab('verification_report'), lang)}</h3>"
            f"<pre class='verification'>{e(verification)}</pre>"
        )
    parts += [
        f"<p>{_h(_lab('verify_offline'), lang)}:</p><pre><code>{e(v.command)}</code></pre>",
        f"<p class='note'>{_h(_lab('log_vkey'), lang, br)}</p>",
        f'<p>{_h(_lab("verify_online"), lang)}: <a href="{e(verify_url)}">{e(verify_url)}</a></p>',
        f"<p class='note'>{_h(_lab('informative'), lang, br)}</p>",
        f"<h2>{_h(_lab('credential'), lang)}</h2>",
        f"<pre>{e(json.dumps(credential, indent=2, ensure_ascii=False))}</pre>",
    ]
    page_lang = "ko" if lang == "ko" else "en"
    title = f"{_lab('title').text(lang)} — {v.lot}"
    return f"""<!doctype html>
<html lang="{page_lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>body{{font-family:system-ui,"Noto Sans KR","Malgun Gothic","Apple SD Gothic Neo",sans-serif;
max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}}
header{{display:flex;gap:1.5rem;justify-content:space-between;align-items:flex-start}}
header>div{{flex:1;min-width:0}}figure.qr{{width:10rem;margin:0;flex:none;text-align:center}}
table{{border-collapse:collapse;margin:.5rem 0;width:100%}}
td,th{{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}}thead th,.facts th{{background:#e8eef4}}.facts th{{width:25%}}
pre{{background:#f6f6f6;padding:1rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}}
.projection{{background:#fff1e6;color:#8a1c00;padding:.5rem;font-weight:bold}}
.note{{color:#444;font-size:.9em}}</style></head><body>
{chr(10).join(parts)}
</body></html>
"""
