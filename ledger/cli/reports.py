"""Reports for people: ``ledger report LOT`` (the recycled-content report as a table) and
``ledger certificate issue LOT`` (a certificate written as JSON, PDF and HTML)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from ..client.models import RecycledContentOut, SharesOut
from ._common import TokenOpt, UrlOpt, api_call, client, fail

__all__ = ["certificate_issue", "report", "report_text"]

_CATEGORIES = (
    ("post_consumer", "post-consumer"),
    ("pre_consumer_battery", "pre-consumer battery"),
    ("pre_consumer_other", "pre-consumer other"),
)


LotArg = Annotated[str, typer.Argument(help="the lot id")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="evaluate the rule packs on YYYY-MM-DD")
]


def _pct(share: str | None) -> str:
    if share is None:
        return "n/a"
    return f"{(Decimal(share) * 100).quantize(Decimal('0.1'))} %"


def _shares(s: SharesOut) -> str:
    parts = [f"{label} {_pct(getattr(s, name))}" for name, label in _CATEGORIES]
    return "  ".join([*parts, f"recycled {_pct(s.recycled)}", f"virgin {_pct(s.virgin)}"])


def report_text(r: RecycledContentOut) -> str:
    """The spec §7 report as a readable table."""
    lines = [
        f"recycled-content report for lot {r.lot}",
        f"  material {r.material}, {r.mass_kg} kg; model {r.model}; rules evaluated as of "
        f"{r.as_of}",
        f"  by mass:  {_shares(r.mass)}",
    ]
    for element, shares in sorted(r.elements.items()):
        lines.append(
            f"  {element:<8}  {'unknown composition' if shares is None else _shares(shares)}"
        )
    lines.append("  origins (lot, party, country, source, share of the lot's mass, kg):")
    for o in r.lineage.origins:
        lines.append(
            f"    {o.lot:<28} {o.party:<10} {o.country:<3} {o.source or '-':<22} "
            f"{_pct(o.share):>8}  {o.mass_kg}"
        )
    lines.append("  compliance:")
    for c in r.compliance:
        note = " (provisional)" if c.provisional else ""
        lines.append(f"    {c.scheme} as of {c.as_of}{note}")
        for element, res in sorted({**c.elements, **(c.checks or {})}.items()):
            figures = "" if res.share is None else f": {_pct(res.share)}"
            floor = "" if res.minimum is None else f" (minimum {_pct(res.minimum)})"
            lines.append(f"      {element:<24} {res.result}{figures}{floor}")
    return "\n".join(lines)


def report(
    lot: LotArg,
    url: UrlOpt,
    token: TokenOpt,
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="the raw report (spec §7)")] = False,
) -> None:
    """Print a lot's recycled-content report: shares, origins, compliance."""
    with client(url, token) as sdk:
        found = api_call(lambda: sdk.recycled_content(lot, as_of=as_of))
    if as_json:
        typer.echo(json.dumps(found.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        typer.echo(report_text(found))


def certificate_issue(
    lot: LotArg,
    url: UrlOpt,
    token: TokenOpt,
    as_of: AsOfOpt = None,
    model: Annotated[
        str | None, typer.Option(help="controlled_blending or mass_balance (default: the lot's)")
    ] = None,
    lang: Annotated[
        str, typer.Option(help="labels of the PDF and HTML: en, ko or en+ko")
    ] = "en+ko",
    out: Annotated[Path, typer.Option(help="the folder the files go to")] = Path("."),
) -> None:
    """Have the ledger issue a certificate; write it as JSON, PDF and HTML."""
    if lang not in ("en", "ko", "en+ko"):
        raise fail(f"--lang {lang!r}: choose en, ko or en+ko")
    with client(url, token) as sdk:
        credential: dict[str, Any] = api_call(
            lambda: sdk.issue_certificate(lot, model=model, as_of=as_of)
        )
        cert_id = str(credential["id"])
        pdf = api_call(lambda: sdk.certificate_pdf(cert_id, lang=lang))
        html = api_call(lambda: sdk.certificate_html(cert_id, lang=lang))
    out.mkdir(parents=True, exist_ok=True)
    stem = f"certificate-{re.sub(r'[^A-Za-z0-9._-]', '_', lot)}"
    paths = (out / f"{stem}.json", out / f"{stem}.pdf", out / f"{stem}.html")
    paths[0].write_text(json.dumps(credential, indent=2, ensure_ascii=False))
    paths[1].write_bytes(pdf)
    paths[2].write_text(html)
    typer.echo(f"certificate for lot {lot}: {cert_id} (its public page)")
    for path in paths:
        typer.echo(f"  wrote {path}")
