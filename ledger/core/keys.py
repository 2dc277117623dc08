"""Ed25519 keys, key ids, PEM PKCS#8 encoding and signature verification (spec §1 and §3).

Public keys travel as base64url without padding of the raw 32 bytes; a key id (``kid``) is the
first 16 hex characters of SHA-256 of those raw bytes. Keys are checked at registration with
:func:`check_registrable_public_key` (canonical encoding, not of small order). Reading and writing
key files is not done here (the core does no I/O): see ``ledger.client.keyfile``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import LedgerError

__all__ = [
    "Ed25519PrivateKey",
    "KeyFormatError",
    "b64url_decode",
    "b64url_encode",
    "check_registrable_public_key",
    "generate",
    "key_object",
    "kid_of",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_raw",
    "verify",
]


class KeyFormatError(LedgerError):
    """A key encoding (base64url text, PEM) is unusable."""

    code = "invalid_key"


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding; refuses padding, other alphabets and non-canonical tails.

    Raises:
        KeyFormatError: the text is not canonical unpadded base64url.
    """
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise KeyFormatError("not unpadded base64url")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as e:
        raise KeyFormatError(f"not base64url: {e}") from None
    if b64url_encode(raw) != text:
        raise KeyFormatError("non-canonical base64url (unused bits set)")
    return raw


def generate() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key from the operating system's CSPRNG."""
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(pub: bytes) -> str:
    """spec kid: first 16 hex chars of SHA-256(raw 32-byte public key)."""
    return hashlib.sha256(pub).hexdigest()[:16]


def key_object(key: Ed25519PrivateKey | Ed25519PublicKey) -> dict[str, str]:
    """The spec key object ``{"kid", "alg": "Ed25519", "pub"}`` of a key's public half (what
    ``party.register`` and ``key.add`` carry)."""
    pub = public_raw(key)
    return {"kid": kid_of(pub), "alg": "Ed25519", "pub": b64url_encode(pub)}


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    """PEM PKCS#8, unencrypted."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(data: bytes) -> Ed25519PrivateKey:
    """Load a PEM PKCS#8 Ed25519 private key.

    Raises:
        KeyFormatError: not PEM, encrypted, or not Ed25519.
    """
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFormatError(f"not an unencrypted PEM PKCS#8 private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError("the PEM key is not Ed25519")
    return key


@lru_cache(maxsize=4096)
def _public_key(pub: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(pub)


def verify(pub: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 (RFC 8032) verification. Returns False for any malformed key or signature."""
    if len(pub) != 32 or len(signature) != 64:
        return False
    try:
        _public_key(pub).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Registration checks on Edwards25519 points (pure Python) ---------------------------------
# Runs once per key registration, so clarity beats speed. The curve is -x^2 + y^2 = 1 + d*x^2*y^2
# over GF(p); points are extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z
# (RFC 8032 section 5.1.4).

_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

_Point = tuple[int, int, int, int]
_IDENTITY: _Point = (0, 1, 1, 0)


def _point_add(a: _Point, b: _Point) -> _Point:
    """Complete (unified) addition; also doubles."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    pa = (y1 - x1) * (y2 - x2) % _P
    pb = (y1 + x1) * (y2 + x2) % _P
    pc = 2 * t1 * t2 * _D % _P
    pd = 2 * z1 * z2 % _P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _scalar_mult(k: int, point: _Point) -> _Point:
    """[k]point by double-and-add (not constant time: public inputs only)."""
    result = _IDENTITY
    while k:
        if k & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        k >>= 1
    return result


def _is_identity(point: _Point) -> bool:
    x, y, z, _ = point
    return x % _P == 0 and (y - z) % _P == 0


def _decode_point(pub: bytes) -> _Point:
    """Strict RFC 8032 section 5.1.3 decoding of a 32-byte point encoding.

    Raises:
        KeyFormatError: y >= p, x = 0 with the sign bit set (both non-canonical encodings), or the
            bytes do not encode a point on the curve.
    """
    n = int.from_bytes(pub, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= _P:
        raise KeyFormatError("public key is a non-canonical encoding (y >= 2^255-19)")
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    # Candidate square root of u/v (RFC 8032 section 5.1.3 step 2), then fix or refuse.
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx != u:
        if vxx != -u % _P:
            raise KeyFormatError("public key does not encode a point on the Ed25519 curve")
        x = x * _SQRT_M1 % _P
    if x == 0 and sign:
        raise KeyFormatError("public key is a non-canonical encoding (x = 0 with the sign bit set)")
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _is_canonical_point(pub: bytes) -> bool:
    """True when ``pub`` is the canonical encoding of a curve point."""
    try:
        _decode_point(pub)
    except KeyFormatError:
        return False
    return True


def _is_small_order(point: _Point) -> bool:
    """True for the 8 points of order dividing the cofactor: [8]point is the identity."""
    return _is_identity(_scalar_mult(8, point))


def check_registrable_public_key(pub: bytes) -> None:
    """Refuse a raw Ed25519 public key that must not be registered (GUIDE, security).

    A key is refused when it is not 32 bytes, is not the canonical encoding of a curve point
    (y >= p, x = 0 with the sign bit set, or off the curve), or is one of the 8 small-order points
    (the identity and the points of order 2, 4 and 8), for which signatures prove nothing.
    Keys with a prime-order part plus a low-order component cannot be told apart by a blocklist
    and are accepted, as every generated key is.

    Raises:
        KeyFormatError: the key is unusable; the message says why.
    """
    if not isinstance(pub, bytes) or len(pub) != 32:
        raise KeyFormatError("an Ed25519 public key is exactly 32 raw bytes")
    if _is_small_order(_decode_point(pub)):
        raise KeyFormatError(
            "public key is a small-order point (order 1, 2, 4 or 8): it cannot bind a signer; "
            "generate a new key pair"
        )
