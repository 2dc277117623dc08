"""The application state: one Ledger, settings, limiters and a token cache."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from ledger.keys import Ed25519PrivateKey
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.tokens import Principal

from .limits import RateLimiter

__all__ = ["AppState", "get_state"]


@dataclass
class AppState:
    """Everything the routes share."""

    ledger: Ledger
    settings: Settings
    writes: RateLimiter
    auth_failures: RateLimiter
    tokens: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    attest_key: Ed25519PrivateKey | None = None
    attest_did: str | None = None


async def get_state(request: Request) -> AppState:
    """Dependency: the app's state."""
    state: AppState = request.app.state.ltl
    return state
