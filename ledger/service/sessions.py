"""Console sign-in sessions (spec §9.10), kept in the ledger's database so that every server
process and node on it knows every session: a sign-in on one worker is honoured by the others,
and a sign-out on one ends the session on all.

A session id is 256 random bits, handed to the browser once; the database keeps only its
SHA-256, so a copy of the table gives no live cookie. Times are the wall clock (UTC, seconds
since the Unix epoch, stored in microseconds): a monotonic clock is per machine, and the nodes
share the rows. The :class:`~ledger.service.ledger.Ledger` holds one :class:`SessionBook` as
``ledger.sessions``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..store.protocol import SessionRecord, Store

__all__ = ["Session", "SessionBook", "hash_session_id"]


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: its token's SHA-256, its CSRF token, and when it ends (seconds since the
    Unix epoch, UTC)."""

    token_hash: str
    csrf: str
    expires: float


def hash_session_id(sid: str) -> str:
    """The stored form of a session id: hex SHA-256 of its UTF-8 text."""
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def _us(seconds: float) -> int:
    return int(seconds * 1_000_000)


class SessionBook:
    """The console sessions of one database.

    Args:
        store: the ledger's store.
        clock: the wall clock, seconds since the Unix epoch (not the ledger's clock, which tests
            fix at one instant to replay history).
    """

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def open(
        self, token_hash: str, *, lifetime: float, per_token: int, most: int
    ) -> tuple[str, Session]:
        """A new session of the token (a fresh id: never one the browser brought) and its id.

        It ends ``lifetime`` seconds from now (absolute, not sliding). Expired sessions are
        dropped; the token keeps at most ``per_token`` live sessions and the database at most
        ``most``, the oldest going first.

        Raises:
            StorageError: the session could not be stored.
        """
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(token_hash, secrets.token_urlsafe(32), now + lifetime)
        record = SessionRecord(
            hash_session_id(sid), token_hash, session.csrf, _us(now), _us(session.expires)
        )
        self.store.open_session(record, now_us=_us(now), per_token=per_token, most=most)
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid`` (None: none, unknown or expired — an expired one is
        deleted here)."""
        if not sid:
            return None
        h = hash_session_id(sid)
        found = self.store.session(h)
        if found is None:
            return None
        if found.expires_us <= _us(self.clock()):
            self.store.delete_session(h)
            return None
        return Session(found.token_hash, found.csrf, found.expires_us / 1_000_000)

    def close(self, sid: str | None) -> None:
        """End the session of ``sid`` on every server (nothing when there is none)."""
        if sid:
            self.store.delete_session(hash_session_id(sid))
