"""Certificates as people read them: a PDF and an HTML page (spec §8).

Both show the lot, material, mass, custodian, the recycled shares per category in total and
per element, the compliance table, and a QR code that leads to the certificate's verification
page. They are renderings of the signed credential: the JSON credential is what verifies.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

__all__ = ["CATEGORY_LABELS", "certificate_html", "certificate_pdf", "qr_drawing"]

CATEGORY_LABELS = (
    ("post_consumer", "post-consumer"),
    ("pre_consumer_battery", "pre-consumer (battery)"),
    ("pre_consumer_other", "pre-consumer (other)"),
    ("recycled", "recycled, total"),
    ("virgin", "virgin"),
)


def qr_drawing(data: str, size: float = 40 * mm) -> Drawing:
    """A QR code of ``data`` as a ReportLab drawing ``size`` points square."""
    widget = QrCodeWidget(data)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def _pct(share: Any) -> str:
    if share is None:
        return "unknown"
    try:
        return f"{float(share) * 100:.2f} %"
    except (TypeError, ValueError):
        return "—"


def _facts(subject: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Lot", str(subject.get("lot", "—"))),
        ("Material", str(subject.get("material", "—"))),
        ("Mass", f"{subject.get('mass_kg', '—')} kg"),
        ("Custodian", str(subject.get("custodian", "—"))),
        ("Model", str(subject.get("model", "—"))),
    ]


def _share_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: a row per category, a column for the lot's mass and each element."""
    elements: Mapping[str, Any] = report.get("elements") or {}
    header = ["category", "by mass", *elements]
    rows = []
    mass = report.get("mass") or {}
    for key, label in CATEGORY_LABELS:
        row = [label, _pct(mass.get(key))]
        for el in elements:
            shares = elements[el]
            row.append("unknown" if shares is None else _pct(shares.get(key)))
        rows.append(row)
    return header, rows


def _compliance_rows(compliance: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for pack in compliance:
        scheme = str(pack.get("scheme", "?"))
        note = " (provisional)" if pack.get("provisional") else ""
        as_of = str(pack.get("as_of", ""))
        for el, res in (pack.get("elements") or {}).items():
            rows.append(
                [
                    f"{scheme}{note}",
                    as_of,
                    el,
                    _pct(res.get("share")),
                    "—" if res.get("minimum") is None else _pct(res.get("minimum")),
                    str(res.get("result", "—")),
                ]
            )
        for name, res in (pack.get("checks") or {}).items():
            share, minimum = res.get("share"), res.get("minimum")
            rows.append(
                [
                    f"{scheme}{note}",
                    as_of,
                    name,
                    "—" if share is None else _pct(share),
                    "—" if minimum is None else _pct(minimum),
                    str(res.get("result", "—")),
                ]
            )
    return rows


def _parts(credential: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any], list[Any]]:
    subject = credential.get("credentialSubject") or {}
    report = subject.get("recycled_content") or {}
    compliance = list(subject.get("compliance") or report.get("compliance") or [])
    return subject, report, compliance


def certificate_pdf(credential: Mapping[str, Any], *, verify_url: str) -> bytes:
    """The certificate as a one-page A4 PDF with a QR code leading to ``verify_url``."""
    subject, report, compliance = _parts(credential)
    styles = getSampleStyleSheet()
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
        ]
    )
    story: list[Flowable] = [
        Paragraph("Recycled-content certificate", styles["Title"]),
        Paragraph(html.escape(str(credential.get("id", ""))), styles["Normal"]),
        Paragraph(
            f"Issued by {html.escape(str(credential.get('issuer', '')))} on "
            f"{html.escape(str(credential.get('validFrom', '')))}",
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
    ]
    facts = Table([[k, v] for k, v in _facts(subject)], colWidths=[30 * mm, 85 * mm])
    facts.setStyle(
        TableStyle(
            [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("FONTSIZE", (0, 0), (-1, -1), 9)]
        )
    )
    # the QR code sits beside the facts, so it is on the first page however long the rest is
    top = Table([[facts, _QR(verify_url)]], colWidths=[120 * mm, 45 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [
        top,
        Paragraph("Scan or open to verify: " + html.escape(verify_url), styles["Normal"]),
        Spacer(1, 4 * mm),
        Paragraph("Recycled shares", styles["Heading2"]),
    ]
    header, rows = _share_rows(report)
    shares = Table([header, *rows])
    shares.setStyle(grid)
    story += [shares, Spacer(1, 4 * mm), Paragraph("Compliance", styles["Heading2"])]
    comp_rows = _compliance_rows(compliance)
    comp = Table([["scheme", "as of", "element", "share", "minimum", "result"], *comp_rows])
    comp.setStyle(grid)
    story.append(comp)
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title="Recycled-content certificate",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    ).build(story)
    return buffer.getvalue()


class _QR(Flowable):  # type: ignore[misc]
    def __init__(self, data: str) -> None:
        super().__init__()
        self.drawing = qr_drawing(data)
        self.width = self.height = 40 * mm

    def draw(self) -> None:
        renderPDF.draw(self.drawing, self.canv, 0, 0)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def certificate_html(
    credential: Mapping[str, Any], *, verify_url: str, verification: str | None = None
) -> str:
    """The certificate as a self-contained HTML page with an inline SVG QR code and, when
    given, the result of verifying it (proof, and figures recomputed from its bundle)."""
    subject, report, compliance = _parts(credential)
    header, rows = _share_rows(report)
    qr = renderSVG.drawToString(qr_drawing(verify_url))
    qr = qr[qr.find("<svg") :]
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _facts(subject)
    )
    e = html.escape
    checked = "" if verification is None else f"<pre class='verification'>{e(verification)}</pre>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Recycled-content certificate — {e(str(subject.get("lot", "")))}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #999;padding:.25rem .5rem;
text-align:left}}thead th{{background:#e8eef4}}pre{{background:#f6f6f6;padding:1rem;overflow:auto}}
</style></head><body>
<h1>Recycled-content certificate</h1>
<p>{e(str(credential.get("id", "")))}<br>Issued by {e(str(credential.get("issuer", "")))} on
{e(str(credential.get("validFrom", "")))}</p>
<table>{facts}</table>
<h2>Recycled shares</h2>{_table(header, rows)}
<h2>Compliance</h2>{
        _table(
            ["scheme", "as of", "element", "share", "minimum", "result"],
            _compliance_rows(compliance),
        )
    }
<h2>Verification</h2>{checked}
<p>This page: <a href="{e(verify_url)}">{e(verify_url)}</a>. Verify it yourself with the
credential below and its audit bundle: <code>ledger certificate verify cert.json --bundle
bundle.json --log-key LOG_VKEY</code>.</p>
<div class="qr" style="width:10rem">{qr}</div>
<h2>Credential</h2><pre>{e(json.dumps(credential, indent=2, ensure_ascii=False))}</pre>
</body></html>
"""
