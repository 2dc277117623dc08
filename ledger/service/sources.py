"""Lineage sources over the server's database, for recycled-content reports (spec §7)."""

from __future__ import annotations

from collections.abc import Sequence

from ..attest.lineage import LineageSource, ReplaySource
from ..audit.verify import replay
from ..core.events import SignedEvent, stored_event
from ..core.rules import Lot, Party, RuleConfig
from ..errors import NotFound
from .bundles import closure_seqs
from .reads import Reads

__all__ = ["LedgerSource", "source_for"]


class LedgerSource:
    """A :class:`LineageSource` over the server's ledger (current state).

    ``preload(lot)`` reads the lot's whole upstream — lots, chains and events — in a few
    batched queries and parses every event once (a transform's event sits on the chains of all
    its inputs); reads outside the preloaded set fall back to the ledger.
    """

    def __init__(self, reads: Reads) -> None:
        self._reads = reads
        self._lots: dict[str, Lot] = {}
        self._chains: dict[str, list[tuple[int, SignedEvent]]] = {}
        self._parties: dict[str, Party | None] = {}

    def preload(self, lot_id: str) -> None:
        """Read the chains of the lot and of everything upstream, level by level (one
        batched query per level for the chains and one for the events)."""
        store = self._reads.store
        parsed: dict[int, SignedEvent] = {}
        frontier, seen = [lot_id], {lot_id}
        while frontier:
            chains = store.chains(frontier)
            need = sorted({s for chain in chains.values() for s in chain if s not in parsed})
            for rec in store.events_by_seqs(need):
                parsed[rec.seq] = stored_event(rec.canonical, rec.hash.hex())
            frontier = []
            for lot, chain in chains.items():
                self._chains[lot] = [(s, parsed[s]) for s in chain]
                first = parsed[chain[0]]
                if first.type == "lot.transform" and lot in first.lots_created:
                    for item in first.body["inputs"]:
                        parent = str(item["lot"])
                        if parent not in seen:
                            seen.add(parent)
                            frontier.append(parent)

    def lot(self, lot_id: str) -> Lot | None:
        if lot_id not in self._lots:
            found = self._reads.lots([lot_id])
            if lot_id not in found:
                return None
            self._lots[lot_id] = found[lot_id]
        return self._lots[lot_id]

    def party(self, party_id: str) -> Party | None:
        if party_id not in self._parties:
            try:
                self._parties[party_id] = self._reads.party(party_id)
            except NotFound:
                self._parties[party_id] = None
        return self._parties[party_id]

    def chain(self, lot_id: str) -> Sequence[tuple[int, SignedEvent]]:
        if lot_id not in self._chains:
            try:
                self._chains[lot_id] = list(self._reads.chain(lot_id))
            except NotFound:
                return []
        return self._chains[lot_id]


def source_for(
    reads: Reads, config: RuleConfig, lot_id: str, *, upto: int | None = None
) -> LineageSource:
    """The source for a report on ``lot_id``: the ledger now (preloaded), or (``upto`` set, a
    partner's cut-off) a replay of the lot's provenance closure up to that log index."""
    if upto is None:
        source = LedgerSource(reads)
        source.preload(lot_id)
        return source
    pairs = sorted(closure_seqs(reads.store, lot_id, upto + 1).items())
    return ReplaySource(replay(pairs, config, verify_signature=False), pairs)
