"""``GET /.well-known/ltl-trust`` (public): the keys a stranger pins to trust this ledger.

A certificate verifies as VALID only against an issuer the verifier trusts; a checkpoint only
against a log key it trusts. The ledger publishes both here (RFC 8615 well-known URI), so that
``ledger certificate verify --url`` can fetch, pin and print them once, and so that a reader can
compare them with what the operator announced out of band.
"""

from __future__ import annotations

from fastapi import APIRouter

from ledger.client.models import TrustOut

from ..deps import State

__all__ = ["router"]

router = APIRouter(tags=["trust"])


@router.get(
    "/.well-known/ltl-trust",
    response_model=TrustOut,
    summary="The log's verifier key and the attestation did:key (public)",
)
def trust(state: State) -> TrustOut:
    return TrustOut(
        origin=state.ledger.origin,
        log_vkey=state.ledger.log_signer.verifier.vkey,
        issuer=state.attest_did,
    )
