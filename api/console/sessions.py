"""Console sessions: an opaque random id in the cookie, the token's SHA-256 on the server.

The raw token never leaves the sign-in request: a session holds only the token's hash, and
the principal is looked up by it on every request, so a revoked token's session stops working
at the next request, exactly like the bearer API.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from threading import Lock

__all__ = ["SESSION_COOKIE", "SESSION_SECONDS", "SIGN_IN_COOKIE", "ConsoleSessions", "Session"]

#: the session cookie (an opaque id) and the sign-in form's pre-session CSRF cookie
SESSION_COOKIE = "ltl_console"
SIGN_IN_COOKIE = "ltl_console_csrf"

#: a session's lifetime from sign-in (absolute, not sliding)
SESSION_SECONDS = 8 * 3600
#: at most this many live sessions per server; the oldest goes first
MAX_SESSIONS = 10_000
#: at most this many live sessions per token, its oldest going first: one token signing in
#: again and again never pushes other tokens' sessions out of :data:`MAX_SESSIONS`
MAX_SESSIONS_PER_TOKEN = 16


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    csrf: str
    expires: float


@dataclass
class ConsoleSessions:
    """Session id -> :class:`Session`, expiring, thread-safe."""

    lifetime: float = SESSION_SECONDS
    _map: dict[str, Session] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def open(self, token_hash: str) -> tuple[str, Session]:
        """A new session (a fresh id: never one the browser brought) and its id."""
        sid = secrets.token_urlsafe(32)
        session = Session(token_hash, secrets.token_urlsafe(32), time.monotonic() + self.lifetime)
        with self._lock:
            self._expire()
            mine = [s for s, v in self._map.items() if v.token_hash == token_hash]
            for old in mine[: max(0, len(mine) - MAX_SESSIONS_PER_TOKEN + 1)]:
                del self._map[old]
            while len(self._map) >= MAX_SESSIONS:
                del self._map[next(iter(self._map))]
            self._map[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid`` (None: unknown or expired)."""
        if not sid:
            return None
        with self._lock:
            session = self._map.get(sid)
            if session is not None and session.expires <= time.monotonic():
                del self._map[sid]
                return None
            return session

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._map.pop(sid or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._map.items() if v.expires <= now]:
            del self._map[sid]
