"""The SDK's own exceptions: every failure of a client call is a :class:`ClientError`.

* :class:`ApiError`: the ledger answered with an error (an RFC 9457 problem; ``code`` is the
  spec code, e.g. ``stale_head``), or with something that is not the documented answer;
* :class:`NetworkError`: no answer at all (connection refused, timeout, TLS, broken transfer);
* :class:`ClientError` itself: the client refused before sending (no key to sign with, or an
  event that would not be valid).

All derive from :class:`ledger.errors.LedgerError`, so ``except LedgerError`` catches them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import LedgerError

__all__ = ["ApiError", "ClientError", "NetworkError"]


class ClientError(LedgerError):
    """A client call failed; ``code`` says how."""

    code = "client_error"


class ApiError(ClientError):
    """The ledger refused a request (RFC 9457 problem): ``code`` is the problem's code.

    Attributes:
        status: the HTTP status.
        detail: the problem's detail (what is wrong and what to do).
        problem: the whole problem document.
    """

    def __init__(self, status: int, code: str, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(detail, code=code)
        self.status = status
        self.detail = detail
        self.problem = dict(problem)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}"


class NetworkError(ClientError):
    """The ledger could not be reached, or the exchange broke off (no HTTP answer)."""

    code = "network_error"
