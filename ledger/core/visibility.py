"""What a partner may see (spec §9.1): the one rule, as pure derivations from the log.

A partner's *view* maps each lot it may see to the last log index it may see of that lot
(``None``: all of it, present and future). It is the audit-bundle closure (spec §6.2) of its
custody:

- a lot it holds, or that is in transit to it: all of it;
- a lot it held: up to and including the ``lot.receive`` that ended its custody;
- every lot a transform on a visible part of a visible lot's chain consumed (its inputs, at the
  log index of that transform), recursively: the upstream lineage, and the co-inputs a replay of
  those transforms needs, each only up to the transform that brought it in.

Nothing else: a lot that appears in none of these is, to that partner, a lot that does not
exist. Bundles for a partner are cut at the same indexes, so every bundle a partner can fetch
holds only what its view holds, and replays on its own.

The server keeps the view as an index written with each event (``visibility``); ``fsck`` and
re-indexing replay the log through the same functions, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol

from .events import SignedEvent
from .rules import Delta, Lot

__all__ = [
    "Cutoff",
    "LinkRow",
    "MemoryVisibility",
    "VisibilityReader",
    "changes",
    "closure",
    "cut_lots",
    "links_of",
    "merge",
]

#: The last log index a party may see of a lot; ``None``: all of it.
Cutoff = int | None


class LinkRow(NamedTuple):
    """A transform at ``seq`` on the chain of ``lot`` consumed lot ``input`` (another lot)."""

    lot: str
    seq: int
    input: str


class VisibilityReader(Protocol):
    """What the rule reads: current views and the transform links of lots."""

    def visibility(self, party: str, lots: Sequence[str]) -> dict[str, Cutoff]:
        """The party's cut-offs of those of ``lots`` it may see."""
        ...

    def links(self, lots: Sequence[str]) -> list[LinkRow]:
        """Every link row of ``lots``."""
        ...


def links_of(seq: int, ev: SignedEvent) -> list[LinkRow]:
    """The link rows of event ``ev`` at ``seq``: for a transform, every lot on its chain (inputs
    and outputs) links to every OTHER input."""
    if ev.type != "lot.transform":
        return []
    inputs = [str(i["lot"]) for i in ev.body["inputs"]]
    return [
        LinkRow(lot, seq, other)
        for lot in (*inputs, *ev.lots_created)
        for other in inputs
        if other != lot
    ]


def cut_lots(ev: SignedEvent) -> tuple[str, ...]:
    """The lots whose state right after ``ev`` some view may end at (spec §9.1): the lot a
    ``lot.receive`` receives, the inputs of a ``lot.transform``."""
    if ev.type == "lot.receive":
        return (str(ev.body["lot"]),)
    if ev.type == "lot.transform":
        return ev.lots_touched
    return ()


def merge(old: Cutoff | None, new: Cutoff, present: bool) -> Cutoff:
    """A view widened by another reason to see the lot (``present``: it had one already)."""
    if not present:
        return new
    if old is None or new is None:
        return None
    return max(old, new)


def closure(reader: VisibilityReader, roots: Mapping[str, Cutoff]) -> dict[str, Cutoff]:
    """The lots a view of ``roots`` (lot -> cut-off) lets one see, with their cut-offs."""
    need: dict[str, Cutoff] = dict(roots)
    todo = list(roots)
    while todo:
        found = reader.links(sorted(set(todo)))
        todo = []
        for lot, seq, other in found:
            cut = need[lot]
            if cut is not None and seq > cut:
                continue
            have = need.get(other, -1)
            if have is None or have >= seq:
                continue
            need[other] = seq
            todo.append(other)
    return need


def changes(
    seq: int,
    ev: SignedEvent,
    before: Callable[[str], Lot | None],
    reader: VisibilityReader,
) -> dict[tuple[str, str], Cutoff]:
    """The view rows event ``ev`` (accepted at ``seq``) sets: (party, lot) -> new cut-off.

    Args:
        before: the state of a lot before ``ev``.
        reader: the views and links as they are before ``ev`` (its own links included).
    """
    t = ev.type
    if t == "lot.create" or t == "lot.transform":
        return {(ev.actor, lot): None for lot in ev.lots_created}
    if t == "lot.ship":
        to, lot = str(ev.body["to"]), str(ev.body["lot"])
        seen = closure(reader, {lot: None})
        old = reader.visibility(to, sorted(seen))
        return {
            (to, other): merge(old.get(other), cut, other in old)
            for other, cut in seen.items()
            if other not in old or old[other] is not None
        }
    if t == "lot.receive":
        lot = str(ev.body["lot"])
        held = before(lot)
        if held is not None and held.custodian != ev.actor:
            return {(held.custodian, lot): seq}  # the sender's custody ends here
    return {}


class MemoryVisibility:
    """The view index in memory, built by replaying events (fsck, re-indexing, tests)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Cutoff] = {}
        self.link_rows: dict[str, list[LinkRow]] = {}
        self.states: dict[tuple[str, int], Lot] = {}

    def visibility(self, party: str, lots: Sequence[str]) -> dict[str, Cutoff]:
        return {lot: self.rows[(party, lot)] for lot in lots if (party, lot) in self.rows}

    def links(self, lots: Sequence[str]) -> list[LinkRow]:
        return [row for lot in lots for row in self.link_rows.get(lot, ())]

    def accept(
        self, seq: int, ev: SignedEvent, before: Callable[[str], Lot | None], delta: Delta
    ) -> None:
        """Index an accepted event; ``delta`` is what it changed."""
        for row in links_of(seq, ev):
            self.link_rows.setdefault(row.lot, []).append(row)
        self.rows.update(changes(seq, ev, before, self))
        for lot in cut_lots(ev):
            self.states[(lot, seq)] = delta.lots[lot]

    def party_view(self, party: str) -> dict[str, Cutoff]:
        return {lot: cut for (p, lot), cut in self.rows.items() if p == party}

    def all_links(self) -> Iterable[LinkRow]:
        for rows in self.link_rows.values():
            yield from rows
