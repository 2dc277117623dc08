"""PLACEHOLDER until branch epcis-hash10 lands (not committed as the real thing)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..errors import LedgerError

__all__ = ["EpcisError", "event_hash"]


class EpcisError(LedgerError):
    code = "invalid_epcis"


def event_hash(event: Mapping[str, Any], context: Any = None) -> str:
    data = {k: v for k, v in event.items() if k not in ("eventID", "recordTime")}
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return f"ni:///sha-256;{hashlib.sha256(raw).hexdigest()}?ver=CBV2.0"
