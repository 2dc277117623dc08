"""The single writer: append (atomic, durable, group-committed) with typed caches of its own.

Writes go through ONE writer thread per ledger. Callers verify signatures in their own thread
(never inside the writer's turn, :meth:`Writer.prepare`), then hand the parsed event to the
writer and wait. The writer takes everything queued (up to ``max_batch`` events), runs the pure
rules on each in order, writes all accepted rows in one transaction and commits once (one fsync
for the whole group, as Tessera and PostgreSQL do), then answers every caller. A ``Receipt``
therefore always means "committed durably".

The writer keeps caches of derived state (parties, keys, lots, credits) and the Merkle frontier.
They are valid only while the database's log size equals the size the writer last wrote; when
another process appended in between, every cache is dropped and reloaded, so several writers
(threads or processes) may safely share one database.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from ..core import merkle, rules, visibility
from ..core.events import SignedEvent
from ..core.gc import gc_paused
from ..core.receipt import Receipt
from ..core.rules import Account, Key, Lot, Party
from ..core.visibility import Cutoff
from ..errors import LedgerError, RuleViolation, StorageError, WriterBusy
from ..store.protocol import AppendBatch, EventRecord, EventRows, Store, WriteTxn
from .submit import Pending, Submitter

__all__ = ["CACHE_ENTRIES", "Writer"]

#: at most about this many cached parties, keys, lots and credit accounts (then emptied)
CACHE_ENTRIES = 20_000


@dataclass(slots=True)
class _Cache:
    """The writer's derived state, valid while the log has ``size`` events (-1: unknown).

    ``None`` records a lookup that found nothing (so it is not asked again).
    """

    size: int = -1
    frontier: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    parties: dict[str, Party | None] = field(default_factory=dict)
    keys: dict[str, Key | None] = field(default_factory=dict)
    lots: dict[str, Lot | None] = field(default_factory=dict)
    credits: dict[Account, Decimal] = field(default_factory=dict)
    claims: dict[str, str] | None = None  # lot-id prefix -> owner; None: not loaded yet

    def entries(self) -> int:
        return len(self.parties) + len(self.keys) + len(self.lots) + len(self.credits)


_T = TypeVar("_T")


def _load(
    cache: dict[str, _T | None], keys: Iterable[str], read: Callable[[list[str]], Mapping[str, _T]]
) -> None:
    """Fill ``cache`` for every key not in it, in one read (``None`` where nothing is found)."""
    missing = [k for k in keys if k not in cache]
    if missing:
        found = read(missing)
        for k in missing:
            cache[k] = found.get(k)


def _get(
    cache: dict[str, _T | None], key: str, read: Callable[[list[str]], Mapping[str, _T]]
) -> _T | None:
    """The cached record of ``key``, read (and cached, ``None`` included) on a miss."""
    if key not in cache:
        cache[key] = read([key]).get(key)
    return cache[key]


class _View:
    """The rules' ``StateView`` inside the writer: the cache first, then the open transaction."""

    def __init__(self, cache: _Cache, tx: WriteTxn, size: int) -> None:
        self._cache = cache
        self._tx = tx
        self.size = size

    def is_genesis(self) -> bool:
        return self.size == 0

    def party(self, party_id: str) -> Party | None:
        return _get(self._cache.parties, party_id, self._tx.parties)

    def key(self, kid: str) -> Key | None:
        return _get(self._cache.keys, kid, self._tx.keys)

    def lot(self, lot_id: str) -> Lot | None:
        return _get(self._cache.lots, lot_id, self._tx.lots)

    def credit(self, account: Account) -> Decimal:
        credits = self._cache.credits
        if account not in credits:
            credits[account] = self._tx.credits([account]).get(account, Decimal(0))
        return credits[account]

    def prefix_claims(self) -> dict[str, str]:
        if self._cache.claims is None:
            self._cache.claims = dict(self._tx.prefix_claims())
        return self._cache.claims

    def keys_added_by(self, kid: str) -> list[Key]:
        found = {k.kid: k for k in self._tx.keys_added_by(kid)}
        # this group's keys are not in the database yet; the cache has the newest version
        found.update({k.kid: k for k in self._cache.keys.values() if k and k.added_by == kid})
        return [self._cache.keys.get(k) or v for k, v in found.items()]

    def prefetch(self, events: Sequence[SignedEvent]) -> None:
        """Load, in one query per table, every record the group's events will look up."""
        lots = {lot for ev in events for lot in (*ev.lots_touched, *ev.lots_created)}
        _load(self._cache.lots, lots, self._tx.lots)
        _load(self._cache.keys, {ev.kid for ev in events}, self._tx.keys)
        _load(self._cache.parties, {ev.actor for ev in events}, self._tx.parties)


class _Views:
    """The visibility rule's reader inside the writer: this group's rows over the database's."""

    def __init__(self, tx: WriteTxn, out: AppendBatch) -> None:
        self._tx = tx
        self._out = out

    def visibility(self, party: str, lots: Sequence[str]) -> dict[str, Cutoff]:
        pending = self._out.visibility
        found = self._tx.visibility(party, [lot for lot in lots if (party, lot) not in pending])
        found.update({lot: pending[(party, lot)] for lot in lots if (party, lot) in pending})
        return found

    def transforms_of(self, lots: Sequence[str]) -> list[tuple[str, int]]:
        found = self._tx.transforms_of(lots)
        if self._out.inputs:  # this group's transforms are not in the database yet
            mine = {row.seq for row in self._out.inputs}
            wanted = set(lots)
            found += [
                (r.lot, r.seq) for r in self._out.lot_index if r.seq in mine and r.lot in wanted
            ]
        return found

    def inputs_of(self, seqs: Sequence[int]) -> dict[int, list[str]]:
        found = self._tx.inputs_of(seqs)
        wanted = set(seqs)
        for row in self._out.inputs:
            if row.seq in wanted:
                found.setdefault(row.seq, []).append(row.input)
        return found


class Writer(Submitter):
    """The one writer thread of a ledger over ``store``.

    Args:
        store: the storage.
        config: rule configuration (mass tolerance, clock skew).
        clock: returns the current UTC time (the rules' "now" for the clock-skew check).
        max_batch: most events committed in one group.
    """

    def __init__(
        self,
        store: Store,
        config: rules.RuleConfig,
        clock: Callable[[], datetime],
        max_batch: int = 2000,
    ) -> None:
        super().__init__(store)
        self.config = config
        self.clock = clock
        self.max_batch = max_batch
        self._cache = _Cache()
        self._queue: queue.SimpleQueue[list[Pending] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="ledger-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the writer after the queued appends."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _enqueue(self, batch: list[Pending]) -> None:
        if self._closed:
            raise StorageError("the ledger is closed; open a new Ledger")
        for i in range(0, len(batch), self.max_batch):
            self._queue.put(batch[i : i + self.max_batch])

    def commit(self, group: list[Pending]) -> None:
        """Commit ``group`` now, in the caller's thread, and answer each event's future: for
        the one caller that does its own grouping (the node's sequencer), never beside
        :meth:`append` on the same writer."""
        busy: WriterBusy | None = None
        for i in range(0, len(group), self.max_batch):
            part = group[i : i + self.max_batch]
            if busy is not None:  # the lock was just waited out: the rest would wait again
                for p in part:
                    if not p.future.done():
                        p.future.set_exception(busy)
                continue
            with gc_paused():
                failure = self._commit_or_isolate(part)
            busy = failure if isinstance(failure, WriterBusy) else None

    # ------------------------------------------------------------------ the writer thread
    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            group = list(job)
            stop = False
            while len(group) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.extend(more)
            with gc_paused():
                self._commit_or_isolate(group)
            if stop:
                return

    def _commit_or_isolate(self, group: list[Pending]) -> LedgerError | None:
        """Commit the group; when the database refuses it, commit its events one by one so that
        only an event the database itself refuses fails (one partner's bad write never fails
        another partner's event that shared its group).

        A lock held too long by another writer (``WriterBusy``) says nothing about the events:
        the whole group fails at once, instead of every event waiting out the lock again.

        Returns:
            the error every unanswered event of the group was failed with, or None.
        """
        try:
            self._commit_group(group)
            return None
        except BaseException as e:  # never let the writer die with callers waiting
            self._cache = _Cache()
            failure = e
        if len(group) > 1 and not isinstance(failure, (KeyboardInterrupt, SystemExit, WriterBusy)):
            for p in group:
                if not p.future.done():
                    self._commit_or_isolate([p])
            return None
        err = (
            failure
            if isinstance(failure, LedgerError)
            else StorageError(f"append failed: {failure!r}")
        )
        for p in group:
            if not p.future.done():
                p.future.set_exception(err)  # running or pending: both may be set
        return err

    def _commit_group(self, group: list[Pending]) -> None:
        accepted: list[tuple[Pending, int]] = []
        settled: list[tuple[Pending, Receipt | LedgerError]] = []
        now = self.clock()
        out = AppendBatch()
        with self.store.write() as tx:
            size = tx.size()
            if size != self._cache.size:
                self._cache = _Cache(frontier=merkle.CompactRange.from_reader(size, tx))
            elif self._cache.entries() > CACHE_ENTRIES:
                # the caches only save reads: start them over so that the writer's memory
                # stays bounded however long the log grows (the frontier is O(log n))
                self._cache = _Cache(size=size, frontier=self._cache.frontier)
            cache = self._cache
            existing = tx.events_by_ids([p.ev.id for p in group])
            view = _View(cache, tx, size)
            views = _Views(tx, out)
            view.prefetch([p.ev for p in group])
            seen: dict[str, tuple[int, SignedEvent]] = {}
            for p in group:
                if not (p.future.running() or p.future.set_running_or_notify_cancel()):
                    continue  # the caller gave up (e.g. its HTTP request was cancelled)
                ev = p.ev
                if ev.id in existing or ev.id in seen:
                    settled.append((p, _repeat(p.ev, existing.get(ev.id), seen.get(ev.id))))
                    continue
                try:
                    delta = rules.apply(
                        view,
                        ev,
                        seq=size,
                        now=now,
                        config=self.config,
                        verify_signature=not p.verified,
                    )
                except LedgerError as e:
                    settled.append((p, e))
                    continue
                out.visibility.update(visibility.changes(size, ev, view.lot, views))
                for lot in visibility.cut_lots(ev):
                    out.states[(lot, size)] = delta.lots[lot]
                if cache.claims is not None:
                    for party in delta.parties.values():
                        cache.claims.update(dict.fromkeys(party.prefixes, party.id))
                cache.parties.update(delta.parties)
                cache.keys.update(delta.keys)
                cache.lots.update(delta.lots)
                cache.credits.update(delta.credits)
                out.parties.update(delta.parties)
                out.keys.update(delta.keys)
                out.lots.update(delta.lots)
                out.credits.update(delta.credits)
                seen[ev.id] = (size, ev)
                out.add(
                    EventRecord(size, ev.hash_bytes, ev.id, ev.canonical), EventRows.of(size, ev)
                )
                out.nodes.extend(cache.frontier.append(merkle.leaf_hash(ev.hash_bytes)))
                accepted.append((p, size))
                size += 1
                view.size = size
            tx.append(out)
        # committed durably: only now answer anyone, refusals and repeats included (they were
        # judged against rows this transaction could still have rolled back)
        cache.size = size
        for kid, key in out.keys.items():
            self._pubs.setdefault(kid, (key.party, key.pub))
        for p, seq in accepted:
            p.future.set_result(Receipt.of(seq, p.ev))
        for p, outcome in settled:
            if isinstance(outcome, Receipt):
                p.future.set_result(outcome)
            else:
                p.future.set_exception(outcome)


def _repeat(
    ev: SignedEvent, stored: EventRecord | None, batch: tuple[int, SignedEvent] | None
) -> Receipt | LedgerError:
    """The answer to an event whose id was accepted before: the same receipt for the same
    bytes (idempotent), ``duplicate_id`` for different ones."""
    if stored is not None:
        seq, same = stored.seq, stored.canonical == ev.canonical
    else:
        assert batch is not None
        seq, same = batch[0], batch[1].canonical == ev.canonical
    if same:
        return Receipt.of(seq, ev, created=False)
    return RuleViolation(
        "duplicate_id",
        f"event id {ev.id} is already used by a different event (seq {seq}); "
        "choose a new UUID for a new event",
    )
