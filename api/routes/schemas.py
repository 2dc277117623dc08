"""``GET /v1/schemas`` and ``GET /v1/schemas/{name}`` (public): the JSON Schemas (2020-12) of the
signed envelope and of every event body, the ones ``docs/schemas/`` holds (spec §3.10).

Also :func:`install`: the same schemas as OpenAPI components (``Event``, a union discriminated by
``type``, and one ``<Type>Event`` and ``<Type>Body`` per event type), which the event routes'
request bodies reference.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from ledger.client.models import SchemaIndexOut, SchemaRef
from ledger.core.json_schema import DRAFT, documents, openapi_components, schema_id

from ..deps import PROBLEMS
from ..problems import HttpProblem

__all__ = ["SCHEMA_MEDIA_TYPE", "install", "router"]

SCHEMA_MEDIA_TYPE = "application/schema+json"
router = APIRouter(prefix="/v1/schemas", tags=["schemas"])
_DOCUMENTS = documents()


@router.get(
    "",
    response_model=SchemaIndexOut,
    summary="The JSON Schemas of the signed envelope and of every event body (no token)",
)
def list_schemas() -> SchemaIndexOut:
    return SchemaIndexOut(
        items=[
            SchemaRef(name=name, id=schema_id(name), url=f"/v1/schemas/{name}")
            for name in _DOCUMENTS
        ]
    )


class SchemaResponse(JSONResponse):
    media_type = SCHEMA_MEDIA_TYPE


@router.get(
    "/{name}",
    response_class=SchemaResponse,
    responses={
        200: {
            "description": "a JSON Schema (draft 2020-12) document",
            "content": {
                SCHEMA_MEDIA_TYPE: {
                    "schema": {
                        "type": "object",
                        "description": "a JSON Schema document (draft 2020-12)",
                        "required": ["$schema", "$id"],
                        "properties": {
                            "$schema": {"const": DRAFT},
                            "$id": {"type": "string", "format": "uri"},
                        },
                    }
                }
            },
        },
        404: PROBLEMS[404],
    },
    summary="One JSON Schema: `envelope` or an event type such as `lot.create` (no token)",
)
def get_schema(name: str) -> SchemaResponse:
    doc = _DOCUMENTS.get(name)
    if doc is None:
        raise HttpProblem(
            "not_found", f"no schema {name[:80]!r}; the names are: {', '.join(_DOCUMENTS)}"
        )
    return SchemaResponse(doc)


_PROBLEM_400 = {
    "description": "Bad Request",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _finish(doc: dict[str, Any]) -> None:
    """Add the event schemas to the components, and replace FastAPI's own 422 answer (a request
    that fails parameter validation is a 400 ``bad_request`` problem here, api/problems.py)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(openapi_components())
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            answers = op.get("responses", {})
            if _FASTAPI_422 in json.dumps(answers.get("422", {})):
                del answers["422"]
                answers.setdefault("400", _PROBLEM_400)
    if _FASTAPI_422 not in json.dumps(doc):
        schemas.pop("HTTPValidationError", None)
        if "#/components/schemas/ValidationError" not in json.dumps(doc):
            schemas.pop("ValidationError", None)


def install(app: FastAPI) -> None:
    """Finish the app's OpenAPI document (:func:`_finish`) when it is first generated."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _finish(generate())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
