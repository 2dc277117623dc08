"""The console's routes: ``GET /``, ``POST /console/sign-in``, ``POST /console/sign-out``.

CSRF (docs/DECISIONS.md): every form carries a random token checked in constant time on POST —
the session's own for signed-in forms, and for the sign-in form a pre-session double-submit
pair (an HttpOnly SameSite=Strict cookie and the same value in the form). Cookies are
SameSite=Strict, HttpOnly, Path=/, and Secure when the request itself is https (no proxy header
is trusted).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.service.tokens import Principal

from ..deps import AppState, State
from ..problems import HttpProblem
from .pages import overview_page, sign_in_page
from .sessions import Session

__all__ = ["SESSION_COOKIE", "SIGN_IN_COOKIE", "router"]

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "ltl_console"
SIGN_IN_COOKIE = "ltl_console_csrf"
#: a sign-in or sign-out form is tiny; anything bigger is refused unread
_MAX_FORM = 4096

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


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


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form (first value of each field); an oversized body is refused."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise HttpProblem("too_large", f"a console form is at most {_MAX_FORM} bytes")
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    return {k: v[0] for k, v in fields.items() if v}


def _csrf_refused() -> HttpProblem:
    return HttpProblem(
        "forbidden", "missing or wrong CSRF token: reload the console page and submit it again"
    )


def _sign_in(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    """The sign-in page with a fresh pre-session CSRF pair; any session cookie is dropped."""
    csrf = secrets.token_urlsafe(32)
    response = HTMLResponse(sign_in_page(csrf, error), status_code=status, headers=HEADERS)
    _cookie(response, request, SIGN_IN_COOKIE, csrf, 3600)
    if SESSION_COOKIE in request.cookies:
        _forget(response, request, SESSION_COOKIE)
    return response


def _signed_in(request: Request, state: AppState) -> tuple[Session, Principal] | None:
    """The live session and its principal, looked up by token hash on every request."""
    sid = request.cookies.get(SESSION_COOKIE)
    session = state.console.get(sid)
    if session is None:
        return None
    principal = state.ledger.principal(session.token_hash, hashed=True)
    if principal is None:  # revoked since sign-in: the session ends now
        state.console.close(sid)
        return None
    return session, principal


@router.get("/")
def console_home(request: Request, state: State) -> HTMLResponse:
    found = _signed_in(request, state)
    if found is None:
        return _sign_in(request)
    session, principal = found
    page = overview_page(
        csrf=session.csrf,
        party=principal.party,
        role=principal.role,
        log_size=state.ledger.size(),
        checkpoint_size=state.ledger.cosigned_checkpoint().size,
    )
    return HTMLResponse(page, headers=HEADERS)


@router.post("/console/sign-in")
async def console_sign_in(request: Request, state: State) -> Response:
    form = await _form(request)
    if not _same(form.get("csrf"), request.cookies.get(SIGN_IN_COOKIE)):
        raise _csrf_refused()
    principal = state.ledger.principal(form.get("token", "").strip())
    if principal is None:
        client = request.client.host if request.client else "unknown"
        if not state.auth_failures.allow(client):
            return _sign_in(request, "Too many failed sign-ins: wait a minute.", 429)
        return _sign_in(request, "Unknown or revoked token.")
    sid, _ = state.console.open(principal.token_hash)
    response = RedirectResponse("/", status_code=303, headers=HEADERS)
    _cookie(response, request, SESSION_COOKIE, sid, int(state.console.lifetime))
    _forget(response, request, SIGN_IN_COOKIE)
    return response


@router.post("/console/sign-out")
async def console_sign_out(request: Request, state: State) -> Response:
    form = await _form(request)
    sid = request.cookies.get(SESSION_COOKIE)
    session = state.console.get(sid)
    if session is None or not _same(form.get("csrf"), session.csrf):
        raise _csrf_refused()
    state.console.close(sid)
    response = RedirectResponse("/", status_code=303, headers=HEADERS)
    _forget(response, request, SESSION_COOKIE)
    return response
