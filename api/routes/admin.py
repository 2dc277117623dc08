"""Health and token management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from ledger.client.models import HealthOut, TokenIn, TokenInfo, TokenList, TokenOut
from ledger.core.values import HASH_RE

from ..body import ModelJson
from ..deps import PROBLEMS, Admin, State
from ..problems import HttpProblem

__all__ = ["TOKEN_BODY", "router"]

router = APIRouter(tags=["admin"])
TOKEN_BODY = ModelJson(TokenIn, limit=4096, hint='send {"party": <party id>, "role": <role>}')


@router.get(
    "/healthz",
    response_model=HealthOut,
    summary="Liveness, log size and the witnesses' state (no token)",
)
def health(state: State) -> HealthOut:
    return HealthOut.model_validate(
        {"status": "ok", "size": state.ledger.size(), **state.ledger.log_status()}
    )


@router.post(
    "/v1/tokens",
    response_model=TokenOut,
    status_code=201,
    responses=PROBLEMS,
    openapi_extra=TOKEN_BODY.openapi,
    summary="Issue a token (admin only); the token is shown once",
)
def new_token(
    state: State, principal: Admin, body: Annotated[TokenIn, Depends(TOKEN_BODY)]
) -> TokenOut:
    token = state.ledger.create_token(body.party, body.role)
    return TokenOut(token=token, party=body.party, role=body.role)


@router.get(
    "/v1/tokens",
    response_model=TokenList,
    responses=PROBLEMS,
    summary="Every token issued (admin only): its hash, party, role and state",
)
def list_tokens(state: State, principal: Admin) -> TokenList:
    items = [
        TokenInfo(id=t.hash, party=t.party, role=t.role, created_at=t.created_at, revoked=t.revoked)
        for t in state.ledger.tokens()
    ]
    return TokenList(items=items, next=None)


@router.delete(
    "/v1/tokens/{token_id}",
    status_code=204,
    responses=PROBLEMS,
    summary="Revoke a token by its id (the SHA-256 of the token; admin only)",
)
def revoke_token(
    state: State,
    principal: Admin,
    token_id: Annotated[str, Path(pattern=f"^{HASH_RE.pattern}$")],
) -> Response:
    # every server reads the token on every request: the next one with it fails, anywhere
    if not state.ledger.revoke_token(token_id):
        raise HttpProblem("not_found", f"no live token {token_id[:16]}…")
    return Response(status_code=204)
