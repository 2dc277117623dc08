"""Console sessions: an opaque random id in the cookie, the token's SHA-256 on the server.

The raw token never leaves the sign-in request: a session holds only the token's hash, and
the principal is looked up by it on every request, so a revoked token's session stops working
at the next request, exactly like the bearer API.

Sessions are kept in the ledger's database (``ledger.service.sessions``: only the SHA-256 of
each id is stored), so every worker process and node on one database shares them; this module
holds the console's policy — lifetime and caps — and the cookie names.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.service.sessions import Session, SessionBook

__all__ = ["SESSION_COOKIE", "SESSION_SECONDS", "SIGN_IN_COOKIE", "ConsoleSessions", "Session"]

#: the session cookie (an opaque id) and the sign-in form's pre-session CSRF cookie
SESSION_COOKIE = "ltl_console"
SIGN_IN_COOKIE = "ltl_console_csrf"

#: a session's lifetime from sign-in (absolute, not sliding)
SESSION_SECONDS = 8 * 3600
#: at most this many live sessions per database (all servers on it); the oldest goes first
MAX_SESSIONS = 10_000
#: at most this many live sessions per token, its oldest going first: one token signing in
#: again and again never pushes other tokens' sessions out of :data:`MAX_SESSIONS`
MAX_SESSIONS_PER_TOKEN = 16


@dataclass
class ConsoleSessions:
    """Session id -> :class:`Session`, expiring, shared through the database."""

    book: SessionBook
    lifetime: float = SESSION_SECONDS

    def open(self, token_hash: str) -> tuple[str, Session]:
        """A new session (a fresh id: never one the browser brought) and its id."""
        return self.book.open(
            token_hash,
            lifetime=self.lifetime,
            per_token=MAX_SESSIONS_PER_TOKEN,
            most=MAX_SESSIONS,
        )

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid`` (None: unknown or expired)."""
        return self.book.get(sid)

    def close(self, sid: str | None) -> None:
        self.book.close(sid)
