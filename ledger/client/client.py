"""The partner SDK: a small typed client of the LTL/1 HTTP API, on httpx (sync).

A partner holds its own Ed25519 key; the client builds events, signs them locally, posts them,
and returns typed answers (``ledger.client.models``). Every failure is a
:class:`~ledger.client.errors.ClientError`: :class:`~ledger.client.errors.ApiError` (with the
problem's ``code``) when the ledger refuses, :class:`~ledger.client.errors.NetworkError` when it
cannot be reached.

``stale_head`` retries: the client re-reads the heads, re-signs and retries ONLY events whose
meaning cannot change with the lot's state — ``lot.assay`` (replaces the composition) and
``lot.attest`` (attaches a statement). A ship, receive, transform, adjust or allocation was
decided against a state that moved on, so its refusal is returned to the caller to decide.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from ..core.keys import Ed25519PrivateKey
from ._reads import _Reads
from ._writes import RETRYABLE_ON_STALE_HEAD, _Writes
from .journal import JOURNAL_ENV, Journal

__all__ = ["RETRYABLE_ON_STALE_HEAD", "LedgerClient"]


class LedgerClient(_Writes, _Reads):
    """A client for one party (``party`` and ``key``) or for reading only.

    Args:
        url: base URL of the ledger, e.g. ``http://127.0.0.1:8000``.
        token: the API bearer token.
        party: the party this client signs for (its events' ``actor``).
        key: that party's Ed25519 private key (``load_private_key("keys/bwm.pem")``).
        retries: how many times a retryable ``stale_head`` is retried.
        timeout: seconds per request.
        transport: an httpx transport (tests pass an in-process one).
        journal: a journal file (spec §5.11) every posted event is appended to before it is
            sent; default ``$LEDGER_JOURNAL``, and no journal when that is unset or empty.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        party: str | None = None,
        key: Ed25519PrivateKey | None = None,
        retries: int = 3,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        journal: str | Path | None = None,
    ) -> None:
        super().__init__(url, token, timeout=timeout, transport=transport)
        self.party = party
        self.key = key
        self.retries = retries
        path = journal if journal is not None else os.environ.get(JOURNAL_ENV) or None
        self.journal = Journal(path) if path is not None else None

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
