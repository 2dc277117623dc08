"""Recycled-content certificates (spec §8): issued from the ledger, verified offline.

A certificate is a W3C VC 2.0 credential (``ledger.attest.credentials``) whose ``credentialSubject``
holds the lot, material, mass, custodian, model, the recycled-content report, the compliance
evaluations, and ``evidence``: the log origin, the checkpoint text and the SHA-256 of JCS of the
audit bundle the figures were computed from. The figures are computed FROM THAT BUNDLE (replayed
with the same rules), so anyone holding the certificate and the bundle recomputes every one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..audit.verify import VerificationReport, bundle_digest, replay, verify_bundle
from ..core import rules
from ..core.checkpoint import Checkpoint, Verifier
from ..core.events import event_from_json
from ..core.keys import Ed25519PrivateKey
from ..core.values import MODELS, format_mass, format_time
from ..errors import LedgerError
from .credentials import issue_certificate, verify_proof
from .lineage import ReplaySource
from .recycled import recycled_content

__all__ = [
    "CertificateReport",
    "certified_figures",
    "certify",
    "check_model",
    "judge_status",
    "subject_from_bundle",
    "verify_certificate",
]


def _replay(bundle: Mapping[str, Any], config: rules.RuleConfig) -> rules.MemoryState:
    """The bundle's entries replayed through the rules (signatures checked, proofs not);
    malformed entries are left out."""
    pairs = []
    for entry in bundle["entries"]:
        try:
            pairs.append((int(entry["seq"]), event_from_json(entry["event"])))
        except (LedgerError, KeyError, TypeError, ValueError):
            continue
    return replay(pairs, config)


def _parties(state: rules.MemoryState, named: set[str]) -> dict[str, dict[str, str]]:
    """``{party id: {"name", "country"}}`` as registered, for each named party the state knows."""
    out: dict[str, dict[str, str]] = {}
    for party_id in sorted(named):
        party = state.party(party_id)
        if party is not None:
            out[party_id] = {"name": party.name, "country": party.country}
    return out


def subject_from_bundle(
    bundle: Mapping[str, Any],
    state: rules.MemoryState,
    *,
    as_of: date,
    model: str | None = None,
) -> dict[str, Any]:
    """The credentialSubject for the bundle's lot, every figure computed from the bundle."""
    lot_id = str(bundle["lot"])
    lot = state.lot(lot_id)
    if lot is None:
        raise LedgerError(f"the bundle does not create lot {lot_id!r}", code="wrong_bundle")
    report = recycled_content(
        ReplaySource.from_entries(state, bundle["entries"]), lot_id, as_of=as_of
    )
    lineage_ = report["lineage"]
    named = {lot.custodian}
    named.update(str(o["party"]) for o in lineage_["origins"])
    for step in lineage_["steps"]:
        named.update(str(step[k]) for k in ("party", "to") if step.get(k))
    note = str(bundle["checkpoint"])
    cp = Checkpoint.parse(note.split("\n\n", 1)[0] + "\n")
    return {
        "id": f"urn:ltl:lot:{lot_id}",
        "lot": lot_id,
        "material": lot.material,
        "mass_kg": format_mass(lot.mass),
        "custodian": lot.custodian,
        "parties": _parties(state, named),
        "model": model or (lot.model if lot.model in MODELS else "controlled_blending"),
        "recycled_content": report,
        "compliance": report.get("compliance", []),
        "evidence": {
            "log_origin": cp.origin,
            "checkpoint": note,
            "bundle_sha256": bundle_digest(bundle),
        },
    }


#: the members of a recycled-content report that a certificate certifies (spec §8.9)
_CERTIFIED = ("material", "mass_kg", "composition", "mass", "elements", "compliance")
_ORIGIN = ("lot", "source", "party", "country", "share", "mass_kg")


def certified_figures(report: Mapping[str, Any]) -> dict[str, Any]:
    """What a certificate states about its lot, from its ``recycled_content`` report: the
    material, mass, composition, shares by mass and per element, compliance results and the
    origins with their contributed shares (spec §8.9). Custody, the steps of the lineage and
    the method are left out: moving a lot or issuing a certificate does not change what it is
    made of. Two reports with equal figures certify the same thing."""
    lineage = report.get("lineage") or {}
    origins = [
        {k: o.get(k) for k in _ORIGIN}
        for o in lineage.get("origins") or ()
        if isinstance(o, Mapping)
    ]
    return {**{k: report.get(k) for k in _CERTIFIED}, "origins": origins}


def check_model(model: str | None) -> None:
    """Refuse a model that is not one of :data:`~ledger.core.values.MODELS`.

    Raises:
        LedgerError: code ``bad_request``.
    """
    if model is not None and model not in MODELS:
        raise LedgerError(f"model must be one of {', '.join(MODELS)}", code="bad_request")


def certify(
    bundle: Mapping[str, Any],
    *,
    config: rules.RuleConfig,
    issuer_key: Ed25519PrivateKey,
    now: datetime,
    as_of: date | None = None,
    model: str | None = None,
    id: str | None = None,
    issuer_name: str | None = None,
    credential_status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The signed certificate of the bundle's lot, every figure computed from that bundle.

    Args:
        bundle: the lot's audit bundle (spec §6), as the ledger serves it.
        config: the ledger's rule configuration (replay tolerance).
        issuer_key: the attestation key (its ``did:key`` is the issuer).
        now: issue time (``validFrom``, whole seconds); ``as_of`` defaults to its date.
        id: the credential id (default: a random ``urn:uuid:``); the ledger uses the
            certificate's public page, ``<LEDGER_PUBLIC_URL>/c/<uuid>`` (spec §8.2).
        issuer_name, credential_status: see :func:`~ledger.attest.credentials.issue_certificate`.

    Raises:
        LedgerError: ``model`` is not one of ``controlled_blending``, ``mass_balance``
            (``bad_request``), or the bundle does not create its lot (``wrong_bundle``).
    """
    check_model(model)
    when = now
    state = _replay(bundle, config)
    subject = subject_from_bundle(bundle, state, as_of=as_of or when.date(), model=model)
    credential = issue_certificate(
        subject,
        issuer_key=issuer_key,
        valid_from=format_time(when.replace(microsecond=0)),
        id=id or f"urn:uuid:{uuid.uuid4()}",
        issuer_name=issuer_name,
        credential_status=credential_status,
    )
    return credential


@dataclass
class CertificateReport:
    """The outcome of :func:`verify_certificate`: ``ok`` only when there is no error."""

    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    #: the issuer and lot the credential CLAIMS (shown even when it does not verify)
    issuer: str | None = None
    lot: str | None = None
    #: whether the proof verified (so ``issuer`` and ``lot`` are signed by ``issuer``'s key)
    signed: bool = False
    recomputed: bool = False
    bundle: VerificationReport | None = None
    #: the certificate's status as checked online (spec §8.9), or None when not checked
    status: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def verdict(self) -> str:
        """``VALID``; ``UNTRUSTED`` (sound, but its issuer is not one the verifier trusts);
        ``REVOKED`` or ``SUPERSEDED`` (sound and trusted, but withdrawn, or its figures no longer
        hold: spec §8.9); or ``INVALID``."""
        codes = {code for code, _ in self.errors}
        if not codes:
            return "VALID"
        if codes - {"untrusted_issuer", "revoked", "superseded"}:
            return "INVALID"
        for code in ("untrusted_issuer", "revoked", "superseded"):
            if code in codes:
                return "UNTRUSTED" if code == "untrusted_issuer" else code.upper()
        raise AssertionError(codes)  # pragma: no cover

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "verdict": self.verdict,
            "issuer": self.issuer,
            "lot": self.lot,
            "signed": self.signed,
            "recomputed": self.recomputed,
            "errors": [{"code": c, "message": m} for c, m in self.errors],
            "warnings": [{"code": c, "message": m} for c, m in self.warnings],
            "bundle": None if self.bundle is None else self.bundle.to_json(),
            "status": None if self.status is None else dict(self.status),
        }

    def to_text(self) -> str:
        claimed = "" if self.signed else " (claimed, unverified)"
        lines = [
            f"certificate for lot {self.lot}{claimed}: {self.verdict}",
            f"  issuer: {self.issuer}{claimed}",
            f"  figures recomputed from the bundle: {'yes' if self.recomputed else 'no'}",
        ]
        if self.status is not None and self.status.get("status"):
            lines.append(f"  status: {self.status['status']}")
        lines += [f"  error {c}: {m}" for c, m in self.errors]
        lines += [f"  warning {c}: {m}" for c, m in self.warnings]
        return "\n".join(lines)


def _claimed(credential: Any) -> tuple[str | None, str | None]:
    """The issuer and lot a credential names, whatever else is wrong with it."""
    if not isinstance(credential, Mapping):
        return None, None
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    subject = credential.get("credentialSubject")
    lot = subject.get("lot") if isinstance(subject, Mapping) else None
    return (
        issuer if isinstance(issuer, str) else None,
        lot if isinstance(lot, str) else None,
    )


def _diff(path: str, claimed: Any, actual: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(claimed, Mapping) and isinstance(actual, Mapping):
        for key in sorted(set(claimed) | set(actual)):
            _diff(f"{path}.{key}", claimed.get(key), actual.get(key), out)
    elif isinstance(claimed, list) and isinstance(actual, list) and len(claimed) == len(actual):
        for i, (a, b) in enumerate(zip(claimed, actual, strict=True)):
            _diff(f"{path}[{i}]", a, b, out)
    elif claimed != actual:
        out.append(
            (
                "figure_mismatch",
                f"{path}: the certificate says {claimed!r}, the bundle gives {actual!r}",
            )
        )


def judge_status(
    report: CertificateReport, credential: Mapping[str, Any], status: Mapping[str, Any] | None
) -> None:
    """Step 4 of spec §8.6: the certificate's status, as checked online."""
    if status is None:
        if credential.get("credentialStatus") is not None:
            report.warnings.append(
                (
                    "status_unchecked",
                    "the certificate's status (superseded, revoked) was not checked: verify it "
                    "online (without --offline) to learn whether it still holds",
                )
            )
        return
    report.status = status
    if status.get("error"):
        report.warnings.append(
            ("status_unavailable", f"the status could not be checked: {status['error']}")
        )
        return
    state, reason = status.get("status"), status.get("reason") or "no reason recorded"
    if state == "revoked":
        report.errors.append(("revoked", f"the issuer revoked this certificate: {reason}"))
    elif state == "superseded":
        by = status.get("superseded_by")
        then = f"; the current certificate is {by}" if by else "; ask the issuer for a new one"
        report.errors.append(("superseded", f"{reason}{then}"))


def verify_certificate(
    credential: Any,
    bundle: Mapping[str, Any] | None = None,
    *,
    log_keys: Sequence[Verifier] = (),
    issuers: Sequence[str] | None = None,
    config: rules.RuleConfig | None = None,
    status: Mapping[str, Any] | None = None,
) -> CertificateReport:
    """Check a certificate's proof and, given its bundle, recompute every figure from it.

    Args:
        credential: the certificate (parsed JSON).
        bundle: the audit bundle it names in ``evidence`` (optional, but without it the
            figures are only signed, not re-derived).
        log_keys: trusted log keys; with them the bundle is verified in full (spec §6).
        issuers: trusted issuer DIDs (the ledger's attestation did:key); ``None``: trust is
            not judged (the caller knows whom it trusts); an empty list trusts nobody, so a
            sound certificate is ``UNTRUSTED``.
        status: the certificate's status as found online (spec §8.9): ``{"status": "valid" |
            "superseded" | "revoked", "reason", "superseded_by"}``, or ``{"error": why}`` when
            it could not be found; None when not checked (warning ``status_unchecked``).

    Returns:
        the report; never raises for a bad certificate or bundle.
    """
    report = CertificateReport()
    report.issuer, report.lot = _claimed(credential)
    proof = verify_proof(credential)
    if not proof.ok:
        report.errors.append(("bad_proof", f"the proof does not verify: {proof.reason}"))
        return report
    report.signed = True
    report.issuer = proof.controller
    if not proof.issuer_matches:
        report.errors.append(("issuer_mismatch", "the credential's issuer did not sign it"))
    if issuers is not None and proof.controller not in issuers:
        report.errors.append(
            (
                "untrusted_issuer",
                f"{proof.controller} is not an issuer you trust: check that it is the ledger's "
                "published attestation key (GET /.well-known/ltl-trust) and pass it with "
                "--issuer, --trust or --url",
            )
        )
    judge_status(report, credential, status)
    subject = credential.get("credentialSubject") or {}
    if bundle is None:
        report.warnings.append(
            (
                "not_recomputed",
                "no bundle given: the figures are signed by the issuer but were not re-derived",
            )
        )
        return report
    if not isinstance(bundle, Mapping) or bundle.get("lot") != subject.get("lot"):
        got = bundle.get("lot") if isinstance(bundle, Mapping) else None
        report.errors.append(
            (
                "wrong_bundle",
                f"the bundle is for lot {got!r}, the certificate "
                f"for {subject.get('lot')!r}: refused; use the certificate's bundle",
            )
        )
        return report
    evidence = subject.get("evidence") or {}
    if bundle_digest(bundle) != evidence.get("bundle_sha256"):
        report.errors.append(
            (
                "evidence_mismatch",
                "SHA-256 of JCS(bundle) differs from "
                "evidence.bundle_sha256: this is not the bundle it was computed from",
            )
        )
    if bundle.get("checkpoint") != evidence.get("checkpoint"):
        report.errors.append(
            ("evidence_mismatch", "the bundle's checkpoint is not the one in evidence.checkpoint")
        )
    cfg = config or rules.RuleConfig()
    if log_keys:
        report.bundle = verify_bundle(bundle, list(log_keys), config=cfg)
        for f in report.bundle.errors:
            report.errors.append(("bundle_invalid", f"{f.code}: {f.message}"))
        state: rules.MemoryState | None = report.bundle.state
    else:
        report.warnings.append(
            (
                "checkpoint_unchecked",
                "no log key given: the bundle's checkpoint and inclusion proofs were not checked",
            )
        )
        state = _replay(bundle, cfg)
    if state is None:
        return report
    try:
        as_of = date.fromisoformat(str((subject.get("recycled_content") or {}).get("as_of")))
        actual = subject_from_bundle(bundle, state, as_of=as_of, model=subject.get("model"))
    except (LedgerError, ValueError) as e:
        report.errors.append(("figure_mismatch", f"the figures cannot be recomputed: {e}"))
        return report
    mismatches: list[tuple[str, str]] = []
    for key in (
        "lot",
        "material",
        "mass_kg",
        "custodian",
        "parties",
        "model",
        "recycled_content",
        "compliance",
    ):
        if key == "parties" and key not in subject:
            continue  # a certificate of spec revision 2 names no parties (§12.4)
        _diff(f"credentialSubject.{key}", subject.get(key), actual.get(key), mismatches)
    report.errors.extend(mismatches)
    report.recomputed = True
    return report
