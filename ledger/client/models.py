"""The JSON objects of the HTTP API (spec §9): what the server answers and the SDK returns.

One set of models for both sides: the server (``api/``) declares its responses with them (they
appear in /openapi.json) and the SDK (``ledger.client``) parses every answer into them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.values import (
    FORBIDDEN_TEXT_RE,
    LOT_ID_MAX,
    LOT_ID_PATTERN,
    MODELS,
    PARTY_ID_RE,
    LotStatus,
    TokenRole,
)

__all__ = [
    "BatchIn",
    "BatchItem",
    "BatchOut",
    "BundleEntry",
    "BundleOut",
    "CertificateIn",
    "CertificateList",
    "CertificateStatusOut",
    "CertificateSummary",
    "ChainItem",
    "ChainOut",
    "ComplianceOut",
    "ComplianceResultOut",
    "ConsistencyProofOut",
    "EventOut",
    "HealthOut",
    "InclusionProofOut",
    "KeyOut",
    "LineageOut",
    "LotList",
    "LotOut",
    "MethodOut",
    "OriginOut",
    "PartyList",
    "PartyOut",
    "Problem",
    "ProvenanceOut",
    "ReceiptOut",
    "RecycledContentOut",
    "RevokeIn",
    "SchemaIndexOut",
    "SchemaRef",
    "SharesOut",
    "SiteOut",
    "StepOut",
    "TokenIn",
    "TokenInfo",
    "TokenList",
    "TokenOut",
    "TrustOut",
    "VerifyIn",
    "VerifyOut",
    "WitnessHealthOut",
]

_PARTY_PATTERN = f"^{PARTY_ID_RE.pattern}$"
_LOT_PATTERN = f"^{LOT_ID_PATTERN}$"


class Problem(BaseModel):
    """RFC 9457 problem details with the spec ``code`` (members a server adds are kept)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


class ReceiptOut(BaseModel):
    """An accepted event: its log index, hash and the new head of each lot it touched."""

    seq: int
    hash: str
    lots: dict[str, str]


class BatchIn(BaseModel):
    """Up to ``max_batch_events`` signed events, applied in order."""

    events: list[dict[str, Any]]


class BatchItem(BaseModel):
    """One event's outcome: 201/200 with a receipt, or a problem."""

    status: int
    receipt: ReceiptOut | None = None
    problem: Problem | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]


class InclusionProofOut(BaseModel):
    """RFC 9162 inclusion proof; hashes in standard base64."""

    index: int
    size: int
    proof: list[str]


class ConsistencyProofOut(BaseModel):
    """RFC 9162 consistency proof; hashes in standard base64."""

    model_config = ConfigDict(populate_by_name=True)
    from_: int = Field(alias="from")
    to: int
    proof: list[str]


class EventOut(BaseModel):
    """A signed event, its log index and its inclusion proof against ``checkpoint``."""

    seq: int
    hash: str
    event: dict[str, Any]
    proof: InclusionProofOut
    checkpoint: str


class SiteOut(BaseModel):
    country: str
    name: str


class SharesOut(BaseModel):
    """Shares per category (decimal strings, 6 places, half-even), virgin and recycled total."""

    post_consumer: str
    pre_consumer_battery: str
    pre_consumer_other: str
    virgin: str
    recycled: str


class LotOut(BaseModel):
    """A lot's current state."""

    lot: str
    material: str
    mass_kg: str
    custodian: str
    status: LotStatus
    head: str
    created_seq: int
    time: str
    composition: dict[str, str] | None
    source: str | None
    site: SiteOut
    model: str
    transit_to: str | None
    transit_ship: str | None
    parents: list[str]
    shares: SharesOut
    element_shares: dict[str, SharesOut | None] | None


class LotList(BaseModel):
    items: list[LotOut]
    next: str | None


class ChainItem(BaseModel):
    seq: int
    hash: str
    event: dict[str, Any]


class ChainOut(BaseModel):
    items: list[ChainItem]
    next: str | None = None


class ProvenanceOut(BaseModel):
    """The upstream graph: nodes are lots, edges transforms (input -> output) and shipments."""

    lot: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class BundleEntry(BaseModel):
    seq: int
    event: dict[str, Any]
    proof: list[str]


class BundleOut(BaseModel):
    """The audit bundle of spec §6."""

    format: str
    lot: str
    checkpoint: str
    entries: list[BundleEntry]


class KeyOut(BaseModel):
    kid: str
    alg: str = "Ed25519"
    pub: str
    added_seq: int
    revoked_seq: int | None
    compromised_since: str | None = None


class PartyOut(BaseModel):
    id: str
    name: str
    country: str
    roles: list[str]
    feoc: bool
    registered_seq: int
    keys: list[KeyOut]


class PartyList(BaseModel):
    items: list[PartyOut]
    next: str | None


class TokenIn(BaseModel):
    party: str = Field(pattern=_PARTY_PATTERN, description="a party id")
    role: TokenRole


class TokenOut(BaseModel):
    token: str
    party: str
    role: str


class TokenInfo(BaseModel):
    """A token as the admin sees it: its id is the SHA-256 of the token (the token itself is
    never stored)."""

    id: str
    party: str
    role: str
    created_at: str
    revoked: bool


class TokenList(BaseModel):
    items: list[TokenInfo]
    next: str | None


class TrustOut(BaseModel):
    """The ledger's trust anchors (``GET /.well-known/ltl-trust``, public): pin them once."""

    origin: str = Field(description="the log's checkpoint origin")
    log_vkey: str = Field(description="the log's C2SP verifier key: checkpoints verify with it")
    issuer: str | None = Field(
        description="the attestation did:key that signs this ledger's certificates (null: this "
        "ledger issues none)"
    )


class SchemaRef(BaseModel):
    """One published JSON Schema (``GET /v1/schemas``)."""

    name: str = Field(description="`envelope`, or an event type such as `lot.create` (its body)")
    id: str = Field(description="the schema's `$id`")
    url: str = Field(description="where this ledger serves it")


class SchemaIndexOut(BaseModel):
    """The JSON Schemas (draft 2020-12) of the signed envelope and every event body."""

    items: list[SchemaRef]


class WitnessHealthOut(BaseModel):
    """One witness of the log as the log last saw it (spec §5.9)."""

    name: str
    vkey: str
    url: str
    #: the size the witness is at as far as the log knows (None: not known yet)
    last_size: int | None = None
    #: when it last cosigned, and when it was last asked (ISO times)
    last_ok: str | None = None
    last_attempt: str | None = None
    #: why its last submission failed (None after a success)
    error: str | None = None


class HealthOut(BaseModel):
    status: str
    size: int
    #: size of the latest signed checkpoint (None before the first)
    checkpoint_size: int | None = None
    #: size of the newest checkpoint cosigned by the witness quorum (by one witness when the
    #: quorum is 0); None without witnesses or before any cosigned
    cosigned_size: int | None = None
    witness_quorum: int = 0
    witnesses: list[WitnessHealthOut] = []


class OriginOut(BaseModel):
    """An origin (``lot.create``) lot and the mass it contributes to the lot (proportional)."""

    lot: str
    material: str
    source: str | None
    party: str
    country: str
    site: str
    share: str
    mass_kg: str
    exact: str = Field(description="the contributed kg as an exact rational p/q")


class StepOut(BaseModel):
    """A lineage step: create, transform, ship or receive, with party, country and kind."""

    model_config = ConfigDict(extra="allow")

    seq: int
    event: str
    type: str
    kind: Literal["extraction", "recycling", "processing", "transport"]
    party: str
    country: str | None
    lots: list[str]


class LineageOut(BaseModel):
    origins: list[OriginOut]
    steps: list[StepOut]


class MethodOut(BaseModel):
    """How a lineage step counted recycled content (a transform's model or an allocation)."""

    model_config = ConfigDict(extra="allow")

    seq: int
    event: str
    kind: Literal["transform", "credit.allocate"]
    model: str
    lots: list[str]


class ComplianceResultOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    share: str | None = None
    minimum: str | None = None
    result: Literal["pass", "fail", "n/a"]


class ComplianceOut(BaseModel):
    """One rule pack's evaluation, dated."""

    model_config = ConfigDict(extra="allow")

    scheme: str
    as_of: str
    provisional: bool
    elements: dict[str, ComplianceResultOut]
    checks: dict[str, ComplianceResultOut] | None = None


class RecycledContentOut(BaseModel):
    """The recycled-content report of spec §7 (``null`` = unknown composition or share)."""

    lot: str
    as_of: str
    material: str
    mass_kg: str
    model: str
    composition: dict[str, str] | None
    mass: SharesOut
    elements: dict[str, SharesOut | None]
    lineage: LineageOut
    method: list[MethodOut]
    compliance: list[ComplianceOut]


class CertificateIn(BaseModel):
    """A request for a recycled-content certificate of ``lot``."""

    lot: str = Field(pattern=_LOT_PATTERN, max_length=LOT_ID_MAX)
    model: str | None = Field(default=None, pattern=f"^({'|'.join(MODELS)})$")
    as_of: date | None = None


class VerifyIn(BaseModel):
    """A certificate to verify, with (optionally) the bundle it was computed from."""

    credential: dict[str, Any]
    bundle: dict[str, Any] | None = None


class VerifyOut(BaseModel):
    """A certificate verification report (spec §8.6)."""

    valid: bool
    verdict: Literal["VALID", "UNTRUSTED", "REVOKED", "SUPERSEDED", "INVALID"]
    issuer: str | None = Field(description="the issuer the credential claims")
    lot: str | None = Field(description="the lot the credential claims")
    signed: bool = Field(description="whether the proof verified (issuer and lot are signed)")
    recomputed: bool
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    bundle: dict[str, Any] | None = None
    status: dict[str, Any] | None = Field(
        default=None, description="the certificate's status (spec §8.9), when it was checked"
    )


class CertificateStatusOut(BaseModel):
    """A certificate's status (spec §8.9): ``GET /c/{uuid}/status``."""

    id: str = Field(description="the credential's id (its public page)")
    status: Literal["valid", "superseded", "revoked"]
    reason: str | None
    superseded_by: str | None = Field(
        description="the id of the newest valid certificate of the same lot, when there is one"
    )
    checked_size: int = Field(description="the log size the figures were last checked at")
    history: list[dict[str, Any]]


class CertificateSummary(BaseModel):
    """An issued certificate in a listing."""

    id: str = Field(description="urn:uuid:<uuid>")
    url: str = Field(description="the credential's id: its public page")
    lot: str
    issued_at: str
    status: Literal["valid", "superseded", "revoked"]


class CertificateList(BaseModel):
    items: list[CertificateSummary]
    next: str | None = Field(description="cursor for the next page (the last id), or null")


_FORBIDDEN = FORBIDDEN_TEXT_RE.pattern[1:-1]
_PRINTABLE = f"[^{_FORBIDDEN}]"


class RevokeIn(BaseModel):
    """Why a certificate is revoked (shown to everyone who checks it)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=1024,
        # printable (spec §1.5) and not blank: stated in the schema, so clients know it too
        pattern=f"^{_PRINTABLE}*[^{_FORBIDDEN}\\s]{_PRINTABLE}*$",
    )
