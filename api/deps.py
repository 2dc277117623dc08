"""What every route shares: the app state, authentication and roles, partner visibility, and
the problem responses documented in OpenAPI. Routes import from here, never from each other.

Roles (spec §9): ``partner`` reads the lots its party holds, has held or has in transit to it,
and their upstream provenance (each up to its cut-off), and posts events whose actor is its own
party; ``auditor`` reads everything and posts its own party's events; ``admin`` may also relay
any party's signed events and manage tokens. A lot a partner may not read answers 404, exactly
like a lot that does not exist, so partners cannot probe for other companies' lots.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from threading import Lock
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from ledger.client.models import Problem
from ledger.core.keys import Ed25519PrivateKey
from ledger.core.rules import Lot
from ledger.core.values import LOT_ID_RE
from ledger.service import Ledger
from ledger.service.provenance import PartnerView
from ledger.service.settings import Settings
from ledger.service.tokens import Principal

from .console.sessions import SESSION_COOKIE, ConsoleSessions, Session
from .convert import lot_out
from .limits import RateLimiter, retry_after
from .problems import HttpProblem

__all__ = [
    "PROBLEMS",
    "Admin",
    "AppState",
    "Auth",
    "BatchWriteAuth",
    "State",
    "WriteAuth",
    "as_seen",
    "charge_writes",
    "check_actor",
    "console_session",
    "get_state",
    "lot_named",
    "lot_response",
    "lot_state",
    "readable_cutoff",
    "require",
    "require_batch_writer",
    "require_writer",
    "session_principal",
    "view_of",
]

#: Problem answers for OpenAPI: the body is a ``Problem`` served as application/problem+json
#: (FastAPI also lists the model under application/json; the ``model`` keeps it in
#: components/schemas).
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {
        "model": Problem,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    for code in (400, 401, 403, 404, 409, 413, 422, 429)
}


@dataclass
class AppState:
    """Everything the routes share."""

    ledger: Ledger
    settings: Settings
    writes: RateLimiter
    auth_failures: RateLimiter
    attest_key: Ed25519PrivateKey | None = None
    attest_did: str | None = None
    #: verification reports of stored certificates against their stored bundles (immutable:
    #: kept for the public pages, at most 256)
    certificate_reports: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    certificate_reports_lock: Lock = field(default_factory=Lock)
    #: console sessions (api/console): opaque id -> token hash, expiring, in the database so
    #: that every worker and node shares them
    console: ConsoleSessions = field(init=False)

    def __post_init__(self) -> None:
        self.console = ConsoleSessions(self.ledger.sessions)


async def get_state(request: Request) -> AppState:
    """Dependency: the app's state."""
    state: AppState = request.app.state.ltl
    return state


State = Annotated[AppState, Depends(get_state)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(request: Request, state: AppState) -> Principal:
    """The principal of the request's bearer token.

    Raises:
        HttpProblem: ``unauthorized`` (no, unknown or revoked token) or ``rate_limited`` (too
            many failed attempts from this address).
    """
    header = request.headers.get("authorization")
    if header is None and request.method in ("GET", "HEAD"):
        # a console session reads the same JSON (spec §9.10): reads only, so a cookie can
        # never post an event, whatever a page of another site makes the browser send
        found = session_principal(request, state)
        if found is not None:
            return found
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpProblem(
            "unauthorized",
            "send 'Authorization: Bearer <token>'; ask the operator for a token "
            "(`ledger token create --party ID --role ROLE`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # looked up in the database on EVERY request (one primary-key read, no cache): a token
    # revoked by any server or by the command line fails from the next request on, everywhere
    principal = state.ledger.principal(token.strip())
    if principal is None:
        if not state.auth_failures.allow(_client(request)):
            raise HttpProblem(
                "rate_limited",
                "too many failed authentications; wait a minute",
                headers={"Retry-After": "60"},
            )
        raise HttpProblem(
            "unauthorized",
            "unknown or revoked token: ask the operator for a valid one",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return principal


def console_session(request: Request, state: AppState) -> tuple[Session, Principal] | None:
    """The request's live console session and its principal (None: no cookie, an unknown or
    expired session, or its token revoked since sign-in — the session then ends here)."""
    sid = request.cookies.get(SESSION_COOKIE)
    session = state.console.get(sid)
    if session is None:
        return None
    principal = state.ledger.principal(session.token_hash, hashed=True)
    if principal is None:
        state.console.close(sid)
        return None
    return session, principal


def session_principal(request: Request, state: AppState) -> Principal | None:
    """The principal of the request's console session cookie (see :func:`console_session`)."""
    found = console_session(request, state)
    return None if found is None else found[1]


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: a valid token with one of ``roles`` (any role when none are named)."""

    # async dependencies run on the event loop; a sync one would cost a thread hop per request
    async def dependency(request: Request, state: State) -> Principal:
        principal = authenticate(request, state)
        if roles and principal.role not in roles:
            raise HttpProblem("forbidden", f"this needs a token with role {' or '.join(roles)}")
        return principal

    return dependency


async def require_writer(request: Request, state: State) -> Principal:
    """A valid token with a write left in its bucket, taken: one event costs one write."""
    principal = authenticate(request, state)
    _refuse_over_rate(state.writes.take(principal.token_hash, 1), 1)
    return principal


async def require_batch_writer(request: Request, state: State) -> Principal:
    """A valid token with at least one write left in its bucket (nothing taken yet: the batch
    route charges its events with :func:`charge_writes` once it has counted them). A token
    with an empty bucket is refused before its body is read."""
    principal = authenticate(request, state)
    _refuse_over_rate(state.writes.wait(principal.token_hash, 1), 1)
    return principal


def charge_writes(state: AppState, principal: Principal, events: int) -> None:
    """Take one write per event of a batch (at least one) from the token's bucket, all or
    none, BEFORE anything is applied: a batch over the remaining allowance is refused whole.

    Raises:
        HttpProblem: ``rate_limited`` with ``Retry-After`` the seconds until the batch would
            fit; ``too_large`` when it never can (more events than the bucket holds).
    """
    cost = max(1, events)
    if cost > state.writes.burst:
        raise HttpProblem(
            "too_large",
            f"a batch of {events} events is over this server's write burst of "
            f"{state.writes.burst:.0f} events per token, so it can never be accepted: split it "
            f"into batches of at most {state.writes.burst:.0f}",
        )
    _refuse_over_rate(state.writes.take(principal.token_hash, cost), cost)


def _refuse_over_rate(wait: float, cost: int) -> None:
    if wait > 0.0:
        after = retry_after(wait)
        what = "an event" if cost == 1 else f"a batch of {cost} events"
        raise HttpProblem(
            "rate_limited",
            f"write rate limit exceeded for this token ({what} costs {cost} "
            f"write{'s' if cost > 1 else ''}); nothing was applied: retry after {after} s",
            headers={"Retry-After": after},
        )


Auth = Annotated[Principal, Depends(require())]
Admin = Annotated[Principal, Depends(require("admin"))]
WriteAuth = Annotated[Principal, Depends(require_writer)]
BatchWriteAuth = Annotated[Principal, Depends(require_batch_writer)]


def view_of(state: AppState, principal: Principal) -> PartnerView | None:
    """A partner's view (lot -> last visible log index, None = all); None: reads everything."""
    if principal.role in ("auditor", "admin"):
        return None
    return state.ledger.partner_view(principal.party)


def check_actor(principal: Principal, actor: str) -> None:
    """A partner or auditor token posts only its own party's events; admin relays any."""
    if principal.role != "admin" and principal.party != actor:
        raise HttpProblem(
            "forbidden",
            f"this token speaks for {principal.party!r}, the event's "
            f"actor is {actor!r}: post it with {actor}'s token, or relay it as admin",
        )


# ---------------------------------------------------------------- reads of one lot, as seen
def lot_named(request: Request, lot: str, word: str) -> str | None:
    """The whole lot id when the path names a lot whose id ends in ``/<word>``.

    Starlette routes on the decoded path, so ``/v1/lots/X%2Fevents`` reaches the ``/events``
    route with ``lot = "X"``; the raw path still shows the slash was part of the id.
    """
    raw = request.scope.get("raw_path") or b""
    if raw.lower().endswith(b"%2f" + word.encode()):
        return f"{lot}/{word}"
    return None


def lot_response(state: AppState, principal: Principal, lot: str) -> JSONResponse:
    found = as_seen(state, principal, lot, lambda cut: lot_state(state, lot, cut))
    return JSONResponse(lot_out(found).model_dump(mode="json"))


_T = TypeVar("_T")


def as_seen(
    state: AppState, principal: Principal, lot: str, read: Callable[[int | None], _T]
) -> _T:
    """``read(cutoff)`` of a lot the principal may read, consistent with its view.

    A view without a cut-off can gain one while the read runs (the receiver's ``lot.receive``
    ends the caller's custody, then the receiver moves on). Cut-offs only ever appear or grow,
    so the view is looked up again AFTER the read: if it has a cut-off now, the read is redone
    with it, and nothing committed after the cut-off can slip into the answer.
    """
    cutoff = readable_cutoff(state, principal, lot)
    while True:
        result = read(cutoff)
        if cutoff is not None:
            return result
        again = readable_cutoff(state, principal, lot)
        if again is None:
            return result
        cutoff = again


def readable_cutoff(state: AppState, principal: Principal, lot: str) -> int | None:
    """404 unless the principal may read the lot; returns the last log index it may see of it
    (None: all of it)."""
    view = view_of(state, principal)
    if LOT_ID_RE.fullmatch(lot) is None or (view is not None and lot not in view):
        raise HttpProblem(
            "not_found", f"no lot {lot!r} in this ledger (or not visible to {principal.party!r})"
        )
    return None if view is None else view[lot]


def lot_state(state: AppState, lot: str, cutoff: int | None) -> Lot:
    """The lot now, or as it was at a partner's cut-off."""
    if cutoff is None:
        return state.ledger.lot(lot)
    return state.ledger.lots_as_of({lot: cutoff})[lot]
