"""POST /v1/events, POST /v1/events/batch, GET /v1/events/{hash}."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from ledger import canonical
from ledger.errors import LedgerError
from ledger.events import event_from_json, parse_event
from ledger.service import Receipt
from ledger.tokens import Principal

from ..auth import Auth, can_read_lot, check_actor, require_writer
from ..convert import b64
from ..limits import read_body
from ..problems import ApiError, problem, status_of
from ..schemas import BatchItem, BatchOut, EventOut, InclusionProofOut, Problem, ReceiptOut
from ..state import AppState, get_state

router = APIRouter(prefix="/v1/events", tags=["events"])

State = Annotated[AppState, Depends(get_state)]
Writer = Annotated[Principal, Depends(require_writer)]

_EVENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A signed LTL/1 event envelope (SPEC §3), at most 64 KiB.",
                    "required": [
                        "ltl",
                        "id",
                        "type",
                        "actor",
                        "kid",
                        "time",
                        "prev",
                        "body",
                        "sig",
                    ],
                }
            }
        },
    }
}
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 409, 413, 422, 429)
}


@router.post(
    "",
    status_code=201,
    response_model=ReceiptOut,
    responses={
        200: {"model": ReceiptOut, "description": "the same event again (idempotent)"},
        **_PROBLEMS,
    },
    openapi_extra=_EVENT_BODY,
    summary="Append one signed event",
)
async def post_event(
    request: Request, response: Response, state: State, principal: Writer
) -> ReceiptOut:
    body = await read_body(request, canonical.MAX_EVENT_BYTES)
    ev = parse_event(body)
    check_actor(principal, ev.actor)
    receipt: Receipt = await asyncio.wrap_future(state.ledger.submit(ev))
    if not receipt.created:
        response.status_code = 200
    return ReceiptOut(seq=receipt.seq, hash=receipt.hash, lots=receipt.lots)


@router.post(
    "/batch",
    response_model=BatchOut,
    responses=_PROBLEMS,
    summary="Append up to 1000 signed events, each accepted or refused on its own, in order",
)
async def post_batch(request: Request, state: State, principal: Writer) -> BatchOut:
    limit = state.settings.max_batch_bytes
    raw = await read_body(request, limit)
    doc = canonical.loads(raw, max_bytes=limit)
    if not isinstance(doc, dict) or set(doc) != {"events"} or not isinstance(doc["events"], list):
        raise ApiError("bad_request", 'send {"events": [signed event, ...]}')
    if len(doc["events"]) > state.settings.max_batch_events:
        raise ApiError(
            "too_large", f"at most {state.settings.max_batch_events} events per batch; split it"
        )
    items: list[BatchItem | None] = []
    valid = []
    for obj in doc["events"]:
        try:
            ev = event_from_json(obj)
            check_actor(principal, ev.actor)
        except LedgerError as e:
            items.append(_problem_item(e.code, e.message))
            continue
        except ApiError as e:
            items.append(_problem_item(e.code, e.detail))
            continue
        valid.append((len(items), ev))
        items.append(None)
    results = await run_in_threadpool(state.ledger.append_many, [ev for _, ev in valid])
    for (i, _), result in zip(valid, results, strict=True):
        if isinstance(result, Receipt):
            items[i] = BatchItem(
                status=201 if result.created else 200,
                receipt=ReceiptOut(seq=result.seq, hash=result.hash, lots=result.lots),
            )
        else:
            items[i] = _problem_item(result.code, result.message)
    return BatchOut(results=[item for item in items if item is not None])


def _problem_item(code: str, detail: str) -> BatchItem:
    return BatchItem(status=status_of(code), problem=Problem(**problem(code, detail)))


@router.get(
    "/{event_hash}",
    response_model=EventOut,
    responses=_PROBLEMS,
    summary="A signed event with its inclusion proof against the latest checkpoint",
)
def get_event(event_hash: str, state: State, principal: Auth) -> EventOut:
    seq, ev = state.ledger.event(event_hash)
    lots = (*ev.lots_touched, *ev.lots_created)
    if lots and not any(can_read_lot(state, principal, lot) for lot in lots):
        raise ApiError("not_found", f"no event with hash {event_hash!r}")
    cp = state.ledger.checkpoint()
    index, size, proof = state.ledger.inclusion_proof(ev.hash, cp.size)
    return EventOut(
        seq=seq,
        hash=ev.hash,
        event=dict(ev.envelope),
        proof=InclusionProofOut(index=index, size=size, proof=b64(proof)),
        checkpoint=cp.note,
    )
