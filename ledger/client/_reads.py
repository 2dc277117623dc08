"""Typed reads: every answer is parsed into its model from ``ledger.client.models``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

from ._http import _Http, lot_path
from .models import (
    BundleOut,
    CertificateList,
    CertificateStatusOut,
    ChainItem,
    ChainOut,
    ConsistencyProofOut,
    EventOut,
    HealthOut,
    InclusionProofOut,
    LotList,
    LotOut,
    PartyList,
    PartyOut,
    ProvenanceOut,
    RecycledContentOut,
    TokenInfo,
    TokenList,
    TokenOut,
    TrustOut,
    VerifyOut,
)

__all__: list[str] = []


class _Reads(_Http):
    def lot(self, lot: str) -> LotOut:
        """One lot's state (as this token may see it)."""
        return self._get(LotOut, f"/v1/lots/{lot_path(lot)}")

    def lots(
        self,
        *,
        custodian: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> LotList:
        """A page of lots in id order; pass ``next`` as ``after`` for the next page."""
        return self._get(
            LotList, "/v1/lots", custodian=custodian, status=status, after=after, limit=limit
        )

    def lot_events(self, lot: str) -> list[ChainItem]:
        """The lot's chain: its creation, then every event that named it."""
        return self._get(ChainOut, f"/v1/lots/{lot_path(lot)}/events").items

    def provenance(self, lot: str) -> ProvenanceOut:
        """The upstream graph: lots, transforms and shipments."""
        return self._get(ProvenanceOut, f"/v1/lots/{lot_path(lot)}/provenance")

    def bundle(self, lot: str) -> BundleOut:
        """The audit bundle (spec §6); verify it offline with
        ``verify_bundle(bundle.model_dump(), log_key)``."""
        return self._get(BundleOut, f"/v1/lots/{lot_path(lot)}/bundle")

    def recycled_content(self, lot: str, as_of: date | str | None = None) -> RecycledContentOut:
        """The spec §7 report of ``lot``, rule packs evaluated on ``as_of`` (default: today)."""
        day = as_of.isoformat() if isinstance(as_of, date) else as_of
        return self._get(
            RecycledContentOut, f"/v1/lots/{lot_path(lot)}/recycled-content", as_of=day
        )

    def epcis_document(self, lot: str) -> dict[str, Any]:
        """The lot's visible history as a GS1 EPCIS 2.0 JSON-LD document (spec §13.2)."""
        return self._object(self._request("GET", f"/v1/lots/{lot_path(lot)}/epcis"))

    def battery_pass(self, lot: str) -> dict[str, Any]:
        """The Battery Pass Circularity ``recycledContent`` of the lot (spec §13.3)."""
        path = f"/v1/lots/{lot_path(lot)}/battery-pass/circularity"
        return self._object(self._request("GET", path))

    def event(self, event_hash: str) -> EventOut:
        """A signed event with its inclusion proof against the latest checkpoint."""
        return self._get(EventOut, f"/v1/events/{quote(event_hash, safe='')}")

    def party_info(self, party: str) -> PartyOut:
        """A party and its key history."""
        return self._get(PartyOut, f"/v1/parties/{quote(party, safe='')}")

    def parties(self) -> list[PartyOut]:
        """Registered parties (the first 1000)."""
        return self._get(PartyList, "/v1/parties", limit=1000).items

    def checkpoint(self) -> str:
        """The latest signed checkpoint (C2SP signed note text)."""
        return self._request("GET", "/v1/log/checkpoint").text

    def tile(self, path: str) -> bytes:
        """A tlog-tiles resource (spec §5.10) by its path, e.g. ``tile/entries/000.p/5``."""
        return self._request("GET", "/" + path.lstrip("/")).content

    def inclusion_proof(self, event_hash: str, size: int | None = None) -> InclusionProofOut:
        """RFC 9162 inclusion proof of an event in the tree of ``size`` (default: latest)."""
        return self._get(InclusionProofOut, "/v1/log/proof/inclusion", hash=event_hash, size=size)

    def consistency_proof(self, size1: int, size2: int) -> ConsistencyProofOut:
        """RFC 9162 consistency proof between two tree sizes."""
        return self._get(
            ConsistencyProofOut, "/v1/log/proof/consistency", **{"from": size1, "to": size2}
        )

    def issue_certificate(
        self, lot: str, *, model: str | None = None, as_of: str | None = None
    ) -> dict[str, Any]:
        """Issue a recycled-content certificate: the signed credential (a W3C VC, kept as the
        exact JSON document its proof covers)."""
        body: dict[str, Any] = {"lot": lot}
        if model is not None:
            body["model"] = model
        if as_of is not None:
            body["as_of"] = as_of
        return self._object(self._request("POST", "/v1/certificates", json=body))

    def certificate(self, cert_id: str) -> dict[str, Any]:
        """A stored certificate (the credential JSON). ``cert_id``: its credential id (public
        URL), ``urn:uuid:`` id or UUID."""
        return self._object(self._request("GET", f"/v1/certificates/{_ref(cert_id)}"))

    def certificate_pdf(self, cert_id: str, *, lang: str | None = None) -> bytes:
        """A stored certificate rendered as a PDF (labels in ``lang``: en, ko or en+ko)."""
        params = {} if lang is None else {"lang": lang}
        path = f"/v1/certificates/{_ref(cert_id)}.pdf"
        return self._request("GET", path, params=params).content

    def certificate_html(self, cert_id: str, *, lang: str | None = None) -> str:
        """A stored certificate rendered as a web page."""
        params = {} if lang is None else {"lang": lang}
        return self._request("GET", f"/v1/certificates/{_ref(cert_id)}.html", params=params).text

    def certificates(
        self, *, lot: str | None = None, after: str | None = None, limit: int = 100
    ) -> CertificateList:
        """Issued certificates the token may read (one page; ``next`` is the cursor)."""
        params: dict[str, Any] = {"limit": limit}
        if lot is not None:
            params["lot"] = lot
        if after is not None:
            params["after"] = after
        return self._get(CertificateList, "/v1/certificates", **params)

    def certificate_status(self, cert_id: str) -> CertificateStatusOut:
        """A certificate's status: valid, superseded (by which) or revoked (spec §8.9)."""
        return self._get(CertificateStatusOut, f"/v1/certificates/{_ref(cert_id)}/status")

    def revoke_certificate(self, cert_id: str, reason: str) -> CertificateStatusOut:
        """(admin) Revoke a certificate: final, recorded append-only, published in its status
        list."""
        path = f"/v1/certificates/{_ref(cert_id)}/revoke"
        return self._model(CertificateStatusOut, "POST", path, json={"reason": reason})

    def verify_certificate(
        self, credential: Mapping[str, Any], bundle: Mapping[str, Any] | None = None
    ) -> VerifyOut:
        """Ask the server to verify a certificate (public; the offline check is
        ``ledger.attest.certificates.verify_certificate``)."""
        body: dict[str, Any] = {"credential": dict(credential)}
        if bundle is not None:
            body["bundle"] = dict(bundle)
        return self._model(VerifyOut, "POST", "/v1/certificates/verify", json=body)

    def create_token(self, party: str, role: str) -> str:
        """(admin) Issue a token for a party; the token is shown once."""
        body = {"party": party, "role": role}
        return self._model(TokenOut, "POST", "/v1/tokens", json=body).token

    def tokens(self) -> list[TokenInfo]:
        """(admin) Every token issued: its id (SHA-256), party, role and state."""
        return self._get(TokenList, "/v1/tokens").items

    def revoke_token(self, token_id: str) -> None:
        """(admin) Revoke a token by its id (the SHA-256 of the token)."""
        self._request("DELETE", f"/v1/tokens/{quote(token_id, safe='')}")

    def health(self) -> HealthOut:
        """Liveness and log size."""
        return self._get(HealthOut, "/healthz")

    def trust(self) -> TrustOut:
        """The ledger's published trust anchors: its log vkey and attestation did:key (public;
        pin them, do not re-fetch them to check what they signed)."""
        return self._get(TrustOut, "/.well-known/ltl-trust")


def _ref(cert_id: str) -> str:
    """The path segment of a certificate: the UUID of its public URL (``.../c/<uuid>``) or of
    its ``urn:uuid:`` id, URL-quoted."""
    tail = cert_id.rsplit("/c/", 1)[-1] if "://" in cert_id else cert_id
    return quote(tail, safe=":")
