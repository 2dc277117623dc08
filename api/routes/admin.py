"""Health and token management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ledger.tokens import Principal, create_token

from ..auth import require
from ..routes.events import _PROBLEMS
from ..schemas import HealthOut, TokenIn, TokenOut
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
