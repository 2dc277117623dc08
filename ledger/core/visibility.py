"""What a partner may see (spec §9.4): the one rule, as pure derivations from the log.

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

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Protocol

from .events import SignedEvent
from .rules import Delta, Lot, MemoryState, RuleConfig

__all__ = [
    "Cutoff",
    "InputRow",
    "MemoryVisibility",
    "VisibilityReader",
    "changes",
    "closure",
    "cut_lots",
    "inputs_of",
    "merge",
]

#: The last log index a party may see of a lot; ``None``: all of it.
Cutoff = int | None


class InputRow(NamedTuple):
    """The transform at log index ``seq`` consumed lot ``input``."""

    seq: int
    input: str


class VisibilityReader(Protocol):
    """What the rule reads: current views, and the transforms on lots' chains with their inputs
    (the edges of the closure: O(inputs + outputs) rows per transform, never their product)."""

    def visibility(self, party: str, lots: Sequence[str]) -> dict[str, Cutoff]:
        """The party's cut-offs of those of ``lots`` it may see."""
        ...

    def transforms_of(self, lots: Sequence[str]) -> list[tuple[str, int]]:
        """(lot, seq) of every ``lot.transform`` on the chains of ``lots``."""
        ...

    def inputs_of(self, seqs: Sequence[int]) -> dict[int, list[str]]:
        """The input lots of the transforms at ``seqs``."""
        ...


def inputs_of(seq: int, ev: SignedEvent) -> list[InputRow]:
    """The input rows of event ``ev`` at ``seq`` (a transform's inputs; none otherwise)."""
    if ev.type != "lot.transform":
        return []
    return [InputRow(seq, str(i["lot"])) for i in ev.body["inputs"]]


def cut_lots(ev: SignedEvent) -> tuple[str, ...]:
    """The lots whose state right after ``ev`` some view may end at (spec §9.4): the lot a
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
    """The lots a view of ``roots`` (lot -> cut-off) lets one see, with their cut-offs.

    Every transform at ``s`` on a visible part of a visible lot's chain brings each of its
    inputs in at ``s``. Each transform is expanded once, so the work is linear in the rows read.
    """
    need: dict[str, Cutoff] = dict(roots)
    expanded: set[int] = set()
    todo = list(roots)
    while todo:
        fresh: set[int] = set()
        for lot, seq in reader.transforms_of(sorted(set(todo))):
            cut = need[lot]
            if seq not in expanded and (cut is None or seq <= cut):
                fresh.add(seq)
        todo = []
        inputs = reader.inputs_of(sorted(fresh))
        for seq in sorted(fresh):
            expanded.add(seq)
            for other in inputs.get(seq, ()):
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
        reader: the views and transforms as they are before ``ev`` (its own included).
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
        self.transforms: dict[str, list[int]] = {}
        self.inputs: dict[int, list[str]] = {}
        self.states: dict[tuple[str, int], Lot] = {}

    def visibility(self, party: str, lots: Sequence[str]) -> dict[str, Cutoff]:
        return {lot: self.rows[(party, lot)] for lot in lots if (party, lot) in self.rows}

    def transforms_of(self, lots: Sequence[str]) -> list[tuple[str, int]]:
        return [(lot, seq) for lot in lots for seq in self.transforms.get(lot, ())]

    def inputs_of(self, seqs: Sequence[int]) -> dict[int, list[str]]:
        return {seq: self.inputs[seq] for seq in seqs if seq in self.inputs}

    def follow(
        self,
        state: MemoryState,
        seq: int,
        ev: SignedEvent,
        *,
        config: RuleConfig,
        verify_signature: bool = True,
    ) -> Delta:
        """Apply ``ev`` at ``seq`` to ``state`` (no clock: a replay of the stored log) and index
        it here; returns what it changed.

        Raises:
            RuleViolation: the rules refuse the event; neither ``state`` nor the index changes.
        """
        before = {lot: state.lot(lot) for lot in ev.lots_touched}
        delta = state.accept(
            ev, seq=seq, now=None, config=config, verify_signature=verify_signature
        )
        self.accept(seq, ev, before.get, delta)
        return delta

    def accept(
        self, seq: int, ev: SignedEvent, before: Callable[[str], Lot | None], delta: Delta
    ) -> None:
        """Index an accepted event; ``delta`` is what it changed."""
        if ev.type == "lot.transform":
            self.inputs[seq] = [row.input for row in inputs_of(seq, ev)]
            for lot in (*ev.lots_touched, *ev.lots_created):
                self.transforms.setdefault(lot, []).append(seq)
        self.rows.update(changes(seq, ev, before, self))
        for lot in cut_lots(ev):
            self.states[(lot, seq)] = delta.lots[lot]

    def party_view(self, party: str) -> dict[str, Cutoff]:
        return {lot: cut for (p, lot), cut in self.rows.items() if p == party}

    def all_inputs(self) -> set[InputRow]:
        return {InputRow(seq, lot) for seq, lots in self.inputs.items() for lot in lots}
