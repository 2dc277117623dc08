"""Ed25519 keys, key ids, PEM PKCS#8 files and signature verification (SPEC sections 1 and 3).

Public keys travel as base64url without padding of the raw 32 bytes; a key id (``kid``) is the
first 16 hex characters of SHA-256 of those raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import LedgerError

__all__ = [
    "Ed25519PrivateKey",
    "KeyError_",
    "b64url_decode",
    "b64url_encode",
    "generate",
    "kid_of",
    "load_private_key",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_raw",
    "save_private_key",
    "verify",
]


class KeyError_(LedgerError):  # noqa: N801 - avoid shadowing the builtin KeyError
    """A key file or key encoding is unusable."""

    code = "invalid_key"


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding; refuses padding, other alphabets and non-canonical tails.

    Raises:
        KeyError_: the text is not canonical unpadded base64url.
    """
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise KeyError_("not unpadded base64url")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as e:
        raise KeyError_(f"not base64url: {e}") from None
    if b64url_encode(raw) != text:
        raise KeyError_("non-canonical base64url (unused bits set)")
    return raw


def generate() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key from the operating system's CSPRNG."""
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(pub: bytes) -> str:
    """SPEC kid: first 16 hex chars of SHA-256(raw 32-byte public key)."""
    return hashlib.sha256(pub).hexdigest()[:16]


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
        KeyError_: not PEM, encrypted, or not Ed25519.
    """
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise KeyError_(f"not an unencrypted PEM PKCS#8 private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_("the PEM key is not Ed25519")
    return key


def save_private_key(key: Ed25519PrivateKey, path: str | Path) -> None:
    """Write the key as PEM PKCS#8 with mode 0600."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(private_key_to_pem(key))
    p.chmod(0o600)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read a PEM PKCS#8 Ed25519 private key file.

    Raises:
        KeyError_: unreadable or not an Ed25519 PEM key.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyError_(f"cannot read key file {path}: {e.strerror}") from e
    return private_key_from_pem(data)


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
