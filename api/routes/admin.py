"""Health and token management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from ledger.tokens import Principal, create_token

from ..auth import require
from ..problems import ApiError
from ..routes.events import _PROBLEMS
from ..schemas import HealthOut, TokenIn, TokenInfo, TokenList, TokenOut
from ..state import AppState, get_state

router = APIRouter(tags=["admin"])
State = Annotated[AppState, Depends(get_state)]


@router.get("/healthz", response_model=HealthOut, summary="Liveness and log size (no token)")
def health(state: State) -> HealthOut:
    return HealthOut(status="ok", size=state.ledger.size())


@router.post(
    "/v1/tokens",
    response_model=TokenOut,
    status_code=201,
    responses=_PROBLEMS,
    summary="Issue a token (admin only); the token is shown once",
)
def new_token(
    body: TokenIn, state: State, principal: Annotated[Principal, Depends(require("admin"))]
) -> TokenOut:
    token = create_token(state.ledger.store, body.party, body.role)
    return TokenOut(token=token, party=body.party, role=body.role)


Admin = Annotated[Principal, Depends(require("admin"))]


@router.get(
    "/v1/tokens",
    response_model=TokenList,
    responses=_PROBLEMS,
    summary="Every token issued (admin only): its hash, party, role and state",
)
def list_tokens(state: State, principal: Admin) -> TokenList:
    items = [
        TokenInfo(id=h, party=p, role=r, created_at=c, revoked=v)
        for h, p, r, c, v in state.ledger.store.tokens()
    ]
    return TokenList(items=items, next=None)


@router.delete(
    "/v1/tokens/{token_id}",
    status_code=204,
    responses=_PROBLEMS,
    summary="Revoke a token by its id (the SHA-256 of the token; admin only)",
)
def revoke_token(
    state: State,
    principal: Admin,
    token_id: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
) -> Response:
    if not state.ledger.store.revoke_token(token_id):
        raise ApiError("not_found", f"no live token {token_id[:16]}…")
    for token, (cached, _) in list(state.tokens.items()):  # effective at once, here
        if cached.token_hash == token_id:
            del state.tokens[token]
    return Response(status_code=204)
