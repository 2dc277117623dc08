"""GET /v1/parties and /v1/parties/{id}: the party directory with key histories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledger.client.models import PartyList, PartyOut
from ledger.core.values import PARTY_ID_RE

from ..deps import PROBLEMS, Auth, State
from ..problems import HttpProblem
from ..views import parties_page, party_of

__all__ = ["router"]

router = APIRouter(prefix="/v1/parties", tags=["parties"])
PARTY_PATTERN = "^" + PARTY_ID_RE.pattern + "$"


@router.get("", response_model=PartyList, responses=PROBLEMS, summary="Registered parties")
def list_parties(
    state: State,
    principal: Auth,
    after: Annotated[str | None, Query(pattern=PARTY_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PartyList:
    return parties_page(state, after=after, limit=limit)


@router.get(
    "/{party_id}",
    response_model=PartyOut,
    responses=PROBLEMS,
    summary="A party and its key history",
)
def get_party(party_id: str, state: State, principal: Auth) -> PartyOut:
    if PARTY_ID_RE.fullmatch(party_id) is None:
        raise HttpProblem("not_found", f"{party_id!r} is not a party id (spec §1)")
    return party_of(state, party_id)
