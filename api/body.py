"""Request bodies: the ONE way a route reads one (spec §9.1, §9.5).

A route that takes a body declares exactly one body dependency (:class:`RawJson`,
:class:`StrictJson` or :class:`ModelJson`; the console's HTML forms :class:`FormBody`), after
its authentication, and nothing else reads
the request: no route declares a FastAPI body parameter (FastAPI's own parser would let
duplicate member names and ``NaN`` through, with no size limit). Every body therefore passes the
same checks, in this order:

1. ``Content-Type`` is ``application/json``, alone or with ``charset=utf-8``; anything else —
   a missing header, ``text/plain``, another charset or parameter, a ``+json`` type, a
   ``Content-Encoding`` — is 415 ``unsupported_media_type``;
2. the body is read as a stream and refused with 413 ``too_large`` as soon as it passes the
   route's limit (a declared ``Content-Length`` over the limit before anything is read);
3. it is parsed by the strict parser of spec §2.1 (:func:`ledger.core.canonical.loads`):
   duplicate member names, ``NaN``/``Infinity``, lone surrogates, integers beyond 2^53-1 and
   nesting deeper than 32 are 400 (events and batches: ``invalid_event``, other bodies:
   ``bad_request``). Events and batches refuse fractions too; other bodies may carry them
   (credentials may, spec §2.1 rule 6).

Each dependency also carries the route's OpenAPI ``requestBody`` and its 400/413/415 answers
(``openapi_extra=BODY.openapi``). tests/api/test_bodies.py walks ``app.routes`` and fails on a
route that takes a body any other way.

The console's forms (spec §9.10) are the one non-JSON body: :class:`FormBody` takes
``application/x-www-form-urlencoded`` only (415 otherwise, or with a ``Content-Encoding``), reads
it through the same streamed limit (413), and parses it strictly: UTF-8, at most the fields the
form declares, each at most once, every field the form needs present (400 ``bad_request``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import BaseModel, ValidationError

from ledger.core import canonical
from ledger.errors import RuleViolation

from .deps import PROBLEMS, AppState, State
from .limits import read_body
from .problems import HttpProblem, validation_detail

__all__ = [
    "FORM_MEDIA_TYPE",
    "JSON_MEDIA_TYPE",
    "FormBody",
    "JsonBody",
    "ModelJson",
    "RawJson",
    "StrictJson",
    "check_media_type",
]

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

_M = TypeVar("_M", bound=BaseModel)
Limit = int | Callable[[AppState], int]


def _accepted(value: str, expected: str = JSON_MEDIA_TYPE) -> bool:
    """``expected`` with at most a ``charset=utf-8`` parameter (case-insensitive)."""
    media, *params = value.split(";")
    if media.strip().lower() != expected:
        return False
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() != "charset" or val.strip().strip('"').lower() != "utf-8":
            return False
    return True


def check_media_type(request: Request, media: str = JSON_MEDIA_TYPE) -> None:
    """Refuse a body that is not declared as ``media`` (plain UTF-8 JSON by default) (415).

    Raises:
        HttpProblem: ``unsupported_media_type``.
    """
    headers = request.headers
    value = headers.get("content-type")
    if value != media:  # the common case costs one comparison
        types = headers.getlist("content-type")
        if len(types) != 1 or not _accepted(types[0], media):
            got = "no Content-Type" if not types else "Content-Type " + ", ".join(types)[:100]
            what = "JSON" if media == JSON_MEDIA_TYPE else "an HTML form"
            raise HttpProblem(
                "unsupported_media_type",
                f"this route reads {what}, and the request has {got}: send the body as UTF-8 "
                f"with 'Content-Type: {media}' (optionally '; charset=utf-8')",
                headers={"Accept-Post": media},
            )
    encoding = headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() != "identity":
        raise HttpProblem(
            "unsupported_media_type",
            f"the body has Content-Encoding {encoding[:40]!r}: send it uncompressed",
            headers={"Accept-Encoding": "identity"},
        )


class JsonBody:
    """What every body dependency shares: its limit, its OpenAPI schema and the raw read."""

    def __init__(self, *, limit: Limit, schema: dict[str, Any], hint: str) -> None:
        """
        Args:
            limit: the largest body in bytes, or a function of the app state (a setting).
            schema: the JSON Schema of the body, for OpenAPI.
            hint: what to do with a body over the limit (the end of the 413 detail).
        """
        self.limit = limit
        self.schema = schema
        self.hint = hint

    @property
    def openapi(self) -> dict[str, Any]:
        """The route's ``openapi_extra``: its request body and the answers every body can get."""
        return {
            "requestBody": {
                "required": True,
                "content": {JSON_MEDIA_TYPE: {"schema": self.schema}},
            },
            "responses": {
                str(status): {
                    "description": description,
                    "content": PROBLEMS[400]["content"],
                }
                for status, description in (
                    (400, "Bad Request"),
                    (413, "Content Too Large"),
                    (415, "Unsupported Media Type"),
                )
            },
        }

    def max_bytes(self, state: AppState) -> int:
        return self.limit if isinstance(self.limit, int) else self.limit(state)

    async def read(self, request: Request, state: AppState) -> bytes:
        """The body's bytes, checked for its media type and size (415, 413)."""
        check_media_type(request)
        return await read_body(request, self.max_bytes(state), self.hint)


class RawJson(JsonBody):
    """The body's bytes, for a caller that parses them with the strict parser itself
    (``parse_event``: one strict parse, no second pass on the hot path)."""

    async def __call__(self, request: Request, state: State) -> bytes:
        return await self.read(request, state)


class StrictJson(JsonBody):
    """The body parsed strictly (spec §2.1)."""

    def __init__(
        self,
        *,
        limit: Limit,
        schema: dict[str, Any],
        hint: str,
        code: str = "bad_request",
        allow_floats: bool = True,
    ) -> None:
        """
        Args:
            code: the problem code of a strict-JSON violation (``invalid_event`` for events).
            allow_floats: accept JSON fractions (not in events, spec §2.1 rule 6).
        """
        super().__init__(limit=limit, schema=schema, hint=hint)
        self.code = code
        self.allow_floats = allow_floats

    def parse(self, raw: bytes) -> Any:
        try:
            return canonical.loads(raw, allow_floats=self.allow_floats, max_bytes=None)
        except RuleViolation as e:
            if self.code == e.code:
                raise
            raise HttpProblem(self.code, e.message) from None

    async def __call__(self, request: Request, state: State) -> Any:
        return self.parse(await self.read(request, state))


class ModelJson(StrictJson, Generic[_M]):
    """The body parsed strictly, then validated as ``model`` (400 ``bad_request`` naming the
    members at fault)."""

    def __init__(self, model: type[_M], *, limit: Limit, hint: str) -> None:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        if "$defs" in schema:  # pragma: no cover - none of the request models nests one
            raise AssertionError(f"{model.__name__}: a request model may not nest models")
        super().__init__(limit=limit, schema=schema, hint=hint)
        self.model = model

    async def __call__(self, request: Request, state: State) -> _M:
        doc = self.parse(await self.read(request, state))
        try:
            return self.model.model_validate(doc)
        except ValidationError as e:
            raise HttpProblem("bad_request", validation_detail(e.errors(), ("body",))) from None


class FormBody:
    """An HTML form of the console (``application/x-www-form-urlencoded``), parsed strictly:
    the fields in ``fields`` at most once each, nothing else, those in ``required`` present."""

    def __init__(
        self, *, fields: tuple[str, ...], required: tuple[str, ...] = (), limit: int = 4096
    ) -> None:
        self.fields = frozenset(fields)
        self.required = required
        self.limit = limit

    async def __call__(self, request: Request) -> dict[str, str]:
        check_media_type(request, FORM_MEDIA_TYPE)
        raw = await read_body(request, self.limit, "a console form is small: reload the page")
        try:
            text = raw.decode("utf-8", errors="strict")
            pairs = parse_qsl(
                text, keep_blank_values=True, strict_parsing=bool(text), errors="strict"
            )
        except (UnicodeDecodeError, ValueError):
            raise HttpProblem(
                "bad_request", "the form is not UTF-8 url-encoded: reload the page and submit it"
            ) from None
        form: dict[str, str] = {}
        for name, value in pairs:
            if name not in self.fields:
                raise HttpProblem("bad_request", f"the form has an unknown field {name[:40]!r}")
            if name in form:
                raise HttpProblem("bad_request", f"the form has the field {name!r} twice")
            form[name] = value
        missing = [name for name in self.required if name not in form]
        if missing:
            raise HttpProblem("bad_request", f"the form lacks {', '.join(missing)}: reload it")
        return form
