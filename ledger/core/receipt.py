"""What an accepted event gets back (spec §9 ``POST /v1/events``): its log index, its hash, and
the new head of every lot it created or touched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .events import SignedEvent

__all__ = ["Receipt"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """An accepted event. ``created`` is False when the same event (same id, same bytes) had
    been accepted before: an idempotent repeat (HTTP 200 instead of 201)."""

    seq: int
    hash: str
    lots: dict[str, str]
    created: bool = True

    @classmethod
    def of(cls, seq: int, ev: SignedEvent, *, created: bool = True) -> Receipt:
        """The receipt of ``ev`` accepted at log index ``seq``."""
        lots = dict.fromkeys((*ev.lots_touched, *ev.lots_created), ev.hash)
        return cls(seq=seq, hash=ev.hash, lots=lots, created=created)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, created: bool = True) -> Receipt:
        """A receipt from its JSON form ``{"seq", "hash", "lots"}``."""
        return cls(int(obj["seq"]), str(obj["hash"]), dict(obj["lots"]), created)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``created`` is the HTTP status, not a member)."""
        return {"seq": self.seq, "hash": self.hash, "lots": dict(self.lots)}
