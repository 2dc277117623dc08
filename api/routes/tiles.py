"""The log as C2SP tlog-tiles (spec §5.10), public: ``/checkpoint``, ``/tile/…``.

Full tiles never change, so they are cached for a year (``immutable``); partial tiles and the
checkpoint for a minute at most. Anything not (yet) in the tree, or a malformed path, is a 404
problem.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from ledger.core.tiles import parse_tile_path

from ..deps import PROBLEMS, State

__all__ = ["FULL_CACHE", "PARTIAL_CACHE", "router"]

router = APIRouter(tags=["tiles"])

FULL_CACHE = "public, max-age=31536000, immutable"
PARTIAL_CACHE = "public, max-age=60"

_BINARY: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the tile's bytes",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    404: PROBLEMS[404],
}


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    summary="The latest signed checkpoint at its tlog-tiles path (as GET /v1/log/checkpoint)",
)
def checkpoint(state: State) -> PlainTextResponse:
    return PlainTextResponse(
        state.ledger.cosigned_checkpoint().note, headers={"Cache-Control": "public, max-age=10"}
    )


def _tile(state: State, level: str, path: str) -> Response:
    tile = parse_tile_path(level, path)
    data = state.ledger.tile(tile)
    cache = FULL_CACHE if tile.full else PARTIAL_CACHE
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": cache})


# registered before /tile/{level}/…, which would otherwise take "entries" for a level
@router.get(
    "/tile/entries/{path:path}",
    response_class=Response,
    responses=_BINARY,
    summary="An entry bundle: the 32-byte event hashes of 256 log indexes (never event bodies)",
)
def entries(state: State, path: str) -> Response:
    return _tile(state, "entries", path)


@router.get(
    "/tile/{level}/{path:path}",
    response_class=Response,
    responses=_BINARY,
    summary="A hash tile: the tree node hashes at height 8·level (full or partial)",
)
def hashes(state: State, level: str, path: str) -> Response:
    return _tile(state, level, path)
