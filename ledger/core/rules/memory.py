"""An in-memory state: the reference implementation of ``StateView`` for tests and replay."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...errors import RuleViolation
from ..events import SignedEvent
from .engine import apply
from .records import Account, Delta, Key, Lot, Party, RuleConfig, format_decimal

__all__ = ["MemoryState"]

_DEFAULT = RuleConfig()


class MemoryState:
    """Dict-backed state; ``accept`` applies an event and remembers its id and hash.

    Equality compares :meth:`snapshot`, so two replays of one history compare equal.
    """

    def __init__(self) -> None:
        self.parties: dict[str, Party] = {}
        self.keys: dict[str, Key] = {}
        self.lots: dict[str, Lot] = {}
        self.credits: dict[Account, Decimal] = {}
        self.event_ids: dict[str, str] = {}
        self.size = 0

    # StateView
    def party(self, party_id: str) -> Party | None:
        return self.parties.get(party_id)

    def key(self, kid: str) -> Key | None:
        return self.keys.get(kid)

    def lot(self, lot_id: str) -> Lot | None:
        return self.lots.get(lot_id)

    def credit(self, account: Account) -> Decimal:
        return self.credits.get(account, Decimal(0))

    def keys_added_by(self, kid: str) -> list[Key]:
        return [k for k in self.keys.values() if k.added_by == kid]

    def prefix_claims(self) -> dict[str, str]:
        return {pre: p.id for p in self.parties.values() for pre in p.prefixes}

    def is_genesis(self) -> bool:
        return self.size == 0

    def apply_delta(self, delta: Delta) -> None:
        """Store the new values of a delta."""
        self.parties.update(delta.parties)
        self.keys.update(delta.keys)
        self.lots.update(delta.lots)
        self.credits.update(delta.credits)

    def accept(
        self,
        ev: SignedEvent,
        *,
        seq: int | None = None,
        now: datetime | None = None,
        config: RuleConfig = _DEFAULT,
        verify_signature: bool = True,
    ) -> Delta:
        """Apply ``ev`` at log index ``seq`` (default: the next one) and keep the result.

        The same id with identical bytes again is an idempotent success (an empty delta, the
        state unchanged); with different bytes it is ``duplicate_id``.

        Raises:
            RuleViolation: the event was refused; the state is unchanged.
        """
        known = self.event_ids.get(ev.id)
        if known is not None:
            if known == ev.hash:
                return Delta.empty()
            raise RuleViolation(
                "duplicate_id",
                f"event id {ev.id} was already used by event "
                f"{known}: choose a fresh UUID for a new event",
            )
        delta = apply(
            self,
            ev,
            seq=self.size if seq is None else seq,
            now=now,
            config=config,
            verify_signature=verify_signature,
        )
        self.apply_delta(delta)
        self.event_ids[ev.id] = ev.hash
        self.size += 1
        return delta

    @classmethod
    def replay(
        cls,
        events: Iterable[SignedEvent],
        *,
        config: RuleConfig = _DEFAULT,
        verify_signature: bool = True,
    ) -> MemoryState:
        """The state after accepting ``events`` in order at log indexes 0, 1, 2, ...

        Raises:
            RuleViolation: the first event refused.
        """
        state = cls()
        for ev in events:
            state.accept(ev, config=config, verify_signature=verify_signature)
        return state

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able, comparable dump of the whole state."""
        return {
            "parties": {k: v.to_dict() for k, v in sorted(self.parties.items())},
            "keys": {k: v.to_dict() for k, v in sorted(self.keys.items())},
            "lots": {k: v.to_dict() for k, v in sorted(self.lots.items())},
            "credits": [[*a, format_decimal(b)] for a, b in sorted(self.credits.items())],
            "size": self.size,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MemoryState):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]
