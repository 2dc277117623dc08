"""Reads of the ledger's current state and of its log: lots, parties, keys, chains, events."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.custody import kids_registered
from ..core.events import SignedEvent, parse_event
from ..core.rules import Key, Lot, Party
from ..errors import NotFound
from ..store.protocol import ALL_LOTS, EventRecord, LotFilter, Store

__all__ = ["Reads"]


class Reads:
    """Typed reads over one store; every miss is :class:`~ledger.errors.NotFound`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def size(self) -> int:
        """Number of events in the log."""
        return self.store.size()

    def lot(self, lot_id: str) -> Lot:
        """The current state of one lot. Raises NotFound."""
        found = self.store.lots([lot_id]).get(lot_id)
        if found is None:
            raise NotFound(f"no lot {lot_id!r} in this ledger")
        return found

    def lots(self, lot_ids: Sequence[str]) -> dict[str, Lot]:
        """The current state of the lots that exist among ``lot_ids``."""
        return self.store.lots(list(lot_ids))

    def party(self, party_id: str) -> Party:
        """A registered party. Raises NotFound."""
        found = self.store.parties([party_id]).get(party_id)
        if found is None:
            raise NotFound(f"no party {party_id!r} in this ledger")
        return found

    def party_keys(self, party_id: str) -> list[Key]:
        """Every key the party ever had, in registration order."""
        kids: list[str] = []
        for rec in self.store.events_by_seqs(self.store.party_seqs([party_id])):
            kids.extend(k for k in kids_registered(parse_event(rec.canonical)) if k not in kids)
        found = self.store.keys(kids)
        return [found[k] for k in kids if k in found and found[k].party == party_id]

    def list_lots(
        self,
        *,
        after: str | None = None,
        limit: int = 100,
        where: LotFilter = ALL_LOTS,
    ) -> list[Lot]:
        """Lots in id order after the cursor ``after``, optionally filtered."""
        return self.store.list_lots(after=after, limit=limit, where=where)

    def list_parties(self, *, after: str | None = None, limit: int = 100) -> list[Party]:
        """Parties in id order after the cursor ``after``."""
        return self.store.list_parties(after=after, limit=limit)

    def events(self, seqs: Sequence[int]) -> list[tuple[int, SignedEvent]]:
        """Parsed events at these log indexes, in log order."""
        return [(r.seq, parse_event(r.canonical)) for r in self.store.events_by_seqs(seqs)]

    def chain(self, lot_id: str) -> list[tuple[int, SignedEvent]]:
        """The lot's chain: its creating event, then every event that named it, in order.

        Raises:
            NotFound: no such lot.
        """
        seqs = self.store.lot_seqs(lot_id)
        if not seqs:
            raise NotFound(f"no lot {lot_id!r} in this ledger")
        return self.events(seqs)

    def event(self, event_hash: str) -> tuple[int, SignedEvent]:
        """An event by its hex hash. Raises NotFound."""
        rec = self.record(event_hash)
        return rec.seq, parse_event(rec.canonical)

    def record(self, event_hash: str) -> EventRecord:
        """The stored event with this hex hash. Raises NotFound."""
        try:
            raw = bytes.fromhex(event_hash)
        except ValueError:
            raw = b""
        rec = self.store.event_by_hash(raw) if len(raw) == 32 else None
        if rec is None:
            raise NotFound(f"no event with hash {event_hash!r}")
        return rec
