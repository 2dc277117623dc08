"""GET /v1/lots and the per-lot reads: state, chain, provenance, audit bundle.

Lot ids may contain ``:`` and ``/`` (EPC URNs), so routes take the rest of the path; the
suffix routes (``/events``, ``/provenance``, ``/bundle``, ``/recycled-content``) are matched
first. A lot whose id itself ends in one of those words is named with that last slash
percent-encoded (``/v1/lots/X%2Fevents``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ledger.client.models import (
    BundleOut,
    ChainItem,
    ChainOut,
    LotList,
    LotOut,
    ProvenanceOut,
    RecycledContentOut,
)
from ledger.core.rules import Lot
from ledger.core.values import LOT_ID_MAX, LOT_ID_PATTERN, LOT_ID_RE, LOT_STATUSES, PARTY_ID_RE
from ledger.service.tokens import Principal

from ..convert import lot_out
from ..deps import PROBLEMS, AppState, Auth, State, view_of
from ..problems import HttpProblem

__all__ = ["router"]

router = APIRouter(prefix="/v1/lots", tags=["lots"])


def _lot_named(request: Request, lot: str, word: str) -> str | None:
    """The whole lot id when the path names a lot whose id ends in ``/<word>``.

    Starlette routes on the decoded path, so ``/v1/lots/X%2Fevents`` reaches the ``/events``
    route with ``lot = "X"``; the raw path still shows the slash was part of the id.
    """
    raw = request.scope.get("raw_path") or b""
    if raw.lower().endswith(b"%2f" + word.encode()):
        return f"{lot}/{word}"
    return None


def _lot_response(state: AppState, principal: Principal, lot: str) -> JSONResponse:
    found = _as_seen(state, principal, lot, lambda cut: _state(state, lot, cut))
    return JSONResponse(lot_out(found).model_dump(mode="json"))


_T = TypeVar("_T")


def _as_seen(
    state: AppState, principal: Principal, lot: str, read: Callable[[int | None], _T]
) -> _T:
    """``read(cutoff)`` of a lot the principal may read, consistent with its view.

    A view without a cut-off can gain one while the read runs (the receiver's ``lot.receive``
    ends the caller's custody, then the receiver moves on). Cut-offs only ever appear or grow,
    so the view is looked up again AFTER the read: if it has a cut-off now, the read is redone
    with it, and nothing committed after the cut-off can slip into the answer.
    """
    cutoff = _readable(state, principal, lot)
    while True:
        result = read(cutoff)
        if cutoff is not None:
            return result
        again = _readable(state, principal, lot)
        if again is None:
            return result
        cutoff = again


def _readable(state: AppState, principal: Principal, lot: str) -> int | None:
    """404 unless the principal may read the lot; returns the last log index it may see of it
    (None: all of it)."""
    view = view_of(state, principal)
    if LOT_ID_RE.fullmatch(lot) is None or (view is not None and lot not in view):
        raise HttpProblem(
            "not_found", f"no lot {lot!r} in this ledger (or not visible to {principal.party!r})"
        )
    return None if view is None else view[lot]


def _state(state: AppState, lot: str, cutoff: int | None) -> Lot:
    """The lot now, or as it was at a partner's cut-off."""
    if cutoff is None:
        return state.ledger.lot(lot)
    return state.ledger.lots_as_of({lot: cutoff})[lot]


@router.get("", response_model=LotList, responses=PROBLEMS, summary="Lots, by id")
def list_lots(
    state: State,
    principal: Auth,
    custodian: Annotated[str | None, Query(pattern="^" + PARTY_ID_RE.pattern + "$")] = None,
    status: str | None = Query(None, pattern=f"^({'|'.join(LOT_STATUSES)})$"),
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
    if principal.role in ("auditor", "admin"):
        items = state.ledger.list_lots(after=after, limit=limit, custodian=custodian, status=status)
    else:
        # the partner's view, each lot as the partner may see it, filtered on that state
        # (spec §9.4): one bounded query on the visibility index
        rows = state.ledger.visible_lots(
            principal.party, after=after, limit=limit, custodian=custodian, status=status
        )
        items = [lot for lot, _ in rows]
    return LotList(
        items=[lot_out(x) for x in items], next=items[-1].lot if len(items) == limit else None
    )


@router.get(
    "/{lot:path}/events",
    response_model=ChainOut,
    responses=PROBLEMS,
    summary="The lot's chain: its creation, then every event that named it",
)
def lot_events(lot: str, request: Request, state: State, principal: Auth) -> Any:
    if (whole := _lot_named(request, lot, "events")) is not None:
        return _lot_response(state, principal, whole)
    return ChainOut(
        items=_as_seen(
            state,
            principal,
            lot,
            lambda cutoff: [
                ChainItem(seq=seq, hash=ev.hash, event=dict(ev.envelope))
                for seq, ev in state.ledger.chain(lot)
                if cutoff is None or seq <= cutoff
            ],
        )
    )


@router.get(
    "/{lot:path}/provenance",
    response_model=ProvenanceOut,
    responses=PROBLEMS,
    summary="The upstream graph: lots, transforms and shipments",
)
def lot_provenance(lot: str, request: Request, state: State, principal: Auth) -> Any:
    if (whole := _lot_named(request, lot, "provenance")) is not None:
        return _lot_response(state, principal, whole)
    graph = _as_seen(
        state, principal, lot, lambda _: state.ledger.provenance(lot, view_of(state, principal))
    )
    return ProvenanceOut(**graph)


@router.get(
    "/{lot:path}/bundle",
    response_model=BundleOut,
    responses=PROBLEMS,
    summary="The audit bundle (spec §6): verify it offline with the log key",
)
async def lot_bundle(lot: str, request: Request, state: State, principal: Auth) -> Any:
    if (whole := _lot_named(request, lot, "bundle")) is not None:
        return _lot_response(state, principal, whole)
    bundle = await run_in_threadpool(
        _as_seen, state, principal, lot, lambda cut: state.ledger.bundle(lot, upto=cut)
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
    if (whole := _lot_named(request, lot, "recycled-content")) is not None:
        return _lot_response(state, principal, whole)
    day = as_of if as_of is not None else datetime.now(UTC).date()
    report = _as_seen(
        state, principal, lot, lambda cut: state.ledger.recycled_content(lot, as_of=day, upto=cut)
    )
    RecycledContentOut.model_validate(report)  # the documented shape, checked
    return JSONResponse(report)  # as computed: members a rule pack adds are kept verbatim


@router.get("/{lot:path}", response_model=LotOut, responses=PROBLEMS, summary="One lot")
def get_lot(lot: str, state: State, principal: Auth) -> LotOut:
    return lot_out(_as_seen(state, principal, lot, lambda cut: _state(state, lot, cut)))
