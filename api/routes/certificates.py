"""Certificates (spec §8): issue, fetch as JSON, PDF or HTML, and verify (public)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ledger.attest.certificates import CertificateReport, verify_certificate
from ledger.attest.render import certificate_html, certificate_pdf
from ledger.client.models import CertificateIn, VerifyIn, VerifyOut
from ledger.core.keys import Ed25519PrivateKey
from ledger.service.tokens import Principal

from ..body import ModelJson
from ..deps import PROBLEMS, AppState, Auth, State, view_of
from ..problems import HttpProblem

__all__ = ["ISSUE_BODY", "VERIFY_BODY", "router"]

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])

ISSUE_BODY = ModelJson(CertificateIn, limit=64 * 1024, hint="a certificate request is small")
#: a credential with its bundle: as large as a batch may be (the largest body this server
#: reads); larger bundles are verified offline (``ledger certificate verify``)
VERIFY_BODY = ModelJson(
    VerifyIn,
    limit=lambda state: state.settings.max_batch_bytes,
    hint="verify a certificate with a bundle this large offline (`ledger certificate verify`)",
)


def _key(state: AppState) -> Ed25519PrivateKey:
    if state.attest_key is None:
        raise HttpProblem(
            "storage_error",
            "this ledger has no attestation key (attest.pem in "
            "LEDGER_KEY_DIR); certificates cannot be issued",
        )
    return state.attest_key


@router.post(
    "",
    status_code=201,
    responses={**PROBLEMS, 503: PROBLEMS[400]},  # 503: no attestation key configured
    openapi_extra=ISSUE_BODY.openapi,
    summary="Issue a recycled-content certificate (W3C VC, eddsa-jcs-2022)",
)
async def create(
    state: State, principal: Auth, body: Annotated[CertificateIn, Depends(ISSUE_BODY)]
) -> Any:
    view = view_of(state, principal)
    if view is not None and view.get(body.lot, -1) is not None:
        # a partner certifies only lots of its own custody history
        raise HttpProblem(
            "not_found",
            f"no lot {body.lot!r} in this ledger (or not in {principal.party!r}'s custody history)",
        )
    credential, _ = await run_in_threadpool(
        state.ledger.issue_certificate,
        body.lot,
        issuer_key=_key(state),
        as_of=body.as_of,
        model=body.model,
    )
    return JSONResponse(credential, status_code=201)


@router.post(
    "/verify",
    summary="Verify a certificate (and recompute it from its bundle)",
    response_model=VerifyOut,
    responses={400: PROBLEMS[400], 413: PROBLEMS[413]},
    openapi_extra=VERIFY_BODY.openapi,
)
async def verify(state: State, body: Annotated[VerifyIn, Depends(VERIFY_BODY)]) -> Any:
    report = await run_in_threadpool(_verification, state, body.credential, body.bundle)
    return JSONResponse(report.to_json())


def _stored(
    state: AppState, cert_id: str, principal: Principal
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(credential, bundle) of a certificate the principal may read (404 otherwise)."""
    credential, bundle = state.ledger.certificate(cert_id)
    view = view_of(state, principal)
    if view is not None and not _within(view, credential["credentialSubject"]["lot"], bundle):
        raise HttpProblem("not_found", f"no certificate {cert_id!r}")
    return credential, bundle


def _within(view: Mapping[str, int | None], lot: str, bundle: Mapping[str, Any]) -> bool:
    """Whether a partner's view holds what the certificate was computed from (spec §9.4): the
    lot, and every event of its chain in the certificate's bundle (a certificate of an upstream
    lot issued after the partner's cut-off tells of history the partner may not see)."""
    if lot not in view:
        return False
    cut = view[lot]
    if cut is None:
        return True
    # the events after the lot's creation on its chain are those whose prev names it (§3.7);
    # its creation precedes every cut-off
    return not any(
        entry.get("seq", 0) > cut and lot in entry.get("event", {}).get("prev", {})
        for entry in bundle.get("entries", ())
    )


def _verification(
    state: AppState, credential: dict[str, Any], bundle: dict[str, Any] | None
) -> CertificateReport:
    """The certificate checked against this ledger's log key and attestation did:key."""
    return verify_certificate(
        credential,
        bundle,
        log_keys=[state.ledger.log_signer.verifier],
        issuers=[] if state.attest_did is None else [state.attest_did],
        config=state.ledger.config,
    )


@router.get(
    "/{cert_id}.pdf",
    responses=PROBLEMS,
    response_class=Response,
    summary="The certificate as a PDF with a QR code to its verification page",
)
def as_pdf(cert_id: str, request: Request, state: State, principal: Auth) -> Response:
    credential, _ = _stored(state, cert_id, principal)
    pdf = certificate_pdf(credential, verify_url=_html_url(request, cert_id))
    return Response(pdf, media_type="application/pdf")


@router.get(
    "/{cert_id}.html",
    responses=PROBLEMS,
    response_class=HTMLResponse,
    summary="The certificate as a web page with a QR code",
)
def as_html(cert_id: str, request: Request, state: State, principal: Auth) -> HTMLResponse:
    credential, bundle = _stored(state, cert_id, principal)
    report = _verification(state, credential, bundle)
    return HTMLResponse(
        certificate_html(
            credential, verify_url=_html_url(request, cert_id), verification=report.to_text()
        )
    )


@router.get("/{cert_id}", responses=PROBLEMS, summary="The certificate (the credential JSON)")
def as_json(cert_id: str, state: State, principal: Auth) -> Any:
    credential, _ = _stored(state, cert_id, principal)
    return JSONResponse(credential)


def _html_url(request: Request, cert_id: str) -> str:
    return str(request.url_for("as_html", cert_id=cert_id))
