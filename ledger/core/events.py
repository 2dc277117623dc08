"""The signed event (spec §3): parsing, canonical bytes, hash, signing input, and signing.

``parse_event`` turns untrusted bytes into a :class:`SignedEvent` or raises ``invalid_event``
naming the JSON path at fault and what to send instead (the schema is ``ledger.core.schema``).
``sign``/``sign_event`` build events the same way partners do, so the library never produces an
event its own parser would refuse. Nothing here reads a clock: the signer passes ``time``.

Canonical bytes: a validated event has only ASCII object keys (fixed member names, element
symbols, lot ids), no floats and only the integer ``1``, so the standard library's C encoder with
sorted keys and no ASCII escaping emits exactly RFC 8785 (the argument of ``canonical.jcs``; a
Hypothesis test in tests/core/test_events.py proves equality with the ``rfc8785`` package). The
envelope is encoded ONCE with its signature; since ``sig``, ``time`` and ``type`` are the last
three members in key order and hold plain ASCII, the signing input is that text with the
``"sig"`` member cut out of the known tail.

Choices (made where the original SPEC was silent; normative in docs/spec.md):
    * Mass ``"0"`` is allowed only for ``lot.receive`` (total transit loss: the lot becomes
      consumed) and ``lot.adjust`` (written off: consumed). ``lot.create``, ``lot.ship``,
      transform inputs and outputs and ``credit.allocate`` ``kg`` must be > 0.
    * Masses may carry trailing zeros (``"1.50"``, the spec regex allows them); state stores the
      canonical form of :func:`format_mass`.
    * Free-text members (names, material, process, reason, scheme, statement, document kind and
      ref) are non-empty strings of at most 4096 characters; ``credit.allocate`` ``site`` may be
      ``""`` (the account of a transform whose site had no name).
    * ``roles`` and ``keys`` are non-empty lists without repeats; ``inputs`` and ``outputs`` are
      non-empty, their lots distinct, and no output is also an input. ``composition`` may be
      ``{}`` (known: none of the listed elements). ``documents`` may be ``[]``.
    * ``country`` must be an officially assigned ISO 3166-1 alpha-2 code, ``element`` one of the
      118 named elements.
    * Times are real UTC instants (no leap second ``:60``); ``key.revoke``'s
      ``compromised_since`` may not be after the event's own ``time``. ``lot.attest`` ``expires``
      is not compared with ``time`` (backdated records of expired attestations are allowed).
    * ``prev`` may only name lots the event touches (its ``lot``, or the transform's inputs);
      anything else is ``invalid_event`` here. A missing head is ``stale_head`` in the rules.
    * ``id`` is any UUID in lowercase canonical text form (any version).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import canonical, keys
from .schema import check_envelope
from .values import field_error

__all__ = [
    "SIGNING_PREFIX",
    "SignedEvent",
    "build_event",
    "checked_event",
    "event_from_json",
    "parse_event",
    "sign",
    "sign_event",
    "stored_event",
    "verify_signature",
]

SIGNING_PREFIX = b"ltl/v1/event\n"
_b64decode = base64.urlsafe_b64decode
_sha256 = hashlib.sha256
_fail = field_error

# Same settings as canonical.jcs's fast path; see the module docstring for why it is JCS here.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
)


@dataclass(frozen=True, slots=True)
class SignedEvent:
    """A schema-valid signed event (its signature is NOT checked here: see ``rules``).

    ``envelope`` (and ``prev``/``body`` inside it) must be treated as read-only.
    """

    id: str
    type: str
    actor: str
    kid: str
    time: str
    prev: Mapping[str, str]
    body: Mapping[str, Any]
    sig: bytes
    envelope: Mapping[str, Any]
    canonical: bytes
    signing_input: bytes
    hash: str

    def __hash__(self) -> int:  # the fields hold dicts; the event hash identifies the event
        return hash(self.hash)

    @property
    def hash_bytes(self) -> bytes:
        """The 32 raw bytes of the event hash (the Merkle leaf data)."""
        return bytes.fromhex(self.hash)

    @property
    def lots_touched(self) -> tuple[str, ...]:
        """The existing lots this event names in ``prev``."""
        return tuple(self.prev)

    @property
    def lots_created(self) -> tuple[str, ...]:
        """The lots this event creates (``lot.create``'s lot, a transform's outputs)."""
        if self.type == "lot.create":
            return (str(self.body["lot"]),)
        if self.type == "lot.transform":
            return tuple(str(o["lot"]) for o in self.body["outputs"])
        return ()


def event_from_json(obj: Any) -> SignedEvent:
    """Validate a decoded JSON event against spec §3 and §4 and wrap it.

    Raises:
        RuleViolation: ``invalid_event`` naming the path at fault and what to send.
    """
    env = check_envelope(obj)
    try:
        canonical_bytes = _ENCODER.encode(obj).encode("utf-8")
    except UnicodeEncodeError:
        raise _fail("event", "a string holds a lone UTF-16 surrogate; send valid Unicode") from None
    if len(canonical_bytes) > canonical.MAX_EVENT_BYTES:  # spec §2, also for decoded events
        raise _fail(
            "event",
            f"is {len(canonical_bytes)} bytes in canonical form, over the "
            f"{canonical.MAX_EVENT_BYTES}-byte limit; shorten it (e.g. fewer or shorter documents)",
        )
    return SignedEvent(
        env.id,
        env.type,
        env.actor,
        env.kid,
        env.time,
        env.prev,
        env.body,
        _b64decode(env.sig + "=="),
        obj,
        canonical_bytes,
        _signing_input(canonical_bytes, env.sig, env.time, env.type),
        _sha256(canonical_bytes).hexdigest(),
    )


def _signing_input(canonical_bytes: bytes, sig_text: str, time: str, ev_type: str) -> bytes:
    """``SIGNING_PREFIX + JCS(envelope without sig)``, cut out of ``JCS(envelope)``.

    The JCS text ends with ``,"sig":"S","time":"T","type":"Y"}`` (ASCII members, sorted), so
    the signing input is that text with the ``sig`` member removed.
    """
    tail = 21 + len(time) + len(ev_type)
    cut = tail + 9 + len(sig_text)
    if canonical_bytes[-cut:-tail] != f',"sig":"{sig_text}"'.encode():  # pragma: no cover
        raise AssertionError("canonical envelope does not end with sig, time, type")
    return SIGNING_PREFIX + canonical_bytes[:-cut] + canonical_bytes[-tail:]


def checked_event(
    obj: Mapping[str, Any], canonical_bytes: bytes, event_hash: str, sig: bytes
) -> SignedEvent:
    """The event ``event_from_json(obj)`` returned elsewhere (another process, on an identical
    copy of ``obj``) with these canonical bytes, hash and signature, NOT re-validated here.

    Only for that hand-over (``ledger verify``'s worker processes check the entries of a bundle,
    the replay runs in the command's process): it skips the schema walk and the re-encoding.
    """
    sig_text = obj["sig"]
    return SignedEvent(
        obj["id"],
        obj["type"],
        obj["actor"],
        obj["kid"],
        obj["time"],
        obj["prev"],
        obj["body"],
        sig,
        obj,
        canonical_bytes,
        _signing_input(canonical_bytes, sig_text, obj["time"], obj["type"]),
        event_hash,
    )


def stored_event(canonical_bytes: bytes, event_hash: str) -> SignedEvent:
    """An event read back from the ledger's own append-only store, NOT re-validated.

    Only for bytes this ledger validated when it accepted them (``fsck`` re-validates and
    re-hashes every stored event, and audit bundles are verified with :func:`event_from_json`):
    bulk reads (reports over thousands of lots) skip the schema walk and the re-encoding.
    """
    obj = json.loads(canonical_bytes)
    return checked_event(obj, canonical_bytes, event_hash, _b64decode(obj["sig"] + "=="))


def parse_event(data: bytes) -> SignedEvent:
    """Parse and validate one signed event from its JSON bytes (strict JSON, 64 KiB limit).

    Raises:
        RuleViolation: ``invalid_event`` for bad JSON, a schema violation or a bad value.
    """
    return event_from_json(canonical.loads(data, walk=False))


# --- building and signing -------------------------------------------------------------------


def build_event(
    *,
    type: str,
    actor: str,
    kid: str,
    body: Mapping[str, Any],
    time: str,
    prev: Mapping[str, str] | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """An unsigned envelope; ``id`` defaults to a fresh UUID4.

    Args:
        time: the event time, a spec time string; the caller reads its own clock (e.g.
            ``format_time(datetime.now(UTC))``), so the core never does.
    """
    return {
        "ltl": 1,
        "id": id if id is not None else str(uuid.uuid4()),
        "type": type,
        "actor": actor,
        "kid": kid,
        "time": time,
        "prev": dict(prev or {}),
        "body": dict(body),
    }


def sign_event(unsigned: Mapping[str, Any], private_key: keys.Ed25519PrivateKey) -> SignedEvent:
    """Sign an unsigned envelope: Ed25519 over ``SIGNING_PREFIX + JCS(envelope)``.

    Raises:
        RuleViolation: ``invalid_event`` when the envelope (or the result) is not a valid event.
    """
    if "sig" in unsigned:
        raise _fail("sig", "the envelope to sign already has a sig; remove it first")
    envelope = dict(unsigned)
    signature = private_key.sign(SIGNING_PREFIX + canonical.jcs(envelope))
    envelope["sig"] = keys.b64url_encode(signature)
    return event_from_json(envelope)


def sign(
    *,
    type: str,
    actor: str,
    key: keys.Ed25519PrivateKey,
    body: Mapping[str, Any],
    time: str,
    prev: Mapping[str, str] | None = None,
    id: str | None = None,
) -> SignedEvent:
    """Build and sign an event in one step; ``kid`` is computed from ``key``.

    Raises:
        RuleViolation: ``invalid_event`` when the result is not a valid event.
    """
    kid = keys.kid_of(keys.public_raw(key))
    unsigned = build_event(type=type, actor=actor, kid=kid, body=body, prev=prev, time=time, id=id)
    return sign_event(unsigned, key)


def verify_signature(ev: SignedEvent, pub: bytes) -> bool:
    """True when ``ev.sig`` is a valid Ed25519 signature of ``ev.signing_input`` under ``pub``."""
    return keys.verify(pub, ev.sig, ev.signing_input)
