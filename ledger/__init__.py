"""LTL/1 lot traceability ledger: signed custody events, lot chains, an RFC 9162 Merkle log with
C2SP checkpoints, offline audit-bundle verification, recycled-content reports and certificates.

The documented surface, importable from here (loaded on first use, so importing the partner SDK
does not pull in the database stack)::

    from ledger import Ledger, SqlStore, Signer, sign, verify_bundle          # operator, auditor
    from ledger import LedgerClient, ApiError, NetworkError, load_private_key  # partner SDK

The packages, from the bottom up (imports point only downward; tests/test_architecture.py
enforces it): ``core`` (pure formats and rules), ``audit`` (the offline verifier), ``attest``
(recycled content, compliance, certificates), ``store`` (storage), ``service`` (the ``Ledger``
facade), ``client`` (the SDK, on ``core`` only), ``cli`` (the ``ledger`` command).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attest.certificates import verify_certificate
    from .attest.lineage import ReplaySource
    from .attest.recycled import recycled_content
    from .audit.verify import VerificationReport, verify_bundle
    from .client import (
        ApiError,
        ClientError,
        LedgerClient,
        NetworkError,
        load_private_key,
        save_private_key,
    )
    from .core.checkpoint import Signer, Verifier, Witness
    from .core.events import SignedEvent, build_event, parse_event, sign, sign_event
    from .core.keys import generate, key_object
    from .core.receipt import Receipt
    from .core.rules import RuleConfig
    from .core.values import format_time
    from .errors import LedgerError, NotFound, RuleViolation, StorageError, VerificationError
    from .service import Ledger
    from .service.settings import Settings, open_ledger
    from .store.sql import SqlStore

__version__ = "0.1.0"

#: name -> the module that defines it
_SURFACE = {
    "verify_certificate": "attest.certificates",
    "ReplaySource": "attest.lineage",
    "recycled_content": "attest.recycled",
    "VerificationReport": "audit.verify",
    "verify_bundle": "audit.verify",
    "ApiError": "client",
    "ClientError": "client",
    "LedgerClient": "client",
    "NetworkError": "client",
    "load_private_key": "client",
    "save_private_key": "client",
    "Signer": "core.checkpoint",
    "Verifier": "core.checkpoint",
    "Witness": "core.checkpoint",
    "SignedEvent": "core.events",
    "build_event": "core.events",
    "parse_event": "core.events",
    "sign": "core.events",
    "sign_event": "core.events",
    "generate": "core.keys",
    "key_object": "core.keys",
    "Receipt": "core.receipt",
    "RuleConfig": "core.rules",
    "format_time": "core.values",
    "LedgerError": "errors",
    "NotFound": "errors",
    "RuleViolation": "errors",
    "StorageError": "errors",
    "VerificationError": "errors",
    "Ledger": "service",
    "Settings": "service.settings",
    "open_ledger": "service.settings",
    "SqlStore": "store.sql",
}

__all__ = [
    "ApiError",
    "ClientError",
    "Ledger",
    "LedgerClient",
    "LedgerError",
    "NetworkError",
    "NotFound",
    "Receipt",
    "ReplaySource",
    "RuleConfig",
    "RuleViolation",
    "Settings",
    "SignedEvent",
    "Signer",
    "SqlStore",
    "StorageError",
    "VerificationError",
    "VerificationReport",
    "Verifier",
    "Witness",
    "build_event",
    "format_time",
    "generate",
    "key_object",
    "load_private_key",
    "open_ledger",
    "parse_event",
    "recycled_content",
    "save_private_key",
    "sign",
    "sign_event",
    "verify_bundle",
    "verify_certificate",
]


def __getattr__(name: str) -> Any:
    module = _SURFACE.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_SURFACE])
