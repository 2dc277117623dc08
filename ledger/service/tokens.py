"""API bearer tokens: issued per party with a role, stored only as their SHA-256 (spec §9)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from ..core.values import PARTY_ID_RE, TOKEN_ROLES, format_time
from ..errors import LedgerError
from ..store.protocol import Store, TokenRecord

__all__ = [
    "Principal",
    "TokenError",
    "check_token_request",
    "create_token",
    "hash_token",
    "lookup_token",
]


class TokenError(LedgerError):
    """A token request that cannot be honoured."""

    code = "invalid_token_request"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token speaks for."""

    party: str
    role: str
    token_hash: str


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its UTF-8 text."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_token_request(party: str, role: str) -> None:
    """Refuse an unknown role or a malformed party id (``TokenError``), before any database."""
    if role not in TOKEN_ROLES:
        raise TokenError(f"role must be one of {', '.join(TOKEN_ROLES)}, not {role!r}")
    if not PARTY_ID_RE.fullmatch(party):
        raise TokenError(f"{party!r} is not a party id")


def create_token(store: Store, party: str, role: str) -> str:
    """Issue a new token for ``party`` with ``role``; returns the token (shown once).

    Raises:
        TokenError: unknown role or malformed party id.
        StorageError: the token could not be stored.
    """
    check_token_request(party, role)
    token = "ltl_" + secrets.token_urlsafe(32)
    created = format_time(datetime.now(UTC))
    store.add_token(TokenRecord(hash_token(token), party, role, created))
    return token


def lookup_token(store: Store, token: str, *, hashed: bool = False) -> Principal | None:
    """The principal of a live token (``hashed``: ``token`` is its SHA-256 already), or None
    for an unknown or revoked one."""
    h = token if hashed else hash_token(token)
    found = store.token(h)
    return None if found is None else Principal(found.party, found.role, h)
