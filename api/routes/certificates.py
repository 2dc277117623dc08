"""Certificates (spec §8, §9.8): issue, list, revoke and read them with a token under
``/v1/certificates``; read them WITHOUT a token at their capability URL ``/c/{uuid}`` (HTML page,
``.json``, ``.pdf``, ``/status``) and their status lists at ``/status/{n}``; verify one (public).

A certificate's public URL is its credential ``id``, ``<LEDGER_PUBLIC_URL>/c/<uuid>``: the UUID is
random (122 bits), so the URL is a capability — whoever was handed the certificate (or scanned
its QR code) may read it; nobody can guess another. Listing certificates needs a token and
follows the partner visibility rule (spec §9.4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ledger.attest.certificates import CertificateReport, judge_status, verify_certificate
from ledger.attest.render import LANGS, certificate_html, certificate_pdf
from ledger.client.models import (
    CertificateIn,
    CertificateList,
    CertificateStatusOut,
    RevokeIn,
    VerifyIn,
    VerifyOut,
)
from ledger.core.values import UUID_RE
from ledger.errors import NotFound
from ledger.service.certificates import CertificateRecord

from ..body import ModelJson
from ..deps import PROBLEMS, Admin, AppState, Auth, State
from ..problems import HttpProblem
from ..views import (
    attest_key,
    bundle_json,
    certificates_page,
    credential_json,
    issue_certificate,
    issuer_name,
    public_base,
    public_url_of,
    stored_certificate,
)

__all__ = ["ISSUE_BODY", "VERIFY_BODY", "public", "router"]

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])
#: the routes a stranger uses: no token
public = APIRouter(tags=["public"])

ISSUE_BODY = ModelJson(CertificateIn, limit=64 * 1024, hint="a certificate request is small")
REVOKE_BODY = ModelJson(RevokeIn, limit=4 * 1024, hint="a revocation reason is short")
#: a credential with its bundle: as large as a batch may be (the largest body this server
#: reads); larger bundles are verified offline (``ledger certificate verify``)
VERIFY_BODY = ModelJson(
    VerifyIn,
    limit=lambda state: state.settings.max_batch_bytes,
    hint="verify a certificate with a bundle this large offline (`ledger certificate verify`)",
)
CertId = Annotated[str, Path(description="urn:uuid:<uuid>, or the bare UUID of its public URL")]
Uuid = Annotated[str, Path(description="the UUID of the certificate's public URL")]
Lang = Annotated[
    str,
    Query(
        pattern=f"^({'|'.join(re.escape(x) for x in LANGS)})$",
        description="labels: en, ko or en+ko",
    ),
]
_UUID = re.compile(UUID_RE.pattern)
#: a credential served as such (VC 2.0 §6.3 media type)
#: a W3C Verifiable Credential (VC Data Model 2.0) secured with a Data Integrity proof
#: (eddsa-jcs-2022): spec §8 says its members; ``ledger certificate verify`` checks it
CREDENTIAL: dict[str, Any] = {
    "type": "object",
    "description": "a W3C Verifiable Credential (VC Data Model 2.0) with a Data Integrity proof "
    "(eddsa-jcs-2022), spec §8",
    "required": ["@context", "type", "issuer", "credentialSubject", "proof"],
    "properties": {
        "@context": {"type": "array", "items": {"type": "string"}},
        "id": {"type": "string"},
        "type": {"type": "array", "items": {"type": "string"}},
        "issuer": {},
        "credentialSubject": {"type": "object"},
        "proof": {"type": "object", "required": ["type", "cryptosuite", "proofValue"]},
    },
}


class VcResponse(JSONResponse):
    """A credential, served as ``application/vc``."""

    media_type = "application/vc"


_VC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/vc": {"schema": CREDENTIAL}}}
}
_CREDENTIAL_JSON = {"content": {"application/json": {"schema": CREDENTIAL}}}
_PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a PDF document",
        "content": {
            "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}
        },
    }
}
#: a stranger's page: no script, no outside resource, no referrer (the URL is a capability),
#: not indexed, always revalidated (its status changes)
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-cache",
}


# ---------------------------------------------------------------------- with a token
@router.post(
    "",
    status_code=201,
    # 503: no attestation key or public URL
    responses={201: _CREDENTIAL_JSON, **PROBLEMS, 503: PROBLEMS[400]},
    openapi_extra=ISSUE_BODY.openapi,
    summary="Issue a recycled-content certificate (W3C VC, eddsa-jcs-2022)",
)
async def create(
    request: Request,
    state: State,
    principal: Auth,
    body: Annotated[CertificateIn, Depends(ISSUE_BODY)],
) -> Any:
    credential = await run_in_threadpool(
        issue_certificate, state, principal, body.lot, as_of=body.as_of, model=body.model
    )
    return JSONResponse(credential, status_code=201)


@router.get(
    "",
    response_model=CertificateList,
    responses=PROBLEMS,
    summary="Issued certificates, by id (a partner sees those of lots it may read)",
)
def list_certificates(
    request: Request,
    state: State,
    principal: Auth,
    lot: Annotated[str | None, Query(max_length=1024)] = None,
    after: Annotated[
        str | None, Query(pattern=f"^urn:uuid:{UUID_RE.pattern}$", description="cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CertificateList:
    return certificates_page(
        state, principal, str(request.base_url), lot=lot, after=after, limit=limit
    )


@router.post(
    "/verify",
    summary="Verify a certificate (and recompute it from its bundle)",
    response_model=VerifyOut,
    responses={400: PROBLEMS[400], 413: PROBLEMS[413]},
    openapi_extra=VERIFY_BODY.openapi,
)
async def verify(state: State, body: Annotated[VerifyIn, Depends(VERIFY_BODY)]) -> Any:
    report = await run_in_threadpool(_verify_posted, state, body.credential, body.bundle)
    return JSONResponse(report.to_json())


def _verify_posted(
    state: AppState, credential: dict[str, Any], bundle: dict[str, Any] | None
) -> CertificateReport:
    """A posted certificate checked against this ledger's keys; its status too when it is one
    this ledger issued (the same credential, byte for byte in JCS)."""
    status = None
    ident = credential.get("id")
    found = _UUID.search(ident.rsplit("/", 1)[-1]) if isinstance(ident, str) else None
    if found is not None:
        try:
            record = state.ledger.certificates.record(found.group(0))
        except NotFound:
            record = None
        if record is not None and credential_json(record) == credential:
            status = state.ledger.certificates.status(record.id).to_json()
    return _verification(state, credential, bundle, status)


@router.post(
    "/{cert_id}/revoke",
    response_model=CertificateStatusOut,
    responses=PROBLEMS,
    openapi_extra=REVOKE_BODY.openapi,
    summary="Revoke a certificate (admin; final, recorded append-only, published)",
)
def revoke(
    cert_id: CertId,
    state: State,
    principal: Admin,
    body: Annotated[RevokeIn, Depends(REVOKE_BODY)],
) -> CertificateStatusOut:
    status = state.ledger.certificates.revoke(cert_id, reason=body.reason, by=principal.party)
    return CertificateStatusOut(**status.to_json())


def _verification(
    state: AppState,
    credential: dict[str, Any],
    bundle: dict[str, Any] | None,
    status: Mapping[str, Any] | None,
) -> CertificateReport:
    """The certificate checked against this ledger's log key and attestation did:key."""
    return verify_certificate(
        credential,
        bundle,
        log_keys=[state.ledger.log_signer.verifier],
        issuers=[] if state.attest_did is None else [state.attest_did],
        config=state.ledger.config,
        status=status,
    )


def _page_report(state: AppState, record: CertificateRecord) -> CertificateReport:
    """The stored certificate verified against its stored bundle, with its current status.
    The bundle check is the expensive part and never changes: it is kept (256 at most)."""
    status = state.ledger.certificates.status(record.id).to_json()
    credential = credential_json(record)
    reports, lock = state.certificate_reports, state.certificate_reports_lock
    with lock:
        cached: CertificateReport | None = reports.get(record.id)
    if cached is None:
        cached = _verification(state, credential, bundle_json(record), None)
        with lock:
            reports[record.id] = cached
            while len(reports) > 256:
                reports.popitem(last=False)
    report = CertificateReport(
        errors=list(cached.errors),
        warnings=[w for w in cached.warnings if w[0] != "status_unchecked"],
        issuer=cached.issuer,
        lot=cached.lot,
        signed=cached.signed,
        recomputed=cached.recomputed,
        bundle=cached.bundle,
    )
    judge_status(report, credential, status)
    return report


def _pdf(state: AppState, request: Request, record: CertificateRecord, lang: str) -> Response:
    pdf = certificate_pdf(
        credential_json(record),
        verify_url=public_url_of(state, str(request.base_url), record),
        lang=lang,
        status=state.ledger.certificates.status(record.id).to_json(),
    )
    return Response(pdf, media_type="application/pdf", headers={"X-Robots-Tag": "noindex"})


def _html(state: AppState, request: Request, record: CertificateRecord, lang: str) -> HTMLResponse:
    report = _page_report(state, record)
    page = certificate_html(
        credential_json(record),
        verify_url=public_url_of(state, str(request.base_url), record),
        verification=report.to_text(),
        status=report.status,
        lang=lang,
    )
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get(
    "/{cert_id}.pdf",
    responses={**_PDF, **PROBLEMS},
    response_class=Response,
    summary="The certificate as a PDF with a QR code to its public page",
)
def as_pdf(
    cert_id: CertId, request: Request, state: State, principal: Auth, lang: Lang = "en+ko"
) -> Response:
    return _pdf(state, request, stored_certificate(state, principal, cert_id), lang)


@router.get(
    "/{cert_id}.html",
    responses=PROBLEMS,
    response_class=HTMLResponse,
    summary="The certificate as a web page with a QR code",
)
def as_html(
    cert_id: CertId, request: Request, state: State, principal: Auth, lang: Lang = "en+ko"
) -> HTMLResponse:
    return _html(state, request, stored_certificate(state, principal, cert_id), lang)


@router.get(
    "/{cert_id}/status",
    response_model=CertificateStatusOut,
    responses=PROBLEMS,
    summary="The certificate's status (spec §8.9)",
)
def status_of(cert_id: CertId, state: State, principal: Auth) -> CertificateStatusOut:
    record = stored_certificate(state, principal, cert_id)
    return CertificateStatusOut(**state.ledger.certificates.status(record.id).to_json())


@router.get(
    "/{cert_id}",
    responses={200: _CREDENTIAL_JSON, **PROBLEMS},
    summary="The certificate (the credential JSON)",
)
def as_json(cert_id: CertId, state: State, principal: Auth) -> Any:
    return JSONResponse(credential_json(stored_certificate(state, principal, cert_id)))


# ---------------------------------------------------------------------- without a token
def _capability(state: AppState, uuid: str) -> CertificateRecord:
    """The certificate whose public URL holds ``uuid`` (404 for anything else)."""
    if not _UUID.fullmatch(uuid):
        raise HttpProblem("not_found", "no such certificate: check the address you were given")
    return state.ledger.certificates.record(uuid)


@public.get(
    "/c/{uuid}.json",
    responses={**_VC, 404: PROBLEMS[404]},
    response_class=VcResponse,
    summary="A certificate's credential JSON (public: its URL is the capability)",
)
def public_json(uuid: Uuid, state: State) -> Any:
    record = _capability(state, uuid)
    return JSONResponse(
        credential_json(record), media_type="application/vc", headers={"X-Robots-Tag": "noindex"}
    )


@public.get(
    "/c/{uuid}.pdf",
    responses={**_PDF, 400: PROBLEMS[400], 404: PROBLEMS[404]},
    response_class=Response,
    summary="A certificate as a PDF (public)",
)
def public_pdf(uuid: Uuid, request: Request, state: State, lang: Lang = "en+ko") -> Response:
    return _pdf(state, request, _capability(state, uuid), lang)


@public.get(
    "/c/{uuid}/status",
    response_model=CertificateStatusOut,
    responses={404: PROBLEMS[404]},
    summary="A certificate's status: valid, superseded (by which) or revoked (public)",
)
def public_status(uuid: Uuid, state: State) -> Any:
    record = _capability(state, uuid)
    body = CertificateStatusOut(**state.ledger.certificates.status(record.id).to_json())
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-cache"})


@public.get(
    "/c/{uuid}",
    responses={400: PROBLEMS[400], 404: PROBLEMS[404]},
    response_class=HTMLResponse,
    summary="A certificate's page: what it certifies, verified, with its status (public)",
)
def public_html(uuid: Uuid, request: Request, state: State, lang: Lang = "en+ko") -> HTMLResponse:
    return _html(state, request, _capability(state, uuid), lang)


@public.get(
    "/status/{number}",
    responses={**_VC, 400: PROBLEMS[400], 404: PROBLEMS[404], 503: PROBLEMS[400]},
    response_class=VcResponse,
    summary="A W3C Bitstring Status List credential of this ledger's certificates (public)",
)
def status_list(
    number: Annotated[int, Path(ge=1, le=1_000_000)], request: Request, state: State
) -> Any:
    base = public_base(state)
    if base is None:
        raise HttpProblem("not_found", f"no status list {number}: this ledger has no public URL")
    credential = state.ledger.certificates.status_list(
        number, issuer_key=attest_key(state), public_url=base, issuer_name=issuer_name(state)
    )
    return JSONResponse(
        credential, media_type="application/vc", headers={"Cache-Control": "no-cache"}
    )
