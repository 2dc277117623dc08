"""Bearer tokens, roles and per-token rate limits (SPEC §9 access rules).

Roles: ``partner`` reads the lots its party holds, has held or has in transit to it, and their
upstream provenance, and posts events whose actor is its own party; ``auditor`` reads
everything and posts its own party's events; ``admin`` may also relay any party's signed events
and manage tokens. A lot a partner may not read answers 404, exactly like a lot that does not
exist, so partners cannot probe for other companies' lots.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from ledger.provenance import partner_view
from ledger.tokens import Principal, lookup_token

from .problems import ApiError
from .state import AppState, get_state

__all__ = ["Auth", "can_read_lot", "check_actor", "require", "require_writer", "view_of"]


TOKEN_CACHE_SECONDS = 30.0


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(request: Request, state: AppState) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            "unauthorized",
            "send 'Authorization: Bearer <token>'; ask the operator for a token "
            "(`ledger token create --party ID --role ROLE`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = token.strip()
    cached = state.tokens.get(token)
    now = time.monotonic()
    principal = cached[0] if cached is not None and cached[1] > now else None
    if principal is None:
        principal = lookup_token(state.ledger.store, token)
        if principal is None:
            if not state.auth_failures.allow(_client(request)):
                raise ApiError(
                    "rate_limited",
                    "too many failed authentications; wait a minute",
                    headers={"Retry-After": "60"},
                )
            raise ApiError(
                "unauthorized",
                "unknown or revoked token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if len(state.tokens) > 10_000:
            state.tokens.clear()
        # re-read from the database at most every TOKEN_CACHE_SECONDS, so a token revoked in
        # the database stops working within that time
        state.tokens[token] = (principal, now + TOKEN_CACHE_SECONDS)
    return principal


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: a valid token with one of ``roles`` (any role when none are named)."""

    # async dependencies run on the event loop; a sync one would cost a thread hop per request
    async def dependency(
        request: Request, state: Annotated[AppState, Depends(get_state)]
    ) -> Principal:
        principal = authenticate(request, state)
        if roles and principal.role not in roles:
            raise ApiError("forbidden", f"this needs a token with role {' or '.join(roles)}")
        return principal

    return dependency


async def require_writer(
    request: Request, state: Annotated[AppState, Depends(get_state)]
) -> Principal:
    """A valid token within its write rate limit."""
    principal = authenticate(request, state)
    if not state.writes.allow(principal.token_hash):
        raise ApiError(
            "rate_limited",
            "write rate limit exceeded for this token; slow down and retry after a second",
            headers={"Retry-After": "1"},
        )
    return principal


def view_of(state: AppState, principal: Principal) -> dict[str, int | None] | None:
    """A partner's view (lot -> last visible log index, None = all); None: reads everything."""
    if principal.role in ("auditor", "admin"):
        return None
    return partner_view(state.ledger, principal.party)


def can_read_lot(state: AppState, principal: Principal, lot: str) -> bool:
    """Whether the principal may read ``lot`` at all (auditor and admin read everything)."""
    view = view_of(state, principal)
    return view is None or lot in view


def check_actor(principal: Principal, actor: str) -> None:
    """A partner or auditor token posts only its own party's events; admin relays any."""
    if principal.role != "admin" and principal.party != actor:
        raise ApiError(
            "forbidden",
            f"this token speaks for {principal.party!r}, the event's "
            f"actor is {actor!r}: post it with {actor}'s token, or relay it as admin",
        )


Auth = Annotated[Principal, Depends(require())]
