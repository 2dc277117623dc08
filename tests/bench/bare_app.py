"""The reference of the HTTP benchmark: a bare FastAPI endpoint that does ONLY the same strict
JSON parse, JCS canonicalization and Ed25519 verification as an append, and nothing else."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ledger.core import canonical
from ledger.core.keys import b64url_decode, verify

from .common import RECYCLER, public_raw

PUB = public_raw(RECYCLER)
app = FastAPI()


@app.post("/bare", status_code=201)
async def bare(request: Request) -> JSONResponse:
    doc = canonical.loads(await request.body())
    sig = b64url_decode(doc.pop("sig"))
    ok = verify(PUB, sig, b"ltl/v1/event\n" + canonical.jcs(doc))
    return JSONResponse({"ok": ok}, status_code=201 if ok else 400)


__all__ = ["app", "json"]
