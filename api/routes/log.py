"""The public log routes (no token needed): checkpoint and RFC 9162 proofs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from ledger.client.models import ConsistencyProofOut, InclusionProofOut
from ledger.core.values import HASH_RE

from ..convert import b64
from ..deps import PROBLEMS, State

__all__ = ["router"]

router = APIRouter(prefix="/v1/log", tags=["log"])


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint (C2SP signed note, signed on demand) with its "
    "witness cosignatures; with a witness quorum, the newest one the quorum cosigned",
)
def checkpoint(state: State) -> PlainTextResponse:
    return PlainTextResponse(state.ledger.cosigned_checkpoint().note)


@router.get(
    "/proof/inclusion",
    response_model=InclusionProofOut,
    responses=PROBLEMS,
    summary="Inclusion proof of an event (by hash) in the tree of `size`",
)
def inclusion(
    state: State,
    hash: Annotated[str, Query(pattern=f"^{HASH_RE.pattern}$")],
    size: Annotated[int | None, Query(ge=1)] = None,
) -> InclusionProofOut:
    index, tree_size, proof = state.ledger.inclusion_proof(hash, size)
    return InclusionProofOut(index=index, size=tree_size, proof=b64(proof))


@router.get(
    "/proof/consistency",
    response_model=ConsistencyProofOut,
    responses=PROBLEMS,
    summary="Consistency proof between two tree sizes",
)
def consistency(
    state: State,
    from_: Annotated[int, Query(alias="from", ge=1)],
    to: Annotated[int, Query(ge=1)],
) -> ConsistencyProofOut:
    proof = state.ledger.consistency_proof(from_, to)
    return ConsistencyProofOut.model_validate({"from": from_, "to": to, "proof": b64(proof)})
