"""POST /v1/events, POST /v1/events/batch, GET /v1/events/{hash}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.client.models import (
    BatchItem,
    BatchOut,
    EventOut,
    InclusionProofOut,
    Problem,
    ReceiptOut,
)
from ledger.core import canonical
from ledger.core.events import SignedEvent, event_from_json, parse_event
from ledger.core.receipt import Receipt
from ledger.errors import LedgerError, StorageError
from ledger.service.tokens import Principal

from ..body import JsonBody, StrictJson
from ..convert import b64
from ..deps import (
    PROBLEMS,
    AppState,
    Auth,
    BatchWriteAuth,
    State,
    charge_writes,
    check_actor,
    require_writer,
    view_of,
)
from ..problems import HttpProblem, log_storage_error, problem, status_of, storage_detail
from ..views import may_see_event

__all__ = ["BATCH_BODY", "EVENT_BODY", "EventFastPath", "router"]

router = APIRouter(prefix="/v1/events", tags=["events"])

#: the envelope, its body a union discriminated by ``type`` (components added by
#: ``api.routes.schemas.install`` from ``ledger.core.json_schema``: the served JSON Schemas)
_ENVELOPE_SCHEMA: dict[str, Any] = {"$ref": "#/components/schemas/Event"}
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "additionalProperties": False,
    "properties": {
        "events": {
            "type": "array",
            # the limit is a setting (max_batch_events, default 1000; more is a 413), so it is
            # not a maxItems here. Each item is an event, but it is validated on its own: a bad
            # one gets its problem in the results, not a 4xx for the whole batch.
            "description": "signed event envelopes (spec §3), applied in order; an item that "
            "is not a valid event gets its problem in `results`, the others are still applied",
            "items": _ENVELOPE_SCHEMA,
        }
    },
}


class _EventWrite(JsonBody):
    """``POST /v1/events``' one dependency: the token and its write (as ``WriteAuth``), then
    the body's media type and size, then the strict parse into an event. One level, no
    sub-dependencies: on this hot path FastAPI's resolver would cost about as much per level
    as the signature check."""

    async def __call__(self, request: Request) -> tuple[AppState, Principal, SignedEvent]:
        state: AppState = request.app.state.ltl
        principal = await require_writer(request, state)
        return state, principal, parse_event(await self.read(request, state))


EVENT_BODY = _EventWrite(
    limit=canonical.MAX_EVENT_BYTES,
    schema=_ENVELOPE_SCHEMA,
    hint="an event is at most 65536 bytes (spec §2.1)",
)
BATCH_BODY = StrictJson(
    limit=lambda state: state.settings.max_batch_bytes,
    schema=_BATCH_SCHEMA,
    hint="split the batch",
    code="invalid_event",
    allow_floats=False,
)


@router.post(
    "",
    status_code=201,
    response_model=ReceiptOut,
    responses={
        200: {"model": ReceiptOut, "description": "the same event again (idempotent)"},
        **PROBLEMS,
    },
    openapi_extra=EVENT_BODY.openapi,
    summary="Append one signed event",
)
async def post_event(
    write: Annotated[tuple[AppState, Principal, SignedEvent], Depends(EVENT_BODY)],
) -> Any:
    # served by EventFastPath below; this route documents it (OpenAPI) and serves an app built
    # without it (create_app(..., fast_path=False)): both run EVENT_BODY, then _append
    return await _append(*write)


async def _append(state: AppState, principal: Principal, ev: SignedEvent) -> JSONResponse:
    check_actor(principal, ev.actor)
    receipt: Receipt = await state.ledger.submit_async(ev)
    # answer the receipt directly (ReceiptOut documents it), no re-validation
    return JSONResponse(receipt.to_json(), status_code=201 if receipt.created else 200)


class EventFastPath:
    """ASGI middleware: ``POST /v1/events`` without FastAPI's routing, dependency resolution and
    response machinery, which cost more per request than the Ed25519 check. It runs exactly the
    route's steps (``EVENT_BODY``: token and write, media type and size, strict parse; then
    ``_append``) and renders every refusal with the app's own exception handlers, so the answer
    is the route's, byte for byte (tests/api/test_fast_path.py). Every other request, including
    other methods and paths under ``/v1/events``, passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/events" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response: Response = await _append(*await EVENT_BODY(request))
        except Exception as exc:
            response = await _rendered(request, exc)
        await response(scope, receive, send)


async def _rendered(request: Request, exc: Exception) -> Response:
    """The response the app's exception handlers give for ``exc``."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc  # pragma: no cover - problems.install registers a handler for Exception


@router.post(
    "/batch",
    response_model=BatchOut,
    responses=PROBLEMS,
    openapi_extra=BATCH_BODY.openapi,
    summary="Append up to 1000 signed events, each accepted or refused on its own, in order",
)
async def post_batch(
    state: State, principal: BatchWriteAuth, doc: Annotated[Any, Depends(BATCH_BODY)]
) -> BatchOut:
    if not isinstance(doc, dict) or set(doc) != {"events"} or not isinstance(doc["events"], list):
        raise HttpProblem("bad_request", 'send {"events": [signed event, ...]}')
    if len(doc["events"]) > state.settings.max_batch_events:
        raise HttpProblem(
            "too_large", f"at most {state.settings.max_batch_events} events per batch; split it"
        )
    # one write per event, the whole batch or nothing, before any event is applied
    charge_writes(state, principal, len(doc["events"]))
    items: list[BatchItem | None] = []
    valid = []
    for obj in doc["events"]:
        try:
            ev = event_from_json(obj)
            check_actor(principal, ev.actor)
        except LedgerError as e:
            items.append(_problem_item(e.code, e.message))
            continue
        except HttpProblem as e:
            items.append(_problem_item(e.code, e.detail))
            continue
        valid.append((len(items), ev))
        items.append(None)
    results = await run_in_threadpool(state.ledger.append_many, [ev for _, ev in valid])
    failed: StorageError | None = None
    for (i, _), result in zip(valid, results, strict=True):
        if isinstance(result, Receipt):
            items[i] = BatchItem(
                status=201 if result.created else 200,
                receipt=ReceiptOut(seq=result.seq, hash=result.hash, lots=result.lots),
            )
        elif isinstance(result, StorageError):
            failed = failed or result  # logged once per batch, not once per event
            items[i] = _problem_item("storage_error", storage_detail(result))
        else:
            items[i] = _problem_item(result.code, result.message)
    if failed is not None:
        log_storage_error("POST", "/v1/events/batch", failed)
    return BatchOut(results=[item for item in items if item is not None])


def _problem_item(code: str, detail: str) -> BatchItem:
    return BatchItem(status=status_of(code), problem=Problem(**problem(code, detail)))


@router.get(
    "/{event_hash}",
    response_model=EventOut,
    responses=PROBLEMS,
    summary="A signed event with its inclusion proof against the latest checkpoint",
)
def get_event(event_hash: str, state: State, principal: Auth) -> EventOut:
    seq, ev = state.ledger.event(event_hash)
    if not may_see_event(view_of(state, principal), seq, ev):
        raise HttpProblem("not_found", f"no event with hash {event_hash!r}")
    cp = state.ledger.checkpoint()
    index, size, proof = state.ledger.inclusion_proof(ev.hash, cp.size)
    return EventOut(
        seq=seq,
        hash=ev.hash,
        event=dict(ev.envelope),
        proof=InclusionProofOut(index=index, size=size, proof=b64(proof)),
        checkpoint=cp.note,
    )
