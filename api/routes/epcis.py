"""Interoperability reads of a lot (spec §13): its history as an EPCIS 2.0 document and the
Battery Pass Circularity ``recycledContent``. Both follow the visibility rule (spec §9.4) like
the other lot reads: a partner gets its view, up to its cut-off; another lot is 404.

Registered before the lots router, whose ``/{lot:path}`` would otherwise take these paths.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..deps import PROBLEMS, Auth, State, as_seen, lot_named, lot_response

__all__ = ["router"]

router = APIRouter(prefix="/v1/lots", tags=["interoperability"])


class JsonLdResponse(JSONResponse):
    """A JSON-LD document, served as ``application/ld+json``."""

    media_type = "application/ld+json"


#: the answer's shape (the whole document validates against GS1's EPCIS 2.0 JSON Schema)
_EPCIS_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "description": "A GS1 EPCIS 2.0 EPCISDocument (JSON-LD), valid against the GS1 EPCIS 2.0 "
    "JSON Schema; each event carries its CBV 2.0 eventID and the ltl: extension (spec §13.2)",
    "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
    "properties": {
        "@context": {"type": "array"},
        "type": {"const": "EPCISDocument"},
        "schemaVersion": {"const": "2.0"},
        "creationDate": {"type": "string"},
        "epcisBody": {
            "type": "object",
            "required": ["eventList"],
            "properties": {"eventList": {"type": "array", "items": {"type": "object"}}},
        },
    },
}
_SHARE = {"type": "number", "minimum": 0, "maximum": 100}
_RECYCLED_CONTENT: dict[str, Any] = {
    "type": "object",
    "description": "The recycledContent of the Battery Pass Circularity aspect 1.2.0 (spec §13.3)",
    "required": ["recycledContent"],
    "properties": {
        "recycledContent": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["preConsumerShare", "postConsumerShare", "recycledMaterial"],
                "properties": {
                    "preConsumerShare": _SHARE,
                    "postConsumerShare": _SHARE,
                    "recycledMaterial": {"enum": ["Cobalt", "Nickel", "Lithium", "Lead"]},
                },
            },
        }
    },
}


@router.get(
    "/{lot:path}/epcis",
    response_class=JsonLdResponse,
    responses={
        **PROBLEMS,
        200: {"content": {"application/ld+json": {"schema": _EPCIS_DOCUMENT}}},
    },
    summary="The lot's visible history as a GS1 EPCIS 2.0 JSON-LD document (spec §13.2)",
)
async def lot_epcis(lot: str, request: Request, state: State, principal: Auth) -> Any:
    if (whole := lot_named(request, lot, "epcis")) is not None:
        return lot_response(state, principal, whole)
    doc = await run_in_threadpool(
        as_seen, state, principal, lot, lambda cut: state.ledger.epcis_document(lot, upto=cut)
    )
    return JsonLdResponse(doc)


@router.get(
    "/{lot:path}/battery-pass/circularity",
    response_class=JSONResponse,
    responses={**PROBLEMS, 200: {"content": {"application/json": {"schema": _RECYCLED_CONTENT}}}},
    summary="The Battery Pass Circularity 1.2.0 recycledContent of the lot (spec §13.3)",
)
def lot_battery_pass(lot: str, request: Request, state: State, principal: Auth) -> Any:
    raw = request.scope.get("raw_path") or b""
    if raw and not raw.endswith(b"/battery-pass/circularity"):  # a lot id ending in those words
        return lot_response(state, principal, f"{lot}/battery-pass/circularity")
    data = as_seen(state, principal, lot, lambda cut: state.ledger.battery_pass(lot, upto=cut))
    return JSONResponse(data)
