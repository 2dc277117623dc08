"""RFC 9457 problem+json: the ONE place where errors become HTTP responses.

Every refusal carries ``code`` (a spec §4 code, or one of spec §11.2: ``unauthorized``,
``not_found``, ``too_large``, ``unsupported_media_type``, ``rate_limited``, ...) and a ``detail``
that says what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError, NotFound, RuleViolation, StorageError, WriterBusy

#: renders a problem (its RFC 9457 members) as a page for a request, or None (JSON then)
ProblemPage = Callable[[Request, dict[str, Any]], Response | None]

__all__ = [
    "BUSY_RETRY_AFTER",
    "HttpProblem",
    "install",
    "log_storage_error",
    "problem",
    "status_of",
    "storage_detail",
    "validation_detail",
]

PROBLEM_TYPE = "https://ltl.example/problems/"
logger = logging.getLogger("ltl.api")

#: HTTP status per code
STATUS: dict[str, int] = {
    "invalid_event": 400,
    "bad_signature": 422,
    "unknown_party": 422,
    "unknown_key": 422,
    "key_revoked": 422,
    "forbidden": 403,
    "not_custodian": 422,
    "stale_head": 409,
    "lot_exists": 409,
    "unknown_lot": 422,
    "in_transit": 409,
    "not_in_transit": 409,
    "overdraw": 422,
    "mass_not_conserved": 422,
    "bad_time": 422,
    "duplicate_id": 409,
    "insufficient_credits": 422,
    "unauthorized": 401,
    "not_found": 404,
    "too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "bad_request": 400,
    "bad_proof": 400,
    "bad_range": 400,
    "invalid_token_request": 400,
    "storage_error": 503,
    "public_url_unset": 503,
}

TITLES = {
    "unauthorized": "Authentication required",
    "not_found": "Not found",
    "too_large": "Request too large",
    "rate_limited": "Too many requests",
    "forbidden": "Forbidden",
    "bad_request": "Bad request",
}


class HttpProblem(Exception):
    """An HTTP-level refusal raised by routes and dependencies (mapped below): ``code`` (its
    status comes from :data:`STATUS`), a ``detail`` saying what to do, and response headers."""

    def __init__(self, code: str, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def status_of(code: str) -> int:
    return STATUS.get(code, 400)


def validation_detail(errors: Sequence[Mapping[str, Any]], prefix: tuple[str, ...] = ()) -> str:
    """The ``detail`` of a validation failure: where and what, for at most five errors."""
    parts = []
    for err in errors[:5]:
        where = ".".join(str(x) for x in (*prefix, *err.get("loc", ())))
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts) or "invalid request"


def problem(code: str, detail: str, *, instance: str | None = None) -> dict[str, Any]:
    """The problem+json body for a code."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": TITLES.get(code, code.replace("_", " ").capitalize()),
        "status": status_of(code),
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    return body


def _response(
    code: str,
    detail: str,
    request: Request,
    headers: dict[str, str] | None = None,
    status: int | None = None,
) -> Response:
    body = problem(code, detail, instance=request.url.path)
    if status is not None:
        body["status"] = status
    page: ProblemPage | None = request.app.state.problem_page
    if page is not None and (html := page(request, body)) is not None:
        if headers:
            html.headers.update(headers)
        return html
    return JSONResponse(
        body,
        status_code=body["status"],
        media_type="application/problem+json",
        headers=headers,
    )


#: ``Retry-After`` (seconds) of a 503 whose write waited out another writer's lock
BUSY_RETRY_AFTER = 5


def log_storage_error(method: str, path: str, exc: StorageError) -> None:
    """Tell the operator what the client is not told: the database's own message."""
    logger.warning("storage error on %s %s: %s", method, path, exc.message)


def storage_detail(exc: StorageError) -> str:
    """What a client is told of a storage failure: what to do, never the database's own
    message (it may quote SQL and the rows of other partners' events of the same group)."""
    if isinstance(exc, WriterBusy):
        return (
            "the log's write lock was held by another writer for too long (a stalled node or a "
            "maintenance command); nothing was written — retry with the same bytes after "
            "Retry-After seconds"
        )
    return (
        "the database is unavailable or refused the write — retry later with the same "
        "bytes (an event that was committed after all answers 200 with its receipt)"
    )


def install(app: FastAPI, page: ProblemPage | None = None) -> None:
    """Register the exception handlers on ``app``; ``page`` renders a problem as an HTML page
    for the requests it claims (the console's), returning None for the others."""
    app.state.problem_page = page

    @app.exception_handler(HttpProblem)
    async def _api(request: Request, exc: HttpProblem) -> Response:
        return _response(exc.code, exc.detail, request, exc.headers)

    @app.exception_handler(RuleViolation)
    async def _rule(request: Request, exc: RuleViolation) -> Response:
        return _response(exc.code, exc.message, request)

    @app.exception_handler(NotFound)
    async def _nf(request: Request, exc: NotFound) -> Response:
        return _response("not_found", exc.message, request)

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> Response:
        log_storage_error(request.method, request.url.path, exc)
        headers = {"Retry-After": str(BUSY_RETRY_AFTER)} if isinstance(exc, WriterBusy) else None
        return _response("storage_error", storage_detail(exc), request, headers)

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> Response:
        code = exc.code if exc.code in STATUS else "bad_request"
        return _response(code, exc.message, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _response(
            "internal_error",
            "the ledger failed unexpectedly; nothing was "
            "acknowledged — retry, and report it if it persists",
            request,
            status=500,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _response("bad_request", validation_detail(exc.errors()), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {
            404: "not_found",
            401: "unauthorized",
            413: "too_large",
            415: "unsupported_media_type",
            429: "rate_limited",
            403: "forbidden",
            405: "method_not_allowed",
        }.get(exc.status_code, "bad_request")
        detail = (
            str(exc.detail)
            if exc.status_code != 404
            else (f"no route {request.method} {request.url.path}; see /openapi.json")
        )
        # keep Starlette's headers: a 405 must say ``Allow`` (RFC 9110 §15.5.6) — every method
        # of every route on this path (Starlette names only the first route's)
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return _response(code, detail, request, headers=headers, status=exc.status_code)


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the most specific route path matching the request's path."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Match

    by_path: dict[str, set[str]] = {}
    for route in iter_route_contexts(request.app.routes):
        if not route.methods:
            continue
        for method in route.methods:
            match, _ = route.matches({**request.scope, "method": method})
            if match == Match.FULL:
                by_path.setdefault(str(route.path_format), set()).update(route.methods)
                break
    if not by_path:
        return []
    best = min(by_path, key=lambda path: (path.count("{"), -len(path)))
    return sorted(by_path[best])
