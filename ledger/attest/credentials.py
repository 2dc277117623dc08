"""Verifiable certificates: W3C VC 2.0 secured with ``eddsa-jcs-2022`` and ``did:key`` (spec §8).

The cryptosuite follows W3C "Data Integrity EdDSA Cryptosuites v1.0", section 3.3 (eddsa-jcs-2022):

* transformation: ``JCS(document without proof)``;
* proof configuration: the proof options without ``proofValue``, whose ``@context`` is the
  document's ``@context`` (when the document has one), canonicalized with JCS;
* hashing: ``SHA-256(canonical proof configuration) || SHA-256(canonical document)``, 64 bytes;
* serialization: an Ed25519 signature over those 64 bytes; ``proofValue`` is ``"z"`` followed by
  the base58btc encoding of the 64-byte signature.

The issuer is a ``did:key``: ``"did:key:z" + base58btc(0xed 0x01 || raw 32-byte public key)``; its
verification method is ``did:key:z...#z...`` (the fragment repeats the multibase value).

:func:`add_proof` and :func:`verify_proof` reproduce the W3C test vectors byte for byte
(tests/attest/test_credentials.py). :func:`verify_proof` never raises for a bad credential: it
returns a :class:`ProofResult` whose ``reason`` says what failed.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core.canonical import check_value, jcs
from ..core.keys import check_registrable_public_key, public_raw, verify
from ..errors import LedgerError

__all__ = [
    "CERTIFICATE_TYPE",
    "CREDENTIALS_V2_CONTEXT",
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "CredentialError",
    "ProofHashes",
    "ProofResult",
    "add_proof",
    "did_key",
    "issue_certificate",
    "private_key_from_multibase",
    "proof_hashes",
    "public_key_from_did",
    "public_key_multibase",
    "verification_method_of",
    "verify_proof",
]

CREDENTIALS_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
CERTIFICATE_TYPE = "RecycledContentCertificate"

_ED25519_PUB_PREFIX = b"\xed\x01"  # multicodec ed25519-pub (0xed) as an unsigned varint
_ED25519_PRIV_PREFIX = b"\x80\x26"  # multicodec ed25519-priv (0x1300) as an unsigned varint
_DID_KEY = "did:key:"

# XML Schema dateTimeStamp (a dateTime with a mandatory time zone), as Data Integrity requires.
_DATETIME_STAMP = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


class CredentialError(LedgerError):
    """A credential cannot be built or signed as asked (bad key, DID, date or document)."""

    code = "invalid_credential"


# --- base58btc (Bitcoin alphabet) --------------------------------------------------------------

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


def _b58encode(data: bytes) -> str:
    """base58btc: big-endian base-58 digits, one leading ``1`` per leading zero byte."""
    n = int.from_bytes(data, "big")
    digits: list[str] = []
    while n:
        n, r = divmod(n, 58)
        digits.append(_B58_ALPHABET[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def _b58decode(text: str) -> bytes:
    """Inverse of :func:`_b58encode`.

    Raises:
        CredentialError: a character outside the base58btc alphabet.
    """
    n = 0
    for c in text:
        digit = _B58_INDEX.get(c)
        if digit is None:
            raise CredentialError(f"{c!r} is not a base58btc character")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def _multibase_decode(text: object) -> bytes:
    if not isinstance(text, str) or not text.startswith("z") or len(text) < 2:
        raise CredentialError("expected a multibase base58btc value starting with 'z'")
    return _b58decode(text[1:])


# --- did:key -----------------------------------------------------------------------------------


def public_key_multibase(pub: bytes) -> str:
    """``"z" + base58btc(0xed 0x01 || pub)``: the Multikey ``publicKeyMultibase`` of a raw key.

    Raises:
        CredentialError: ``pub`` is not 32 bytes.
    """
    if not isinstance(pub, bytes) or len(pub) != 32:
        raise CredentialError("an Ed25519 public key is exactly 32 raw bytes")
    return "z" + _b58encode(_ED25519_PUB_PREFIX + pub)


def did_key(pub: bytes) -> str:
    """The ``did:key`` of a raw 32-byte Ed25519 public key (``did:key:z6Mk...``).

    Raises:
        CredentialError: ``pub`` is not 32 bytes.
    """
    return _DID_KEY + public_key_multibase(pub)


def verification_method_of(did: str) -> str:
    """The verification method id of a ``did:key``: ``did:key:z...#z...``.

    Raises:
        CredentialError: ``did`` is not a valid Ed25519 ``did:key``.
    """
    public_key_from_did(did)
    return f"{did}#{did[len(_DID_KEY) :]}"


def public_key_from_did(did: str) -> bytes:
    """The raw 32-byte Ed25519 key of a ``did:key`` or of its verification method id.

    Accepts ``did:key:z...`` and ``did:key:z...#z...`` (the fragment must then repeat the
    multibase value). The value must be canonical base58btc, carry the multicodec prefix
    ``0xed01`` (ed25519-pub) and exactly 32 key bytes, and the key must be a canonical curve
    point that is not of small order.

    Raises:
        CredentialError: anything else, with the reason.
    """
    if not isinstance(did, str) or not did.startswith(_DID_KEY):
        raise CredentialError("not a did:key (expected 'did:key:z...')")
    value, sep, fragment = did[len(_DID_KEY) :].partition("#")
    if sep and fragment != value:
        raise CredentialError("the did:key verification method fragment must repeat the key")
    raw = _multibase_decode(value)
    if "z" + _b58encode(raw) != value:
        raise CredentialError("the did:key is not canonical base58btc")
    if raw[:2] != _ED25519_PUB_PREFIX:
        raise CredentialError("the did:key is not an Ed25519 key (multicodec 0xed01 expected)")
    pub = raw[2:]
    if len(pub) != 32:
        raise CredentialError(f"the did:key holds {len(pub)} key bytes, not 32")
    try:
        check_registrable_public_key(pub)
    except LedgerError as e:
        raise CredentialError(f"the did:key holds an unusable key: {e.message}") from None
    return pub


def private_key_from_multibase(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a Multikey ``secretKeyMultibase`` (multicodec 0x1300).

    Raises:
        CredentialError: not base58btc multibase, wrong multicodec or wrong length.
    """
    raw = _multibase_decode(text)
    if raw[:2] != _ED25519_PRIV_PREFIX or len(raw) != 34:
        raise CredentialError("not an Ed25519 secret key (multicodec 0x1300 + 32 bytes)")
    return Ed25519PrivateKey.from_private_bytes(raw[2:])


# --- the cryptosuite ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofHashes:
    """The intermediate values of eddsa-jcs-2022 hashing (W3C vectors name each one).

    Attributes:
        canonical_document: ``JCS(document without proof)``.
        canonical_proof_config: ``JCS(proof options without proofValue, with @context)``.
        document_hash: SHA-256 of ``canonical_document``.
        proof_config_hash: SHA-256 of ``canonical_proof_config``.
    """

    canonical_document: bytes
    canonical_proof_config: bytes
    document_hash: bytes
    proof_config_hash: bytes

    @property
    def combined(self) -> bytes:
        """The 64 bytes that are signed: ``proof_config_hash || document_hash``."""
        return self.proof_config_hash + self.document_hash


@dataclass(frozen=True)
class ProofResult:
    """The outcome of :func:`verify_proof`.

    Attributes:
        ok: the proof is well formed and its signature verifies.
        reason: why not (``None`` when ``ok``).
        verification_method: the proof's verification method, when one could be read.
        controller: the ``did:key`` that signed (``None`` unless the key could be read).
        issuer_matches: the credential's ``issuer`` (string or ``{"id": ...}``) is that DID.
            Certificates of this ledger require it; foreign credentials (the W3C vector) may not.
    """

    ok: bool
    reason: str | None = None
    verification_method: str | None = None
    controller: str | None = None
    issuer_matches: bool = False


def _check_datetime_stamp(value: Any, name: str) -> None:
    if not isinstance(value, str) or not _DATETIME_STAMP.fullmatch(value):
        raise CredentialError(
            f"{name} must be an XML Schema dateTimeStamp such as '2025-01-31T12:00:00Z'"
        )
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise CredentialError(f"{name} {value!r} is not a real date and time") from None


def _proof_config(document: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """W3C §3.3.5 proof configuration: ``options`` with the document's ``@context``."""
    if options.get("type") != PROOF_TYPE or options.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialError(f"the proof must be a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    if "created" in options:
        _check_datetime_stamp(options["created"], "proof.created")
    config = dict(options)
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


def proof_hashes(document: Mapping[str, Any], options: Mapping[str, Any]) -> ProofHashes:
    """Canonicalize and hash ``document`` (any ``proof`` member is left out) and ``options``.

    ``options`` are the proof options without ``proofValue``; their ``@context`` is replaced by
    the document's (W3C §3.3.5).

    Raises:
        CredentialError: the options are not a DataIntegrityProof/eddsa-jcs-2022 or their
            ``created`` is not a dateTimeStamp.
        RuleViolation: a value is not JSON (cannot be canonicalized).
    """
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    canonical_document = jcs(unsecured)
    canonical_config = jcs(_proof_config(unsecured, options))
    return ProofHashes(
        canonical_document=canonical_document,
        canonical_proof_config=canonical_config,
        document_hash=hashlib.sha256(canonical_document).digest(),
        proof_config_hash=hashlib.sha256(canonical_config).digest(),
    )


def add_proof(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    *,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Secure ``document`` with a DataIntegrityProof ``eddsa-jcs-2022`` (W3C §3.3.1).

    Returns a new document (``document`` is not changed): a deep copy with a ``proof`` member
    ``{type, cryptosuite, created, verificationMethod, proofPurpose, @context?, proofValue}``;
    ``@context`` is the document's, when it has one, as the W3C vectors show.

    Args:
        document: the unsecured JSON object; it must not already carry a ``proof``.
        private_key: the Ed25519 signing key.
        verification_method: ``did:key:z...#z...`` of ``private_key``'s public key.
        created: XML Schema dateTimeStamp, e.g. ``"2023-02-24T23:36:38Z"``.
        proof_purpose: the proof purpose, ``assertionMethod`` for credentials.

    Raises:
        CredentialError: the document already has a proof, the verification method is not the
            key's did:key, or ``created`` is not a dateTimeStamp.
        RuleViolation: the document is not strict JSON (fractions are allowed).
    """
    if not isinstance(document, Mapping):
        raise CredentialError("a credential is a JSON object")
    if "proof" in document:
        raise CredentialError("the document already carries a proof; sign the unsecured form")
    if public_key_from_did(verification_method) != public_raw(private_key):
        raise CredentialError("the verification method is not the did:key of the signing key")
    if "#" not in verification_method:
        raise CredentialError("the verification method is 'did:key:z...#z...', not the DID alone")
    secured = copy.deepcopy(dict(document))
    check_value(secured, allow_floats=True)
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in secured:
        options["@context"] = copy.deepcopy(secured["@context"])
    hashes = proof_hashes(secured, options)
    signature = private_key.sign(hashes.combined)
    secured["proof"] = {**options, "proofValue": "z" + _b58encode(signature)}
    return secured


def _context_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _issuer_id(credential: Mapping[str, Any]) -> Any:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer


def verify_proof(
    credential: Any, *, expected_proof_purpose: str = "assertionMethod"
) -> ProofResult:
    """Verify the ``eddsa-jcs-2022`` DataIntegrityProof of a secured credential (W3C §3.3.2).

    Checks, in order: the credential is an object with exactly one proof object; its ``type``
    is DataIntegrityProof and ``cryptosuite`` eddsa-jcs-2022; ``created`` (if any) is a
    dateTimeStamp; ``proofPurpose`` is ``expected_proof_purpose``; ``verificationMethod`` is a
    valid Ed25519 ``did:key:z...#z...``; ``proofValue`` is ``z`` + base58btc of 64 bytes; the
    proof's ``@context`` (if any) is a prefix of the credential's, which is then replaced by it;
    and the Ed25519 signature over the recomputed hashes verifies.

    Never raises for a bad credential: returns ``ProofResult(ok=False, reason=...)``. Whether the
    signer is the credential's issuer is reported in ``issuer_matches``, not enforced here.
    """
    try:
        return _verify(credential, expected_proof_purpose)
    except (LedgerError, RecursionError, TypeError, ValueError) as e:
        message = e.message if isinstance(e, LedgerError) else str(e)
        return ProofResult(ok=False, reason=f"the credential cannot be verified: {message}")


def _verify(credential: Any, expected_proof_purpose: str) -> ProofResult:
    if not isinstance(credential, Mapping):
        return ProofResult(ok=False, reason="a credential is a JSON object")
    proof = credential.get("proof")
    if proof is None:
        return ProofResult(ok=False, reason="the credential has no proof")
    if not isinstance(proof, Mapping):
        return ProofResult(ok=False, reason="the proof must be one JSON object (no proof sets)")
    vm = proof.get("verificationMethod")
    vm_str = vm if isinstance(vm, str) else None
    if proof.get("type") != PROOF_TYPE:
        return ProofResult(False, f"proof type must be {PROOF_TYPE}", vm_str)
    if proof.get("cryptosuite") != CRYPTOSUITE:
        return ProofResult(False, f"cryptosuite must be {CRYPTOSUITE}", vm_str)
    if proof.get("proofPurpose") != expected_proof_purpose:
        return ProofResult(False, f"proofPurpose must be {expected_proof_purpose}", vm_str)
    if vm_str is None or "#" not in vm_str:
        return ProofResult(False, "verificationMethod must be 'did:key:z...#z...'", vm_str)
    try:
        pub = public_key_from_did(vm_str)
    except CredentialError as e:
        return ProofResult(False, f"verificationMethod: {e.message}", vm_str)
    did = vm_str.partition("#")[0]
    issuer_matches = _issuer_id(credential) == did

    def fail(reason: str) -> ProofResult:
        return ProofResult(False, reason, vm_str, did, issuer_matches)

    proof_value = proof.get("proofValue")
    try:
        signature = _multibase_decode(proof_value)
    except CredentialError as e:
        return fail(f"proofValue: {e.message}")
    if len(signature) != 64:
        return fail("proofValue does not hold a 64-byte Ed25519 signature")
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        proof_context = _context_list(options["@context"])
        doc_context = _context_list(unsecured.get("@context"))
        if doc_context[: len(proof_context)] != proof_context:
            return fail("the credential's @context does not start with the proof's @context")
        unsecured["@context"] = options["@context"]
    check_value(unsecured, allow_floats=True)
    check_value(options, allow_floats=True)
    hashes = proof_hashes(unsecured, options)
    if not verify(pub, signature, hashes.combined):
        return fail("the signature does not verify: the credential or its proof was changed")
    return ProofResult(True, None, vm_str, did, issuer_matches)


def issue_certificate(
    subject: Mapping[str, Any],
    *,
    issuer_key: Ed25519PrivateKey,
    issuer_did: str | None = None,
    valid_from: str,
    id: str,
    created: str | None = None,
    issuer_name: str | None = None,
    credential_status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build and sign a W3C VC 2.0 recycled-content certificate (spec §8).

    The credential is ``{"@context": [credentials/v2], "id": id, "type": ["VerifiableCredential",
    "RecycledContentCertificate"], "issuer": did, "validFrom": valid_from, "credentialSubject":
    subject}`` secured by :func:`add_proof` with verification method ``did#<multibase>`` and
    ``created`` (default: ``valid_from``).

    Args:
        subject: the credentialSubject JSON object (copied, not changed).
        issuer_key: the ledger's attestation key.
        issuer_did: the issuer's ``did:key``; defaults to the key's, and must be it if given.
        valid_from: XML Schema dateTimeStamp.
        id: the credential id (a URI, e.g. ``urn:uuid:...``).
        created: the proof's creation time; defaults to ``valid_from``.
        issuer_name: when given, ``issuer`` is ``{"id": did, "name": issuer_name}``.
        credential_status: the ``credentialStatus`` entry (spec §8.9), when there is one.

    Raises:
        CredentialError: ``issuer_did`` is not the key's did:key, or a date is malformed.
        RuleViolation: ``subject`` is not strict JSON (fractions are allowed).
    """
    did = did_key(public_raw(issuer_key))
    if issuer_did is not None and issuer_did != did:
        raise CredentialError(f"issuer_did {issuer_did!r} is not the did:key of the issuer key")
    if not isinstance(subject, Mapping):
        raise CredentialError("credentialSubject is a JSON object")
    if not isinstance(id, str) or not id:
        raise CredentialError("the credential id is a non-empty URI string")
    _check_datetime_stamp(valid_from, "validFrom")
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2_CONTEXT],
        "id": id,
        "type": ["VerifiableCredential", CERTIFICATE_TYPE],
        "issuer": did if issuer_name is None else {"id": did, "name": issuer_name},
        "validFrom": valid_from,
        "credentialSubject": copy.deepcopy(dict(subject)),
    }
    if credential_status is not None:
        credential["credentialStatus"] = dict(credential_status)
    return add_proof(
        credential,
        issuer_key,
        verification_method=verification_method_of(did),
        created=valid_from if created is None else created,
    )
