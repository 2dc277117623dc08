"""Certificate status with the W3C Bitstring Status List v1.0 (spec §8.9). Pure: no I/O.

Every certificate carries one ``credentialStatus`` entry of type ``BitstringStatusListEntry`` with
``statusPurpose: "revocation"``: a bit in a list of :data:`LIST_BITS` bits that the ledger
publishes as a ``BitstringStatusListCredential`` signed by the same attestation key. The bit is
set when the certificate is **superseded** (the ledger no longer supports its figures) or
**revoked** (an operator withdrew it): both are final, and both mean "do not rely on it", which
is what a generic verifier understands by ``revocation``. Which of the two, why, and the
superseding certificate are in the certificate's status record (``<credential id>/status``,
spec §8.9), which this module checks against the bit.

Encoding (Bitstring Status List v1.0 §3.1, §4): index 0 is the most significant bit of the first
byte; ``encodedList`` is ``"u"`` + base64url without padding of the GZIP-compressed bitstring;
lists hold at least 131,072 entries (16 KiB), so that a list says little about how many
certificates were issued (herd privacy); indexes are drawn at random.
"""

from __future__ import annotations

import base64
import gzip
import secrets
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..core.keys import Ed25519PrivateKey, public_raw
from .credentials import (
    CREDENTIALS_V2_CONTEXT,
    add_proof,
    did_key,
    verification_method_of,
    verify_proof,
)

__all__ = [
    "CLOCK_SKEW",
    "ENTRY_TYPE",
    "LIST_BITS",
    "LIST_CREDENTIAL_TYPE",
    "LIST_TTL",
    "PURPOSE",
    "STATUSES",
    "StatusCheck",
    "check_status",
    "decode_list",
    "encode_list",
    "entry_of",
    "pick_index",
    "status_entry",
    "status_list_credential",
]

#: entries per status list (the specification's minimum, 16 KiB)
LIST_BITS = 131_072
PURPOSE = "revocation"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
#: a certificate's statuses: ``valid`` until one of the two final ones is recorded
STATUSES = ("valid", "superseded", "revoked")
#: how long a status list is valid after it is produced (``validUntil``): the longest a copy
#: kept from before a revocation can be replayed as current
LIST_TTL = timedelta(hours=1)
#: clock skew allowed between the verifier and the ledger on ``validFrom`` and ``validUntil``
CLOCK_SKEW = timedelta(minutes=5)


def encode_list(indexes: Iterable[int], bits: int = LIST_BITS) -> str:
    """The ``encodedList`` of a list of ``bits`` entries whose ``indexes`` are set."""
    raw = bytearray(bits // 8)
    for i in indexes:
        if not 0 <= i < bits:
            raise ValueError(f"status index {i} is outside the list (0 to {bits - 1})")
        raw[i // 8] |= 0x80 >> (i % 8)
    # mtime=0: the same list always encodes to the same text
    packed = gzip.compress(bytes(raw), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_list(encoded: object) -> bytes:
    """The bitstring of an ``encodedList``.

    Raises:
        ValueError: not ``u`` + base64url, not GZIP, or shorter than 16 KiB.
    """
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError('encodedList must be a string starting with "u" (multibase base64url)')
    body = encoded[1:]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        raw = _gunzip(packed)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"encodedList is not base64url of a GZIP stream: {e}") from e
    if len(raw) * 8 < LIST_BITS:
        raise ValueError(f"the list holds {len(raw) * 8} entries, fewer than {LIST_BITS}")
    return raw


def _gunzip(packed: bytes, limit: int = 16 * LIST_BITS) -> bytes:
    """GZIP-decompress at most ``limit`` bytes (a list is not a decompression bomb)."""
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(packed, limit + 1)
    if len(out) > limit:
        raise ValueError(f"the list decompresses to more than {limit} bytes")
    return out


def pick_index(taken: Collection[int], bits: int = LIST_BITS) -> int | None:
    """A random free index of a list (None when more than half of it is taken: a list is
    never filled beyond that, so that a random draw stays cheap and a list stays a crowd)."""
    if len(taken) * 2 >= bits:
        return None
    while True:
        i = secrets.randbelow(bits)
        if i not in taken:
            return i


def status_entry(list_url: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of the certificate at ``index`` of the list at ``list_url``."""
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": PURPOSE,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(
    list_url: str,
    indexes: Iterable[int],
    *,
    issuer_key: Ed25519PrivateKey,
    issuer: str | Mapping[str, Any] | None = None,
    valid_from: str,
    valid_until: str | None = None,
) -> dict[str, Any]:
    """The signed ``BitstringStatusListCredential`` published at ``list_url``.

    Args:
        indexes: the set bits (certificates superseded or revoked).
        issuer: the certificates' ``issuer`` (the key's did:key, or ``{"id", "name"}``).
        valid_from: when the list was produced (dateTimeStamp).
        valid_until: until when it may be relied on; default ``valid_from`` + :data:`LIST_TTL`.
    """
    did = did_key(public_raw(issuer_key))
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": dict(issuer) if isinstance(issuer, Mapping) else (issuer or did),
        "validFrom": valid_from,
        "validUntil": valid_until or _plus(valid_from, LIST_TTL),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": PURPOSE,
            "encodedList": encode_list(indexes),
        },
    }
    return add_proof(
        credential, issuer_key, verification_method=verification_method_of(did), created=valid_from
    )


def _plus(stamp: str, delta: timedelta) -> str:
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + delta
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StatusCheck:
    """What a status list says about one certificate.

    ``set`` is None when the list could not be used (``error`` says why); otherwise whether the
    certificate's bit is set (superseded or revoked).
    """

    set: bool | None
    error: str | None = None
    list_url: str | None = None
    index: int | None = None


def _entry(credential: Mapping[str, Any]) -> Mapping[str, Any] | None:
    status = credential.get("credentialStatus")
    entries = status if isinstance(status, list) else [status]
    for e in entries:
        if (
            isinstance(e, Mapping)
            and e.get("type") == ENTRY_TYPE
            and e.get("statusPurpose") == PURPOSE
        ):
            return e
    return None


def entry_of(credential: Mapping[str, Any]) -> tuple[str, int] | None:
    """(status list URL, index) of a certificate's revocation entry; None when it has none.

    Raises:
        ValueError: the entry is malformed.
    """
    entry = _entry(credential)
    if entry is None:
        return None
    url, index = entry.get("statusListCredential"), entry.get("statusListIndex")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValueError("credentialStatus.statusListCredential is not an http(s) URL")
    if not isinstance(index, str) or not index.isdigit() or len(index) > 9:
        raise ValueError("credentialStatus.statusListIndex is not a decimal integer string")
    return url, int(index)


def check_status(
    credential: Mapping[str, Any], list_credential: Any, *, now: datetime | None = None
) -> StatusCheck:
    """Check a certificate's bit in its status list credential (as fetched from
    ``statusListCredential``). The list must be a ``BitstringStatusListCredential`` with the
    certificate's status purpose, published at that URL, signed (``eddsa-jcs-2022``) by the
    key that signed the certificate, and valid at ``now``. Never raises."""
    try:
        found = entry_of(credential)
    except ValueError as e:
        return StatusCheck(None, str(e))
    if found is None:
        return StatusCheck(None, "the certificate has no credentialStatus entry")
    url, index = found

    def fail(reason: str) -> StatusCheck:
        return StatusCheck(None, reason, url, index)

    if not isinstance(list_credential, Mapping):
        return fail("the status list is not a JSON object")
    if list_credential.get("id") != url:
        return fail(f"the status list's id is not {url}")
    types = list_credential.get("type")
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        return fail(f"the status list is not a {LIST_CREDENTIAL_TYPE}")
    proof = verify_proof(list_credential)
    if not proof.ok:
        return fail(f"the status list's proof does not verify: {proof.reason}")
    signer = verify_proof(credential)
    if not signer.ok or signer.controller != proof.controller:
        return fail("the status list is not signed by the certificate's issuer")
    if not proof.issuer_matches:
        return fail("the status list's issuer did not sign it")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("statusPurpose") != PURPOSE:
        return fail(f"the status list's statusPurpose is not {PURPOSE!r}")
    if now is not None:
        # fresh: produced (give or take the skew) before now, and valid until after now; a
        # list without validUntil could be replayed forever after a revocation
        if list_credential.get("validUntil") is None:
            return fail("the status list has no validUntil: its freshness cannot be judged")
        for name, late in (("validFrom", False), ("validUntil", True)):
            try:
                when = datetime.fromisoformat(str(list_credential[name]).replace("Z", "+00:00"))
            except (KeyError, ValueError):
                return fail(f"the status list's {name} is not a date-time")
            if (now > when + CLOCK_SKEW) if late else (now < when - CLOCK_SKEW):
                return fail(
                    f"the status list is not valid now ({name} {list_credential[name]}): "
                    "fetch a current one from its URL"
                )
    try:
        bits = decode_list(subject.get("encodedList"))
    except ValueError as e:
        return fail(str(e))
    if index >= len(bits) * 8:
        return fail(f"index {index} is outside the status list")
    return StatusCheck(bool(bits[index // 8] & (0x80 >> (index % 8))), None, url, index)
