"""The console's routes (spec §9.10): the pages of a signed-in token, at ``/`` and under
``/console/``. Not part of the API and not in the OpenAPI document.

Every page reads through :mod:`api.views`, the calls the JSON API makes, with the session's
principal, so a page shows a token exactly what the API returns to it (tests/console walks
every page with every role and compares). Forms are read by :class:`api.body.FormBody` and
carry a CSRF token checked in constant time: the session's own, or for the sign-in form a
pre-session double-submit pair (docs/DECISIONS.md). Cookies are ``HttpOnly; SameSite=Strict;
Path=/`` and ``Secure`` when the request itself is https (no proxy header is trusted).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ledger.client.models import CertificateIn
from ledger.core.values import LOT_ID_MAX, LOT_STATUSES, PARTY_ID_RE, TEXT_MAX
from ledger.service.tokens import Principal

from ..body import FormBody
from ..deps import AppState, State, console_session
from ..problems import HttpProblem, validation_detail
from ..views import (
    certificates_page,
    issue_certificate,
    lots_page,
    parties_page,
    party_of,
    public_base,
    recent_events,
)
from . import pages
from .i18n import LANG_COOKIE, LANGUAGES
from .sessions import SESSION_COOKIE, SIGN_IN_COOKIE

__all__ = ["PAGE_HEADERS", "router"]

router = APIRouter(include_in_schema=False)

SIGN_IN_FORM = FormBody(fields=("csrf", "token"), required=("csrf", "token"))
SIGN_OUT_FORM = FormBody(fields=("csrf",), required=("csrf",))
ISSUE_FORM = FormBody(fields=("csrf", "lot"), required=("csrf", "lot"))
Form = dict[str, str]

#: every console answer: scripts and styles from this server only, no frame, no referrer
#: beyond this origin, never cached (pages show live state and carry CSRF tokens)
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
PAGE_SIZE = 50
StatusQ = Annotated[str | None, Query(pattern=f"^({'|'.join(LOT_STATUSES)})?$")]
PartyQ = Annotated[str | None, Query(max_length=63)]
LotQ = Annotated[str, Query(min_length=1, max_length=LOT_ID_MAX)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def _forget(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=_secure(request), httponly=True, samesite="strict"
    )


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def _csrf_refused() -> HttpProblem:
    return HttpProblem(
        "forbidden", "missing or wrong CSRF token: reload the console page and submit it again"
    )


def _html(page: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)


class Signed:
    """The signed-in caller of a page: its principal, its session's CSRF token and the page
    context (language, navigation)."""

    def __init__(self, request: Request, state: AppState, principal: Principal, csrf: str):
        self.request = request
        self.state = state
        self.principal = principal
        self.csrf = csrf
        self.ctx = pages.Context.of(request, principal=principal, csrf=csrf)


class NotSignedIn(Exception):
    """A console page asked for without a live session: answered with the sign-in page."""


def _signed(request: Request, state: AppState) -> Signed | None:
    """The signed-in caller of the request (None: no live session)."""
    found = console_session(request, state)
    if found is None:
        return None
    session, principal = found
    return Signed(request, state, principal, session.csrf)


async def signed_in(request: Request, state: State) -> Signed:
    """The page's signed-in caller (else :class:`NotSignedIn`: the sign-in form)."""
    page = _signed(request, state)
    if page is None:
        raise NotSignedIn()
    return page


Page = Annotated[Signed, Depends(signed_in)]


def sign_in_response(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    """The sign-in page with a fresh pre-session CSRF pair; any session cookie is dropped."""
    csrf = secrets.token_urlsafe(32)
    ctx = pages.Context.of(request, principal=None, csrf=csrf)
    response = _html(pages.render("sign_in.html", ctx, error=error), status)
    _cookie(response, request, SIGN_IN_COOKIE, csrf, 3600)
    if SESSION_COOKIE in request.cookies:
        _forget(response, request, SESSION_COOKIE)
    return response


# ------------------------------------------------------------------ sign-in, language
@router.get("/")
def overview(request: Request, state: State) -> HTMLResponse:
    page = _signed(request, state)
    if page is None:
        return sign_in_response(request)
    record = state.ledger.cosigned_checkpoint()
    return _html(
        pages.render(
            "overview.html",
            page.ctx,
            size=state.ledger.size(),
            checkpoint=record,
            signatures=pages.note_signatures(record.note),
            health=state.ledger.log_status(),
            events=pages.event_rows(recent_events(state, page.principal), pages.party_names(state)),
        )
    )


@router.post("/console/sign-in")
def sign_in(
    request: Request, state: State, form: Annotated[Form, Depends(SIGN_IN_FORM)]
) -> Response:
    if not _same(form.get("csrf"), request.cookies.get(SIGN_IN_COOKIE)):
        raise _csrf_refused()
    t = pages.Context.of(request, principal=None, csrf="").t
    principal = state.ledger.principal(form["token"].strip())
    if principal is None:
        client = request.client.host if request.client else "unknown"
        if not state.auth_failures.allow(client):
            return sign_in_response(request, t("too_many"), 429)
        return sign_in_response(request, t("bad_token"), 401)
    # a browser signing in again (maybe with another token) ends the session it brought
    state.console.close(request.cookies.get(SESSION_COOKIE))
    sid, _ = state.console.open(principal.token_hash)
    response = RedirectResponse("/", status_code=303, headers=PAGE_HEADERS)
    _cookie(response, request, SESSION_COOKIE, sid, int(state.console.lifetime))
    _forget(response, request, SIGN_IN_COOKIE)
    return response


@router.post("/console/sign-out")
def sign_out(
    request: Request, state: State, form: Annotated[Form, Depends(SIGN_OUT_FORM)]
) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    session = state.console.get(sid)
    if session is None or not _same(form.get("csrf"), session.csrf):
        raise _csrf_refused()
    state.console.close(sid)
    response = RedirectResponse("/", status_code=303, headers=PAGE_HEADERS)
    _forget(response, request, SESSION_COOKIE)
    return response


@router.get("/console/lang/{lang}")
def switch_language(
    request: Request, lang: str, next: Annotated[str, Query(max_length=2048)] = "/"
) -> Response:
    """Remember the language (a cookie, a year) and go back to ``next`` (a path on this
    server only: never another site)."""
    if lang not in LANGUAGES:
        raise HttpProblem("not_found", f"no console language {lang!r}: use en or ko")
    target = next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"
    response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


# ------------------------------------------------------------------------------ lots
@router.get("/console/lots")
def lots(
    page: Page,
    q: Annotated[str, Query(max_length=LOT_ID_MAX)] = "",
    status: StatusQ = None,
    custodian: PartyQ = None,
    material: Annotated[str | None, Query(max_length=TEXT_MAX)] = None,
    after: Annotated[str | None, Query(max_length=LOT_ID_MAX)] = None,
) -> HTMLResponse:
    custodian = custodian or None
    if custodian is not None and PARTY_ID_RE.fullmatch(custodian) is None:
        raise HttpProblem("bad_request", f"{custodian[:63]!r} is not a party id (spec §1)")
    found = lots_page(
        page.state,
        page.principal,
        custodian=custodian,
        status=status or None,
        material=material or None,
        prefix=q.strip() or None,
        after=after or None,
        limit=PAGE_SIZE,
    )
    filters = {
        "q": q,
        "status": status or "",
        "custodian": custodian or "",
        "material": material or "",
    }
    return _html(
        pages.render(
            "lots.html",
            page.ctx,
            lots=found,
            filters=filters,
            statuses=LOT_STATUSES,
            parties=pages.party_names(page.state),
            next_url=pages.with_query("/console/lots", {**filters, "after": found.next})
            if found.next
            else None,
            first_url=pages.with_query("/console/lots", filters) if after else None,
        )
    )


@router.get("/console/lot")
async def lot(page: Page, id: LotQ) -> HTMLResponse:
    """A lot: state, custody timeline, provenance graph, shares, compliance, certificates."""
    context = await run_in_threadpool(
        pages.lot_context,
        page.state,
        page.principal,
        id,
        str(page.request.base_url),
        page.ctx.lang,
    )
    return _html(pages.render("lot.html", page.ctx, **context))


# --------------------------------------------------------------------------- parties
@router.get("/console/parties")
def parties(page: Page, after: Annotated[str | None, Query(max_length=63)] = None) -> HTMLResponse:
    found = parties_page(page.state, after=after or None, limit=PAGE_SIZE)
    return _html(
        pages.render(
            "parties.html",
            page.ctx,
            parties=found,
            next_url=pages.with_query("/console/parties", {"after": found.next})
            if found.next
            else None,
        )
    )


@router.get("/console/party")
def party(page: Page, id: Annotated[str, Query(max_length=63)]) -> HTMLResponse:
    if PARTY_ID_RE.fullmatch(id) is None:
        raise HttpProblem("not_found", f"{id[:63]!r} is not a party id (spec §1)")
    return _html(pages.render("party.html", page.ctx, party=party_of(page.state, id)))


# ----------------------------------------------------------------------- certificates
@router.get("/console/certificates")
def certificates(
    page: Page,
    lot: Annotated[str | None, Query(max_length=LOT_ID_MAX)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    found = certificates_page(
        page.state,
        page.principal,
        str(page.request.base_url),
        lot=lot or None,
        after=after or None,
        limit=PAGE_SIZE,
    )
    return _html(
        pages.render(
            "certificates.html",
            page.ctx,
            certificates=found,
            lot=lot or "",
            may_issue=may_issue(page.state),
            next_url=pages.with_query("/console/certificates", {"lot": lot, "after": found.next})
            if found.next
            else None,
        )
    )


def may_issue(state: AppState) -> bool:
    """Whether this server can sign certificates (an attestation key and a public URL)."""
    return state.attest_key is not None and public_base(state) is not None


@router.post("/console/certificates")
async def issue(
    request: Request, state: State, form: Annotated[Form, Depends(ISSUE_FORM)]
) -> Response:
    """Issue a certificate of a lot, as ``POST /v1/certificates`` does for the same token
    (a partner only for a lot of its own custody history)."""
    page = _signed(request, state)
    if page is None or not _same(form.get("csrf"), page.csrf):
        raise _csrf_refused()
    try:
        request_ = CertificateIn.model_validate({"lot": form["lot"].strip()})
    except ValidationError as e:
        raise HttpProblem("bad_request", validation_detail(e.errors(), ("form",))) from None
    lot_id = request_.lot
    await run_in_threadpool(issue_certificate, state, page.principal, lot_id)
    target = pages.with_query("/console/certificates", {"lot": lot_id})
    return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
