"""The JSON Schemas (2020-12) of the signed envelope and of every event body (spec §3, §4).

Built from the checkers of :mod:`ledger.core.schema` (each carries its schema fragment), so they
say what the server's validation says, wherever JSON Schema can say it; where it cannot (UTF-8
byte limits, uniqueness by a member, a composition's sum, prev naming exactly the touched lots,
a kid derived from its key, the signature) the fragment's ``description`` says it and the schema
is looser than the server, never stricter. docs/spec.md §3.10 lists these differences.

Served at ``/v1/schemas/{name}`` and written to ``docs/schemas/<name>.json`` by
``scripts/schemas.py``. Pure data: no I/O.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .schema import BODIES, envelope_schema
from .values import EVENT_TYPES

__all__ = [
    "DRAFT",
    "ENVELOPE",
    "SCHEMA_BASE",
    "body_name",
    "documents",
    "event_name",
    "openapi_components",
    "schema_id",
]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: the base of every schema's ``$id`` (like the problem types, ``https://ltl.example/problems/``)
SCHEMA_BASE = "https://ltl.example/schemas/"
#: the name of the envelope's schema (the others are named by their event type)
ENVELOPE = "envelope"
_DEFS = "#/$defs/"
_COMPONENTS = "#/components/schemas/"


def _camel(event_type: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[._]", event_type))


def body_name(event_type: str) -> str:
    """The definition name of a body: ``lot.create`` -> ``LotCreateBody``."""
    return _camel(event_type) + "Body"


def event_name(event_type: str) -> str:
    """The definition name of an envelope of one type: ``lot.create`` -> ``LotCreateEvent``."""
    return _camel(event_type) + "Event"


def schema_id(name: str) -> str:
    return f"{SCHEMA_BASE}{name}.json"


def _definitions(ref: str) -> dict[str, dict[str, Any]]:
    """Every body and every typed envelope, the envelopes' bodies as ``$ref`` under ``ref``."""
    defs: dict[str, dict[str, Any]] = {}
    for t in EVENT_TYPES:
        defs[body_name(t)] = {
            "title": f"{t} body",
            "description": f"The body of a {t} event (spec §4).",
            **copy.deepcopy(BODIES[t].schema),
        }
    for t in EVENT_TYPES:
        defs[event_name(t)] = envelope_schema(t, {"$ref": ref + body_name(t)})
    return defs


def _union(ref: str) -> dict[str, Any]:
    return {
        "oneOf": [{"$ref": ref + event_name(t)} for t in EVENT_TYPES],
    }


_ENVELOPE_DESCRIPTION = (
    "A signed LTL/1 event envelope (spec §3), at most 65536 bytes of strict JSON (spec §2.1: "
    "no fractions, no integers beyond 2^53-1, no duplicate member names, nesting at most 32), "
    "its body a union keyed on `type` (spec §4). Unknown members are refused at any depth. "
    "Normative for structure; what JSON Schema cannot say (UTF-8 byte limits, the signature, "
    "prev naming exactly the touched lots, ...) is in the descriptions and docs/spec.md."
)


def documents() -> dict[str, dict[str, Any]]:
    """Every schema by name: ``envelope`` and one per event type (its body), each a standalone
    JSON Schema 2020-12 document with its ``$id``."""
    defs = _definitions(_DEFS)
    docs: dict[str, dict[str, Any]] = {
        ENVELOPE: {
            "$schema": DRAFT,
            "$id": schema_id(ENVELOPE),
            "title": "LTL/1 signed event",
            "description": _ENVELOPE_DESCRIPTION,
            **_union(_DEFS),
            "$defs": copy.deepcopy(defs),
        }
    }
    for t in EVENT_TYPES:
        docs[t] = {
            "$schema": DRAFT,
            "$id": schema_id(t),
            **copy.deepcopy(defs[body_name(t)]),
        }
    return docs


def openapi_components() -> dict[str, dict[str, Any]]:
    """The same schemas as OpenAPI 3.1 components: ``Event`` (a union discriminated by
    ``type``), one ``<Type>Event`` and one ``<Type>Body`` per event type."""
    components = _definitions(_COMPONENTS)
    components["Event"] = {
        "title": "Event",
        "description": _ENVELOPE_DESCRIPTION,
        **_union(_COMPONENTS),
        "discriminator": {
            "propertyName": "type",
            "mapping": {t: _COMPONENTS + event_name(t) for t in EVENT_TYPES},
        },
    }
    return components
