"""Certificates (spec §8): the W3C vc-di-eddsa eddsa-jcs-2022 vectors byte for byte, did:key,
named negative cases for ``verify_proof`` and properties over random subjects."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.attest.credentials import (
    CredentialError,
    _b58decode,
    _b58encode,
    add_proof,
    did_key,
    issue_certificate,
    private_key_from_multibase,
    proof_hashes,
    public_key_from_did,
    public_key_multibase,
    verification_method_of,
    verify_proof,
)
from ledger.core.canonical import jcs, loads
from ledger.core.keys import public_raw

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "vc-di-eddsa-jcs-2022" / "TestVectors"
SUITE = VECTORS / "eddsa-jcs-2022"


def _json(path: Path) -> Any:
    return loads(path.read_bytes(), allow_floats=True, max_bytes=None)


def _text(name: str) -> str:
    return (SUITE / name).read_text(encoding="utf-8").strip()


KEY_PAIR = _json(VECTORS / "keyPair.json")
UNSIGNED = _json(VECTORS / "unsigned.json")
SIGNED = _json(SUITE / "signedJCS.json")
PROOF_CONFIG = _json(SUITE / "proofConfigJCS.json")
VECTOR_KEY = private_key_from_multibase(KEY_PAIR["privateKeyMultibase"])
VECTOR_VM = PROOF_CONFIG["verificationMethod"]
VECTOR_CREATED = PROOF_CONFIG["created"]


def _vector_options() -> dict[str, Any]:
    return {k: v for k, v in SIGNED["proof"].items() if k != "proofValue"}


# --- the W3C vectors, byte for byte -------------------------------------------------------------


def test_vector_key_pair_matches_public_multibase() -> None:
    assert public_key_multibase(public_raw(VECTOR_KEY)) == KEY_PAIR["publicKeyMultibase"]


def test_vector_canonical_document() -> None:
    hashes = proof_hashes(UNSIGNED, _vector_options())
    assert hashes.canonical_document == (SUITE / "canonDocJCS.txt").read_bytes().strip()
    assert jcs(UNSIGNED) == hashes.canonical_document


def test_vector_document_hash() -> None:
    assert proof_hashes(UNSIGNED, _vector_options()).document_hash.hex() == _text("docHashJCS.txt")


def test_vector_proof_config_canonical() -> None:
    hashes = proof_hashes(UNSIGNED, _vector_options())
    assert hashes.canonical_proof_config == (SUITE / "proofCanonJCS.txt").read_bytes().strip()
    assert jcs(PROOF_CONFIG) == hashes.canonical_proof_config


def test_vector_proof_config_without_context_gets_document_context() -> None:
    options = {k: v for k, v in _vector_options().items() if k != "@context"}
    hashes = proof_hashes(UNSIGNED, options)
    assert hashes.canonical_proof_config == (SUITE / "proofCanonJCS.txt").read_bytes().strip()


def test_vector_proof_hash_and_combined_hash() -> None:
    hashes = proof_hashes(UNSIGNED, _vector_options())
    assert hashes.proof_config_hash.hex() == _text("proofHashJCS.txt")
    assert hashes.combined.hex() == _text("combinedHashJCS.txt")
    assert hashes.proof_config_hash == hashlib.sha256(hashes.canonical_proof_config).digest()


def test_vector_signature_is_reproduced() -> None:
    combined = bytes.fromhex(_text("combinedHashJCS.txt"))
    assert VECTOR_KEY.sign(combined).hex() == _text("sigHexJCS.txt")


def test_vector_proof_value() -> None:
    signature = bytes.fromhex(_text("sigHexJCS.txt"))
    assert "z" + _b58encode(signature) == _text("sigBTC58JCS.txt")
    assert _b58decode(_text("sigBTC58JCS.txt")[1:]) == signature


def test_vector_add_proof_equals_signed_document() -> None:
    signed = add_proof(UNSIGNED, VECTOR_KEY, verification_method=VECTOR_VM, created=VECTOR_CREATED)
    assert signed == SIGNED
    assert list(signed["proof"]) == list(SIGNED["proof"])  # same member order as the vector
    assert signed["proof"]["proofValue"] == _text("sigBTC58JCS.txt")
    assert "proof" not in UNSIGNED  # the input is not changed


def test_vector_signed_document_verifies() -> None:
    result = verify_proof(SIGNED)
    assert result.ok, result.reason
    assert result.reason is None
    assert result.verification_method == VECTOR_VM
    assert result.controller == "did:key:" + KEY_PAIR["publicKeyMultibase"]
    assert result.issuer_matches is False  # the vector's issuer is an https URL


# --- did:key ------------------------------------------------------------------------------------


def test_did_key_round_trip_with_vector_key() -> None:
    pub = public_raw(VECTOR_KEY)
    did = did_key(pub)
    assert did == "did:key:" + KEY_PAIR["publicKeyMultibase"]
    assert did.startswith("did:key:z6Mk")
    assert public_key_from_did(did) == pub
    assert verification_method_of(did) == VECTOR_VM
    assert public_key_from_did(VECTOR_VM) == pub


@pytest.mark.parametrize(
    "did",
    [
        pytest.param("did:web:example.com", id="not-did-key"),
        pytest.param("did:key:" + KEY_PAIR["publicKeyMultibase"][1:], id="no-multibase-z"),
        pytest.param("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0", id="bad-b58-char"),
        pytest.param("did:key:z" + _b58encode(b"\xec\x01" + bytes(range(32))), id="x25519-codec"),
        pytest.param("did:key:z" + _b58encode(b"\xed\x01" + bytes(31)), id="short-key"),
        pytest.param("did:key:z" + _b58encode(b"\xed\x01" + bytes(33)), id="long-key"),
        pytest.param("did:key:z" + _b58encode(b"\xed\x01" + bytes(32)), id="small-order-key"),
        pytest.param(
            "did:key:z" + _b58encode(b"\xed\x01" + public_raw(VECTOR_KEY)) + "#zOther",
            id="fragment-mismatch",
        ),
        pytest.param("did:key:z", id="empty"),
        pytest.param(
            "did:key:z1" + _b58encode(b"\xed\x01" + public_raw(VECTOR_KEY)), id="non-canonical"
        ),
    ],
)
def test_malformed_did_key_refused(did: str) -> None:
    with pytest.raises(CredentialError):
        public_key_from_did(did)


@given(st.binary(max_size=40))
def test_base58btc_round_trip(data: bytes) -> None:
    assert _b58decode(_b58encode(data)) == data


def test_base58btc_leading_zeros() -> None:
    assert _b58encode(b"\0\0\x01") == "112"
    assert _b58decode("112") == b"\0\0\x01"
    assert _b58encode(b"") == ""


# --- verify_proof: named negative cases ---------------------------------------------------------

OTHER_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"other issuer").digest())
OTHER_DID = did_key(public_raw(OTHER_KEY))


def _set_subject(c: dict[str, Any]) -> None:
    c["credentialSubject"]["alumniOf"] = "The School of Counterfeits"


def _set_proof_value(c: dict[str, Any]) -> None:
    sig = bytearray(_b58decode(c["proof"]["proofValue"][1:]))
    sig[0] ^= 1
    c["proof"]["proofValue"] = "z" + _b58encode(bytes(sig))


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(c: dict[str, Any]) -> None:
        target = c
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(c: dict[str, Any]) -> None:
        del c[key]

    return mutate


def _drop_proof_member(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(c: dict[str, Any]) -> None:
        del c["proof"][key]

    return mutate


NEGATIVE = [
    pytest.param(_set_subject, "signature", id="changed-credentialSubject-value"),
    pytest.param(_set(("name",), "Forged Credential"), "signature", id="changed-top-level-value"),
    pytest.param(_set_proof_value, "signature", id="changed-proofValue"),
    pytest.param(_set(("proof", "proofValue"), "z1111"), "64-byte", id="short-proofValue"),
    pytest.param(
        _set(("proof", "proofValue"), _text("sigBTC58JCS.txt")[1:]), "multibase", id="no-z-prefix"
    ),
    pytest.param(_set(("proof", "proofValue"), 42), "multibase", id="proofValue-not-string"),
    pytest.param(_drop_proof_member("proofValue"), "multibase", id="proofValue-missing"),
    pytest.param(_set(("proof", "cryptosuite"), "eddsa-rdfc-2022"), "cryptosuite", id="wrong-cs"),
    pytest.param(_set(("proof", "type"), "Ed25519Signature2020"), "type", id="wrong-proof-type"),
    pytest.param(
        _set(("proof", "verificationMethod"), verification_method_of(OTHER_DID)),
        "signature",
        id="verificationMethod-not-the-signing-key",
    ),
    pytest.param(
        _set(("proof", "verificationMethod"), "did:key:z6MkrJVnaZkeFzdQyMZ#z6MkrJVnaZkeFzdQyMZ"),
        "verificationMethod",
        id="malformed-did-key",
    ),
    pytest.param(
        _set(("proof", "verificationMethod"), "https://vc.example/issuers/5678#key-1"),
        "verificationMethod",
        id="verificationMethod-not-did-key",
    ),
    pytest.param(
        _set(("proof", "verificationMethod"), VECTOR_VM.partition("#")[0]),
        "verificationMethod",
        id="verificationMethod-without-fragment",
    ),
    pytest.param(_drop("proof"), "no proof", id="proof-removed"),
    pytest.param(_set(("proof",), [SIGNED["proof"]]), "one JSON object", id="proof-set"),
    pytest.param(_set(("proof", "created"), "2023-02-25T23:36:38Z"), "signature", id="changed-ct"),
    pytest.param(_set(("proof", "created"), "yesterday"), "dateTimeStamp", id="bad-created"),
    pytest.param(_set(("proof", "proofPurpose"), "authentication"), "proofPurpose", id="purpose"),
    pytest.param(
        _set(("proof", "@context"), ["https://www.w3.org/ns/credentials/v2"]),
        "signature",
        id="proof-context-shortened",
    ),
    pytest.param(
        _set(("@context",), ["https://www.w3.org/ns/credentials/v2"]),
        "@context",
        id="document-context-changed",
    ),
    pytest.param(_set(("proof", "extra"), "member"), "signature", id="proof-member-added"),
    pytest.param(_set(("credentialSubject", "gpa"), 3.5), "signature", id="subject-member-added"),
]


@pytest.mark.parametrize(("mutate", "reason"), NEGATIVE)
def test_tampered_vector_is_invalid(mutate: Callable[[dict[str, Any]], None], reason: str) -> None:
    credential = copy.deepcopy(SIGNED)
    mutate(credential)
    result = verify_proof(credential)
    assert not result.ok
    assert result.reason is not None and reason in result.reason, result.reason


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(None, id="none"),
        pytest.param([SIGNED], id="list"),
        pytest.param("credential", id="string"),
        pytest.param({**SIGNED, "x": float("nan")}, id="nan"),
        pytest.param({**SIGNED, "x": object()}, id="not-json"),
        pytest.param({**SIGNED, "x": "\ud800"}, id="lone-surrogate"),
    ],
)
def test_verify_proof_never_raises(credential: Any) -> None:
    result = verify_proof(credential)
    assert not result.ok and result.reason


# --- add_proof and issue_certificate ------------------------------------------------------------


def test_add_proof_refuses_mismatched_verification_method() -> None:
    with pytest.raises(CredentialError, match="signing key"):
        add_proof(
            UNSIGNED,
            VECTOR_KEY,
            verification_method=verification_method_of(OTHER_DID),
            created=VECTOR_CREATED,
        )


def test_add_proof_refuses_bad_created_and_existing_proof() -> None:
    with pytest.raises(CredentialError, match="dateTimeStamp"):
        add_proof(UNSIGNED, VECTOR_KEY, verification_method=VECTOR_VM, created="2023-02-24")
    with pytest.raises(CredentialError, match="already"):
        add_proof(SIGNED, VECTOR_KEY, verification_method=VECTOR_VM, created=VECTOR_CREATED)


def test_document_without_context_has_no_proof_context() -> None:
    doc = {"id": "urn:x", "claim": "y"}
    signed = add_proof(doc, VECTOR_KEY, verification_method=VECTOR_VM, created=VECTOR_CREATED)
    assert "@context" not in signed["proof"]
    assert verify_proof(signed).ok


SUBJECT = {
    "lot": "KR-ENC-0001",
    "material": "aluminium",
    "mass_kg": "1200.000",
    "recycled": {"post_consumer": "0.35", "pre_consumer_other": "0.10"},
}


def test_issue_certificate_shape_and_verification() -> None:
    cert = issue_certificate(
        SUBJECT,
        issuer_key=VECTOR_KEY,
        valid_from="2031-09-01T00:00:00Z",
        id="urn:uuid:00000000-0000-4000-8000-000000000001",
    )
    did = did_key(public_raw(VECTOR_KEY))
    assert cert["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert cert["type"] == ["VerifiableCredential", "RecycledContentCertificate"]
    assert cert["issuer"] == did
    assert cert["validFrom"] == "2031-09-01T00:00:00Z"
    assert cert["credentialSubject"] == SUBJECT
    assert cert["proof"]["verificationMethod"] == f"{did}#{did[len('did:key:') :]}"
    assert cert["proof"]["created"] == "2031-09-01T00:00:00Z"
    assert cert["proof"]["@context"] == cert["@context"]
    result = verify_proof(cert)
    assert result.ok and result.issuer_matches and result.controller == did
    # Deterministic: the same inputs give the same bytes.
    again = issue_certificate(
        SUBJECT, issuer_key=VECTOR_KEY, valid_from="2031-09-01T00:00:00Z", id=cert["id"]
    )
    assert jcs(again) == jcs(cert)
    # Survives a JSON round trip through the strict parser.
    assert verify_proof(loads(json.dumps(cert), allow_floats=True)).ok


def test_issue_certificate_refusals() -> None:
    kwargs: dict[str, Any] = {"valid_from": "2031-09-01T00:00:00Z", "id": "urn:x"}
    with pytest.raises(CredentialError, match="issuer_did"):
        issue_certificate(SUBJECT, issuer_key=VECTOR_KEY, issuer_did=OTHER_DID, **kwargs)
    with pytest.raises(CredentialError, match="validFrom"):
        issue_certificate(SUBJECT, issuer_key=VECTOR_KEY, valid_from="2031-13-01T00:00:00Z", id="x")
    with pytest.raises(CredentialError, match="validFrom"):
        issue_certificate(SUBJECT, issuer_key=VECTOR_KEY, valid_from="2031-09-01T00:00:00", id="x")


def test_issuer_mismatch_is_reported() -> None:
    cert = issue_certificate(
        SUBJECT, issuer_key=VECTOR_KEY, valid_from="2031-09-01T00:00:00Z", id="urn:x"
    )
    forged = add_proof(
        {k: v for k, v in cert.items() if k != "proof"},
        OTHER_KEY,
        verification_method=verification_method_of(OTHER_DID),
        created="2031-09-01T00:00:00Z",
    )
    result = verify_proof(forged)
    assert result.ok and not result.issuer_matches


# --- properties ---------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _TEXT
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=12,
)
_SUBJECTS = st.dictionaries(_TEXT, _JSON, max_size=5)


def _string_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _string_leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _string_leaves(v, (*path, i))


def _issue(subject: dict[str, Any]) -> dict[str, Any]:
    return issue_certificate(
        subject, issuer_key=VECTOR_KEY, valid_from="2031-09-01T00:00:00Z", id="urn:uuid:p"
    )


@settings(max_examples=60, deadline=None)
@given(_SUBJECTS)
def test_random_subjects_sign_and_verify(subject: dict[str, Any]) -> None:
    cert = _issue(subject)
    assert cert["credentialSubject"] == subject
    result = verify_proof(cert)
    assert result.ok, result.reason
    assert verify_proof(loads(jcs(cert), max_bytes=None)).ok


@settings(max_examples=80, deadline=None)
@given(_SUBJECTS, st.data())
def test_mutating_any_leaf_string_breaks_verification(
    subject: dict[str, Any], data: st.DataObject
) -> None:
    cert = _issue(subject)
    path = data.draw(st.sampled_from(list(_string_leaves(cert))))
    new = data.draw(_TEXT)
    target: Any = cert
    for key in path[:-1]:
        target = target[key]
    old = target[path[-1]]
    target[path[-1]] = new if new != old else old + "x"
    assert not verify_proof(cert).ok, path
