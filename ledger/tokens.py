"""API bearer tokens: issued per party with a role, stored only as their SHA-256 (SPEC §9)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import LedgerError
from .events import format_time
from .store.sql import SqlStore

__all__ = ["ROLES", "Principal", "TokenError", "create_token", "hash_token", "lookup_token"]

ROLES = ("partner", "auditor", "admin")
_PARTY_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


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


def create_token(store: SqlStore, party: str, role: str) -> str:
    """Issue a new token for ``party`` with ``role``; returns the token (shown once).

    Raises:
        TokenError: unknown role or malformed party id.
    """
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not _PARTY_RE.fullmatch(party):
        raise TokenError(f"{party!r} is not a party id")
    token = "ltl_" + secrets.token_urlsafe(32)
    store.add_token(hash_token(token), party, role, format_time(datetime.now(UTC)))
    return token


def lookup_token(store: SqlStore, token: str) -> Principal | None:
    """The principal of a live token, or None for an unknown or revoked one."""
    h = hash_token(token)
    found = store.token(h)
    return None if found is None else Principal(found[0], found[1], h)
