"""The witness over HTTP: ``POST /add-checkpoint`` (text in, cosignature lines out) and ``GET /``.

Refusals are ``text/plain`` with the reason, except a 409, whose body is the witness's current
size and whose ``Content-Type`` is ``text/x.tlog.size`` (c2sp.org/tlog-witness).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .witness import MAX_BODY_BYTES, Refusal, WitnessService

__all__ = ["SIZE_TYPE", "create_app"]

#: Content type of the 409 body that tells the witness's current size.
SIZE_TYPE = "text/x.tlog.size"


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise Refusal(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise Refusal(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(service: WitnessService) -> Starlette:
    """The witness app for ``service``."""

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _body(request)
            line = await run_in_threadpool(service.add_checkpoint, body)
        except Refusal as e:
            if e.status == 409 and e.size is not None:
                return Response(f"{e.size}\n", status_code=409, headers={"Content-Type": SIZE_TYPE})
            return PlainTextResponse(e.message + "\n", status_code=e.status)
        return PlainTextResponse(line)

    async def health(_request: Request) -> Response:
        return PlainTextResponse(f"tlog-witness {service.signer.witness.vkey}\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/", health, methods=["GET"]),
        ]
    )
