"""The OpenAPI document types everything: every request body, every 2xx and 4xx answer (problems
as ``Problem``), the event bodies as a union discriminated by ``type``; and it is a valid
OpenAPI 3.1 document (``openapi-spec-validator``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from api.app import create_app
from ledger.core.json_schema import documents, event_name
from ledger.core.values import EVENT_TYPES
from ledger.service.settings import Settings
from tests.support.ledgers import ORIGIN, open_ledger, openapi_document

#: keywords that make a schema say something about its value
_TYPING = {"$ref", "oneOf", "anyOf", "allOf", "const", "enum", "properties", "items"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


DOC = openapi_document()


def _typed(schema: Any) -> bool:
    """A schema that constrains its value: not missing, not ``{}``, not a bare object."""
    if not isinstance(schema, dict) or not schema:
        return False
    if _TYPING & schema.keys():
        return True
    kind = schema.get("type")
    return kind is not None and kind != "object"


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            yield f"{method.upper()} {path}", op


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"].startswith("3.1")
    validate(DOC)


def test_every_body_and_answer_has_a_schema() -> None:
    untyped = []
    for name, op in _operations():
        body = op.get("requestBody")
        if body is not None:
            for media, content in body["content"].items():
                if not _typed(content.get("schema")):
                    untyped.append(f"{name} request {media}")
        for status, answer in op["responses"].items():
            if not status.startswith(("2", "4")) or status == "204":
                continue
            content = answer.get("content")
            if not content:
                untyped.append(f"{name} {status}: no content")
                continue
            for media, item in content.items():
                if not _typed(item.get("schema")):
                    untyped.append(f"{name} {status} {media}: {item.get('schema')}")
                if status.startswith("4") and media != "application/problem+json":
                    continue
                if status.startswith("4"):
                    assert item["schema"] == PROBLEM, (name, status)
            if status.startswith("4"):
                assert "application/problem+json" in content, (name, status)
    assert not untyped, "\n".join(untyped)


def test_event_bodies_are_a_union_discriminated_by_type() -> None:
    components = DOC["components"]["schemas"]
    event = components["Event"]
    assert event["discriminator"]["propertyName"] == "type"
    assert set(event["discriminator"]["mapping"]) == set(EVENT_TYPES)
    assert len(event["oneOf"]) == len(EVENT_TYPES)
    for t in EVENT_TYPES:
        variant = components[event_name(t)]
        assert variant["properties"]["type"]["const"] == t
        body = components[variant["properties"]["body"]["$ref"].rsplit("/", 1)[-1]]
        assert body["additionalProperties"] is False and body["properties"]
    post = DOC["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert post["schema"] == {"$ref": "#/components/schemas/Event"}
    batch = DOC["paths"]["/v1/events/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["properties"]["events"]["items"] == {
        "$ref": "#/components/schemas/Event"
    }


def test_schemas_are_served_as_in_docs(tmp_path: Any) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/served.db")
    try:
        with TestClient(create_app(Settings(origin=ORIGIN), ledger=ledger)) as client:
            index = client.get("/v1/schemas").json()
            names = [item["name"] for item in index["items"]]
            assert names == list(documents())
            for item in index["items"]:
                resp = client.get(item["url"])
                assert resp.status_code == 200
                assert resp.headers["content-type"] == "application/schema+json"
                assert resp.json() == documents()[item["name"]]
                assert resp.json()["$id"] == item["id"]
            missing = client.get("/v1/schemas/lot.teleport")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json()["code"] == "not_found"
    finally:
        ledger.close()
