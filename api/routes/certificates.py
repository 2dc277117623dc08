"""Certificates (SPEC §8): issue, fetch as JSON, PDF or HTML, and verify (public)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ledger.certificates import issue, verify_certificate
from ledger.render import certificate_html, certificate_pdf

from ..auth import Auth, view_of
from ..problems import ApiError
from ..routes.events import _PROBLEMS
from ..state import AppState, get_state

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])
State = Annotated[AppState, Depends(get_state)]


class CertificateIn(BaseModel):
    lot: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$")
    model: str | None = Field(default=None, pattern="^(controlled_blending|mass_balance)$")
    as_of: date | None = None


class VerifyIn(BaseModel):
    credential: dict[str, Any]
    bundle: dict[str, Any] | None = None


class VerifyOut(BaseModel):
    valid: bool
    issuer: str | None
    lot: str | None
    recomputed: bool
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    bundle: dict[str, Any] | None = None


def _key(state: AppState) -> Any:
    if state.attest_key is None:
        raise ApiError(
            "storage_error",
            "this ledger has no attestation key (attest.pem in "
            "LEDGER_KEY_DIR); certificates cannot be issued",
        )
    return state.attest_key


@router.post(
    "",
    status_code=201,
    responses={**_PROBLEMS, 503: _PROBLEMS[400]},  # 503: no attestation key configured
    summary="Issue a recycled-content certificate (W3C VC, eddsa-jcs-2022)",
)
async def create(body: CertificateIn, state: State, principal: Auth) -> Any:
    view = view_of(state, principal)
    if view is not None and view.get(body.lot, -1) is not None:
        # a partner certifies only lots of its own custody history
        raise ApiError(
            "not_found",
            f"no lot {body.lot!r} in this ledger (or not in {principal.party!r}'s custody history)",
        )
    credential, bundle = await run_in_threadpool(
        issue,
        state.ledger,
        body.lot,
        issuer_key=_key(state),
        as_of=body.as_of,
        model=body.model,
    )
    state.ledger.store.add_certificate(
        credential["id"],
        body.lot,
        json.dumps(credential),
        json.dumps(bundle),
        credential["validFrom"],
    )
    return JSONResponse(credential, status_code=201)


@router.post(
    "/verify",
    summary="Verify a certificate (and recompute it from its bundle)",
    response_model=VerifyOut,
    responses={400: _PROBLEMS[400], 413: _PROBLEMS[413]},
)
async def verify(body: VerifyIn, state: State) -> Any:
    issuers = [] if state.attest_did is None else [state.attest_did]
    report = await run_in_threadpool(
        verify_certificate,
        body.credential,
        body.bundle,
        log_keys=[state.ledger.log_signer.verifier],
        issuers=issuers,
        config=state.ledger.config,
    )
    return JSONResponse(report.to_json())


def _stored(state: AppState, cert_id: str, principal: Any) -> dict[str, Any]:
    credential, _ = _stored_with_bundle(state, cert_id, principal)
    return credential


def _stored_with_bundle(
    state: AppState, cert_id: str, principal: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    raw = state.ledger.store.certificate(cert_id)
    if raw is None:
        raise ApiError("not_found", f"no certificate {cert_id!r}")
    credential: dict[str, Any] = json.loads(raw[0])
    view = view_of(state, principal)
    if view is not None and credential["credentialSubject"]["lot"] not in view:
        raise ApiError("not_found", f"no certificate {cert_id!r}")
    return credential, json.loads(raw[1])


def _verification(state: AppState, credential: dict[str, Any], bundle: dict[str, Any]) -> Any:
    """The certificate checked against the bundle it was computed from (what the page shows)."""
    return verify_certificate(
        credential,
        bundle,
        log_keys=[state.ledger.log_signer.verifier],
        issuers=[] if state.attest_did is None else [state.attest_did],
        config=state.ledger.config,
    )


@router.get(
    "/{cert_id}.pdf",
    responses=_PROBLEMS,
    response_class=Response,
    summary="The certificate as a PDF with a QR code to its verification page",
)
def as_pdf(cert_id: str, request: Request, state: State, principal: Auth) -> Response:
    credential = _stored(state, cert_id, principal)
    pdf = certificate_pdf(credential, verify_url=_html_url(request, cert_id))
    return Response(pdf, media_type="application/pdf")


@router.get(
    "/{cert_id}.html",
    responses=_PROBLEMS,
    response_class=HTMLResponse,
    summary="The certificate as a web page with a QR code",
)
def as_html(cert_id: str, request: Request, state: State, principal: Auth) -> HTMLResponse:
    credential, bundle = _stored_with_bundle(state, cert_id, principal)
    report = _verification(state, credential, bundle)
    return HTMLResponse(
        certificate_html(
            credential, verify_url=_html_url(request, cert_id), verification=report.to_text()
        )
    )


@router.get("/{cert_id}", responses=_PROBLEMS, summary="The certificate (the credential JSON)")
def as_json(cert_id: str, state: State, principal: Auth) -> Any:
    return JSONResponse(_stored(state, cert_id, principal))


def _html_url(request: Request, cert_id: str) -> str:
    return str(request.url_for("as_html", cert_id=cert_id))
