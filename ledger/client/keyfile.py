"""Private key files on a partner's disk: PEM PKCS#8, written with mode 0600.

The core (``ledger.core.keys``) encodes and decodes keys but does no I/O; these are the file
helpers a partner's tooling (this SDK, the ``ledger`` command) reads and writes keys with.
"""

from __future__ import annotations

from pathlib import Path

from ..core.keys import Ed25519PrivateKey, KeyFormatError, private_key_from_pem, private_key_to_pem

__all__ = ["load_private_key", "save_private_key"]


def save_private_key(key: Ed25519PrivateKey, path: str | Path) -> None:
    """Write the key as PEM PKCS#8 with mode 0600 (making the folder if needed)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(private_key_to_pem(key))
    p.chmod(0o600)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read a PEM PKCS#8 Ed25519 private key file.

    Raises:
        KeyFormatError: unreadable, or not an unencrypted Ed25519 PEM key.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyFormatError(f"cannot read key file {path}: {e.strerror}") from e
    return private_key_from_pem(data)
