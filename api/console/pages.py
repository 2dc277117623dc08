"""The console's pages: Jinja2 templates (``templates/``, autoescaped: names, sites and lot ids
are partner input in any script) and the data each page shows, read through :mod:`api.views`.

No page has an inline script or style (the CSP is ``script-src 'self'; style-src 'self'``);
every asset is under ``/static`` and ships with the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ledger.client.models import ChainItem
from ledger.core.events import SignedEvent, event_from_json
from ledger.service.tokens import Principal

from ..deps import AppState
from ..views import (
    certificates_page,
    chain_of,
    lot_of,
    provenance_of,
    recycled_of,
)
from . import graphics
from .i18n import (
    LANG_COOKIE,
    LANGUAGES,
    VERIFY_LABELS,
    choose_language,
    translator,
    value_labeler,
)

__all__ = [
    "Context",
    "event_rows",
    "lot_context",
    "note_signatures",
    "party_names",
    "render",
    "with_query",
]


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("api.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["with_query"] = with_query
    return env


@dataclass(frozen=True)
class Context:
    """What every page needs: the language and its words, who is signed in, the CSRF token
    of the session's forms, and the current path (for the language switch)."""

    lang: str
    t: Callable[[str], str]
    principal: Principal | None
    csrf: str
    path: str

    @classmethod
    def of(cls, request: Request, *, principal: Principal | None, csrf: str) -> Context:
        lang = choose_language(
            request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
        )
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return cls(lang, translator(lang), principal, csrf, path)


def render(template: str, ctx: Context, **data: Any) -> str:
    """A page: ``template`` with the context and ``data``."""
    return (
        _env()
        .get_template(template)
        .render(
            lang=ctx.lang,
            t=ctx.t,
            tv=value_labeler(ctx.lang),
            principal=ctx.principal,
            csrf=ctx.csrf,
            path=ctx.path,
            languages=LANGUAGES,
            **data,
        )
    )


def with_query(path: str, query: Mapping[str, Any]) -> str:
    """``path?query`` without the empty members (values are url-encoded)."""
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def lot_url(lot: str) -> str:
    return with_query("/console/lot", {"id": lot})


# ---------------------------------------------------------------------- overview
def note_signatures(note: str) -> list[str]:
    """The names on a C2SP signed note's signature lines (the log's, then witnesses')."""
    _, _, sigs = note.partition("\n\n")
    return [line[2:].split(" ", 1)[0] for line in sigs.splitlines() if line.startswith("\u2014 ")]


def party_names(state: AppState) -> dict[str, tuple[str, str]]:
    """party id -> (registered name, country), from the party directory every token reads."""
    out: dict[str, tuple[str, str]] = {}
    after: str | None = None
    while True:
        page = state.ledger.list_parties(after=after, limit=1000)
        out.update({p.id: (p.name, p.country) for p in page})
        if len(page) < 1000:
            return out
        after = page[-1].id


def _mass_on(ev: SignedEvent, lot: str | None) -> str | None:
    body = ev.body
    if isinstance(body.get("mass_kg"), str):
        return str(body["mass_kg"])
    for key in ("outputs", "inputs", "lots"):
        for item in body.get(key) or ():
            if isinstance(item, dict) and (lot is None or item.get("lot") == lot):
                mass = item.get("mass_kg")
                if isinstance(mass, str):
                    return mass
    return None


def _site(ev: SignedEvent) -> str | None:
    site = ev.body.get("site")
    if isinstance(site, dict):
        return f"{site.get('name', '')} ({site.get('country', '')})"
    return None


def event_rows(
    events: Iterable[tuple[int, SignedEvent]],
    names: Mapping[str, tuple[str, str]],
    lot: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of an event table: log index, type, party (name, country), site, time, mass (on
    ``lot`` when given), key id, and the link to the signed JSON with its inclusion proof."""
    rows = []
    for seq, ev in events:
        name, country = names.get(ev.actor, (ev.actor, ""))
        rows.append(
            {
                "seq": seq,
                "type": ev.type,
                "actor": ev.actor,
                "name": name,
                "country": country,
                "site": _site(ev),
                "time": ev.envelope["time"],
                "mass": _mass_on(ev, lot),
                "kid": ev.kid,
                "hash": ev.hash,
                "json": f"/v1/events/{ev.hash}",
                "lots": [*ev.lots_created, *ev.lots_touched],
            }
        )
    return rows


# ---------------------------------------------------------------------------- a lot
def lot_context(
    state: AppState, principal: Principal, lot_id: str, base_url: str, lang: str
) -> dict[str, Any]:
    """Everything the lot page shows, each part read as the API reads it for this token."""
    lot = lot_of(state, principal, lot_id)  # 404 first, before anything else is read
    names = party_names(state)  # the directory, read once for the whole page
    chain: list[ChainItem] = chain_of(state, principal, lot_id).items
    events = [(item.seq, event_from_json(item.event)) for item in chain]
    graph = provenance_of(state, principal, lot_id).model_dump(by_alias=True)
    report = recycled_of(state, principal, lot_id, datetime.now(UTC).date())
    certs = certificates_page(state, principal, base_url, lot=lot_id, limit=100)
    return {
        "lot": lot,
        "timeline": event_rows(events, names, lot_id),
        "graph_svg": graphics.provenance_svg(graph, lang=lang, link=lot_url),
        "graph_nodes": graph["nodes"],
        "shares_svg": graphics.shares_svg(report, lang=lang),
        "report": report,
        "compliance": compliance_rows(report),
        "certificates": certs.items,
        "bundle_url": f"/v1/lots/{_path(lot_id)}/bundle",
        "json_url": f"/v1/lots/{_path(lot_id)}",
        "names": names,
        "verify_labels": VERIFY_LABELS,
    }


#: the last path segments the per-lot routes take (spec §9.6, api/routes/lots.py)
_ROUTE_WORDS = frozenset({"events", "provenance", "bundle", "recycled-content"})


def _path(lot: str) -> str:
    """A lot id in an API path: ``/`` kept (the routes take the rest of the path), the slash
    before a last segment that is a route word percent-encoded (spec §9.6): ``X/events`` is
    ``X%2Fevents``, never the chain of lot ``X``."""
    head, slash, last = lot.rpartition("/")
    if slash and last in _ROUTE_WORDS:
        return f"{quote(head, safe=':/')}%2F{quote(last, safe='')}"
    return quote(lot, safe=":/")


def compliance_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per scheme and element or check: share, minimum, result and reason."""
    rows = []
    for scheme in report.get("compliance") or ():
        name = str(scheme.get("scheme"))
        for element, row in sorted((scheme.get("elements") or {}).items()):
            rows.append({"scheme": name, "rule": element, **_row(row), "scheme_doc": scheme})
        for check, row in sorted((scheme.get("checks") or {}).items()):
            if isinstance(row, dict):
                rows.append({"scheme": name, "rule": check, **_row(row), "scheme_doc": scheme})
    return rows


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    reason = row.get("reason")
    if reason is None and row.get("parties") is not None:
        reason = ", ".join(map(str, row["parties"])) or "—"
    return {
        "share": row.get("share"),
        "minimum": row.get("minimum"),
        "result": row.get("result"),
        "reason": reason,
    }
