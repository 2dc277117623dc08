"""GET /v1/lots and the per-lot reads: state, chain, provenance, audit bundle.

Lot ids may contain ``:`` and ``/`` (EPC URNs), so routes take the rest of the path; the
suffix routes (``/events``, ``/provenance``, ``/bundle``, ``/recycled-content``) are matched
first. A lot whose id itself ends in one of those words is named with that last slash
percent-encoded (``/v1/lots/X%2Fevents``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ledger.client.models import (
    BundleOut,
    ChainOut,
    LotList,
    LotOut,
    ProvenanceOut,
    RecycledContentOut,
)
from ledger.core.values import LOT_ID_MAX, LOT_ID_PATTERN, LOT_STATUSES, PARTY_ID_RE, TEXT_MAX

from ..deps import PROBLEMS, Auth, State, as_seen, lot_named, lot_response
from ..views import chain_of, lot_of, lots_page, provenance_of, recycled_of

__all__ = ["router"]

router = APIRouter(prefix="/v1/lots", tags=["lots"])


@router.get("", response_model=LotList, responses=PROBLEMS, summary="Lots, by id")
def list_lots(
    state: State,
    principal: Auth,
    custodian: Annotated[str | None, Query(pattern="^" + PARTY_ID_RE.pattern + "$")] = None,
    status: str | None = Query(None, pattern=f"^({'|'.join(LOT_STATUSES)})$"),
    material: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="the lot's material, exactly")
    ] = None,
    prefix: Annotated[
        str | None,
        Query(max_length=LOT_ID_MAX, description="lots whose id starts with this (a search)"),
    ] = None,
    after: Annotated[
        str | None,
        Query(
            description="cursor: the last lot id of the previous page",
            pattern="^" + LOT_ID_PATTERN + "$",
            max_length=LOT_ID_MAX,
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LotList:
    return lots_page(
        state,
        principal,
        custodian=custodian,
        status=status,
        material=material,
        prefix=prefix,
        after=after,
        limit=limit,
    )


@router.get(
    "/{lot:path}/events",
    response_model=ChainOut,
    responses=PROBLEMS,
    summary="The lot's chain: its creation, then every event that named it",
)
def lot_events(lot: str, request: Request, state: State, principal: Auth) -> Any:
    if (whole := lot_named(request, lot, "events")) is not None:
        return lot_response(state, principal, whole)
    return chain_of(state, principal, lot)


@router.get(
    "/{lot:path}/provenance",
    response_model=ProvenanceOut,
    responses=PROBLEMS,
    summary="The upstream graph: lots, transforms and shipments",
)
def lot_provenance(lot: str, request: Request, state: State, principal: Auth) -> Any:
    if (whole := lot_named(request, lot, "provenance")) is not None:
        return lot_response(state, principal, whole)
    return provenance_of(state, principal, lot)


@router.get(
    "/{lot:path}/bundle",
    response_model=BundleOut,
    responses=PROBLEMS,
    summary="The audit bundle (spec §6): verify it offline with the log key",
)
async def lot_bundle(lot: str, request: Request, state: State, principal: Auth) -> Any:
    if (whole := lot_named(request, lot, "bundle")) is not None:
        return lot_response(state, principal, whole)
    bundle = await run_in_threadpool(
        as_seen, state, principal, lot, lambda cut: state.ledger.bundle(lot, upto=cut)
    )
    return BundleOut(**bundle)


@router.get(
    "/{lot:path}/recycled-content",
    response_model=RecycledContentOut,
    responses=PROBLEMS,
    summary="The recycled-content report (spec §7) with the compliance evaluations",
)
def lot_recycled_content(
    lot: str,
    request: Request,
    state: State,
    principal: Auth,
    as_of: Annotated[
        date | None,
        Query(description="evaluate the rule packs on this date (YYYY-MM-DD); default today"),
    ] = None,
) -> Any:
    if (whole := lot_named(request, lot, "recycled-content")) is not None:
        return lot_response(state, principal, whole)
    day = as_of if as_of is not None else datetime.now(UTC).date()
    report = recycled_of(state, principal, lot, day)
    RecycledContentOut.model_validate(report)  # the documented shape, checked
    return JSONResponse(report)  # as computed: members a rule pack adds are kept verbatim


@router.get("/{lot:path}", response_model=LotOut, responses=PROBLEMS, summary="One lot")
def get_lot(lot: str, state: State, principal: Auth) -> LotOut:
    return lot_of(state, principal, lot)
