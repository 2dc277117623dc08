"""The partner SDK: sign events locally, post them, read typed answers (spec §9).

Built on ``ledger.core`` only (no database, no web framework): a partner's system needs the
formats, its key and httpx.
"""

from .client import RETRYABLE_ON_STALE_HEAD, LedgerClient
from .errors import ApiError, ClientError, NetworkError
from .keyfile import load_private_key, save_private_key

__all__ = [
    "RETRYABLE_ON_STALE_HEAD",
    "ApiError",
    "ClientError",
    "LedgerClient",
    "NetworkError",
    "load_private_key",
    "save_private_key",
]
