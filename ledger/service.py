"""The Ledger facade: append (atomic, durable, group-committed), read, prove, bundle.

Writes go through ONE writer thread per ``Ledger``. Callers verify signatures in their own thread
(never inside the writer's turn), then hand the parsed event to the writer and wait. The writer
takes everything queued (up to ``max_batch`` events), runs the pure rules on each in order,
writes all accepted rows in one transaction and commits once (one fsync for the whole group, as
Tessera and PostgreSQL do), then answers every caller. A ``Receipt`` therefore always means
"committed durably".

The writer keeps caches of derived state (parties, keys, lots, credits) and the Merkle frontier.
They are valid only while the database's log size equals the size the writer last wrote; when
another process appended in between, every cache is dropped and reloaded, so several ``Ledger``
instances (threads or processes) may safely share one database.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import merkle, rules
from ._gc import gc_paused
from .checkpoint import Checkpoint, Signer, sign_checkpoint
from .errors import LedgerError, NotFound, RuleViolation, StorageError
from .events import SignedEvent, format_time, parse_event
from .keys import verify
from .store.base import CheckpointRecord, EventRecord
from .store.sql import SqlStore

if TYPE_CHECKING:
    from .fsck import FsckReport

__all__ = ["Ledger", "Receipt"]

Account = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an accepted event got: its log index, hash and the new head of every lot it touched.

    ``created`` is False when the same event (same id, same bytes) had been accepted before.
    """

    seq: int
    hash: str
    lots: dict[str, str]
    created: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "lots": dict(self.lots)}


def _receipt(seq: int, ev: SignedEvent, *, created: bool) -> Receipt:
    lots = dict.fromkeys((*ev.lots_touched, *ev.lots_created), ev.hash)
    return Receipt(seq=seq, hash=ev.hash, lots=lots, created=created)


@dataclass(slots=True)
class _Pending:
    ev: SignedEvent
    verified: bool
    future: Future[Receipt] = field(default_factory=Future)


_MISSING: Any = object()


class _WriterView:
    """The rules' StateView inside the writer: caches first, then the open transaction."""

    def __init__(self, ledger: Ledger, tx: Any, size: int) -> None:
        self._l = ledger
        self._tx = tx
        self.size = size

    def is_genesis(self) -> bool:
        return self.size == 0

    def _get(self, cache: dict[str, Any], table: str, key: str, cls: Any) -> Any:
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            rows = self._tx.state_rows(table, [key])
            value = cls.from_dict(json.loads(rows[key])) if key in rows else None
            cache[key] = value
        return value

    def party(self, party_id: str) -> rules.Party | None:
        return self._get(self._l._parties, "parties", party_id, rules.Party)  # type: ignore[no-any-return]

    def key(self, kid: str) -> rules.Key | None:
        return self._get(self._l._keys, "keys", kid, rules.Key)  # type: ignore[no-any-return]

    def lot(self, lot_id: str) -> rules.Lot | None:
        return self._get(self._l._lots, "lots", lot_id, rules.Lot)  # type: ignore[no-any-return]

    def credit(self, account: Account) -> Decimal:
        cache = self._l._credits
        if account not in cache:
            rows = self._tx.credit_rows([account])
            cache[account] = Decimal(rows[account]) if account in rows else Decimal(0)
        return cache[account]

    def prefetch(self, events: Sequence[SignedEvent]) -> None:
        """Load, in one query per table, every record the batch's events will look up."""
        lots = {lot for ev in events for lot in (*ev.lots_touched, *ev.lots_created)}
        self._prefetch(self._l._lots, "lots", lots, rules.Lot)
        self._prefetch(self._l._keys, "keys", {ev.kid for ev in events}, rules.Key)
        self._prefetch(self._l._parties, "parties", {ev.actor for ev in events}, rules.Party)

    def _prefetch(self, cache: dict[str, Any], table: str, keys: set[str], cls: Any) -> None:
        missing = [k for k in keys if k not in cache]
        if not missing:
            return
        rows = self._tx.state_rows(table, missing)
        for k in missing:
            cache[k] = cls.from_dict(json.loads(rows[k])) if k in rows else None


_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _dump(record: Any) -> str:
    """Derived rows as JSON (``to_dict`` builds members in a fixed order: no sorting needed)."""
    return _ENCODER.encode(record.to_dict())


class Ledger:
    """One ledger over one database.

    Args:
        store: the storage (``SqlStore``).
        log_signer: the log's checkpoint key (C2SP signed-note signer); not any party's key.
        origin: the checkpoint origin line, e.g. ``ltl.example.org/log``.
        config: rule configuration (mass tolerance, clock skew).
        clock: returns the current UTC time (tests pass a fixed clock).
        max_batch: most events committed in one group.
    """

    def __init__(
        self,
        store: SqlStore,
        *,
        log_signer: Signer,
        origin: str,
        config: rules.RuleConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        max_batch: int = 2000,
    ) -> None:
        self.store = store
        self.log_signer = log_signer
        self.origin = origin
        self.config = config or rules.RuleConfig()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_batch = max_batch
        self._pubs: dict[str, tuple[str, bytes]] = {}  # kid -> (party, pub): never changes
        self._reset_caches()
        self._queue: queue.SimpleQueue[list[_Pending] | None] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="ledger-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop the writer (after the queued appends) and close the database."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._writer.join()
            self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reset_caches(self) -> None:
        self._size = -1
        self._frontier = merkle.CompactRange()
        self._parties: dict[str, rules.Party | None] = {}
        self._keys: dict[str, rules.Key | None] = {}
        self._lots: dict[str, rules.Lot | None] = {}
        self._credits: dict[Account, Decimal] = {}

    # ------------------------------------------------------------------ append
    def append(self, event: bytes | SignedEvent) -> Receipt:
        """Append one signed event; returns once it is durably committed.

        Raises:
            RuleViolation: the event was refused (``code`` says why).
            StorageError: the database failed; nothing was written.
        """
        pending = self._prepare(event)
        self._submit([pending])
        return pending.future.result()

    def submit(self, event: bytes | SignedEvent) -> Future[Receipt]:
        """Parse, verify and queue one event without waiting; the future resolves once the
        event is committed durably (or fails with the ``LedgerError`` that refused it).

        Raises:
            RuleViolation: refused before queueing (bad JSON, schema, signature).
        """
        pending = self._prepare(event)
        self._enqueue([pending])
        return pending.future

    def append_many(self, events: Iterable[bytes | SignedEvent]) -> list[Receipt | LedgerError]:
        """Append events in order; each is accepted or refused on its own.

        Returns:
            per event, its ``Receipt`` or the ``LedgerError`` that refused it.
        """
        results: list[Receipt | LedgerError | _Pending] = []
        batch: list[_Pending] = []
        with gc_paused():
            for item in events:
                try:
                    pending = self._prepare(item)
                except LedgerError as e:
                    results.append(e)
                    continue
                batch.append(pending)
                results.append(pending)
                if len(batch) == self._PIPELINE:
                    # hand this part to the writer now: its commit (fsync, SQLite work outside
                    # the GIL) overlaps with verifying the next part here
                    self._enqueue(batch)
                    batch = []
        self._enqueue(batch)
        for r in results:
            if isinstance(r, _Pending):
                r.future.exception()  # wait
        out: list[Receipt | LedgerError] = []
        for r in results:
            if isinstance(r, _Pending):
                exc = r.future.exception()
                out.append(exc if isinstance(exc, LedgerError) else r.future.result())
            else:
                out.append(r)
        return out

    def _prepare(self, event: bytes | SignedEvent) -> _Pending:
        ev = event if isinstance(event, SignedEvent) else parse_event(event)
        known = self._pubs.get(ev.kid)
        if known is None:
            rows = self.store.state_rows("keys", [ev.kid])
            if ev.kid in rows:
                key = rules.Key.from_dict(json.loads(rows[ev.kid]))
                known = self._pubs[ev.kid] = (key.party, key.pub)
        if known is not None and known[0] == ev.actor:
            if not verify(known[1], ev.sig, ev.signing_input):
                raise RuleViolation(
                    "bad_signature",
                    f"the signature does not verify under key {ev.kid} of {ev.actor}: sign "
                    "'ltl/v1/event\\n' + JCS(envelope without sig) with that key",
                )
            return _Pending(ev, verified=True)
        return _Pending(ev, verified=False)  # the writer checks the key and the signature

    _PIPELINE = 250

    def _enqueue(self, batch: list[_Pending]) -> None:
        if self._closed:
            raise StorageError("the ledger is closed; open a new Ledger")
        for i in range(0, len(batch), self.max_batch):
            self._queue.put(batch[i : i + self.max_batch])

    def _submit(self, batch: list[_Pending]) -> None:
        self._enqueue(batch)
        for p in batch:
            p.future.exception()  # wait

    # ------------------------------------------------------------------ the writer
    def _write_loop(self) -> None:
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
            try:
                with gc_paused():
                    self._commit_group(group)
            except BaseException as e:  # never let the writer die with callers waiting
                self._reset_caches()
                err = e if isinstance(e, LedgerError) else StorageError(f"append failed: {e!r}")
                for p in group:
                    if not p.future.done():
                        p.future.set_exception(err)  # running or pending: both may be set
            if stop:
                return

    def _commit_group(self, group: list[_Pending]) -> None:
        accepted: list[tuple[_Pending, int]] = []
        settled: list[tuple[_Pending, Receipt | LedgerError]] = []
        now = self.clock()
        with self.store.write() as tx:
            size = tx.size()
            if size != self._size:
                self._reset_caches()
                self._frontier = merkle.CompactRange.from_reader(size, tx)
            existing = tx.events_by_ids([p.ev.id for p in group])
            view = _WriterView(self, tx, size)
            view.prefetch([p.ev for p in group])
            seen: dict[str, tuple[int, SignedEvent]] = {}
            events: list[EventRecord] = []
            meta: list[tuple[str, str, str]] = []
            lot_index: list[tuple[str, int]] = []
            party_index: list[tuple[str, int]] = []
            custody: list[tuple[str, str, int]] = []
            nodes: list[tuple[int, int, bytes]] = []
            changed: dict[str, dict[str, Any]] = {"parties": {}, "keys": {}, "lots": {}}
            credits: dict[Account, Decimal] = {}
            for p in group:
                if not p.future.set_running_or_notify_cancel():
                    continue  # the caller gave up (e.g. its HTTP request was cancelled)
                ev = p.ev
                if ev.id in existing or ev.id in seen:
                    settled.append((p, self._repeat(p, existing.get(ev.id), seen.get(ev.id))))
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
                self._parties.update(delta.parties)
                self._keys.update(delta.keys)
                self._lots.update(delta.lots)
                self._credits.update(delta.credits)
                changed["parties"].update(delta.parties)
                changed["keys"].update(delta.keys)
                changed["lots"].update(delta.lots)
                credits.update(delta.credits)
                seen[ev.id] = (size, ev)
                events.append(EventRecord(size, ev.hash_bytes, ev.id, ev.canonical))
                meta.append((ev.type, ev.actor, ev.time))
                lot_index.extend(
                    (lot, size) for lot in dict.fromkeys((*ev.lots_touched, *ev.lots_created))
                )
                party_index.extend((pid, size) for pid in party_subjects(ev))
                custody.extend((party, lot, size) for party, lot in custody_of(ev))
                nodes.extend(self._frontier.append(merkle.leaf_hash(ev.hash_bytes)))
                accepted.append((p, size))
                size += 1
                view.size = size
            if events:
                tx.insert_events(events, meta)
                tx.insert_index("event_lots", lot_index)
                tx.insert_index("party_events", party_index)
                tx.insert_custody(custody)
                tx.insert_nodes(nodes)
                tx.upsert_state("parties", {k: (_dump(v),) for k, v in changed["parties"].items()})
                tx.upsert_state(
                    "keys", {k: (v.party, _dump(v)) for k, v in changed["keys"].items()}
                )
                tx.upsert_state(
                    "lots",
                    {
                        k: (v.custodian, v.status, v.material, v.head, _dump(v))
                        for k, v in changed["lots"].items()
                    },
                )
                tx.upsert_credits({a: str(b) for a, b in credits.items()})
        # committed durably: only now answer anyone, refusals and repeats included (they were
        # judged against rows this transaction could still have rolled back)
        self._size = size
        for kid, key in changed["keys"].items():
            self._pubs.setdefault(kid, (key.party, key.pub))
        for p, seq in accepted:
            p.future.set_result(_receipt(seq, p.ev, created=True))
        for p, outcome in settled:
            if isinstance(outcome, Receipt):
                p.future.set_result(outcome)
            else:
                p.future.set_exception(outcome)

    @staticmethod
    def _repeat(
        p: _Pending, stored: EventRecord | None, batch: tuple[int, SignedEvent] | None
    ) -> Receipt | LedgerError:
        if stored is not None:
            seq, same = stored.seq, stored.canonical == p.ev.canonical
        else:
            assert batch is not None
            seq, same = batch[0], batch[1].canonical == p.ev.canonical
        if same:
            return _receipt(seq, p.ev, created=False)
        return RuleViolation(
            "duplicate_id",
            f"event id {p.ev.id} is already used by a different event (seq {seq}); "
            "choose a new UUID for a new event",
        )

    # ------------------------------------------------------------------ reads
    def size(self) -> int:
        """Number of events in the log."""
        return self.store.size()

    def lot(self, lot_id: str) -> rules.Lot:
        """The current state of one lot.

        Raises:
            NotFound: no such lot.
        """
        rows = self.store.state_rows("lots", [lot_id])
        if lot_id not in rows:
            raise NotFound(f"no lot {lot_id!r} in this ledger")
        return rules.Lot.from_dict(json.loads(rows[lot_id]))

    def lots(self, lot_ids: Sequence[str]) -> dict[str, rules.Lot]:
        """The current state of the lots that exist among ``lot_ids``."""
        rows = self.store.state_rows("lots", list(lot_ids))
        return {k: rules.Lot.from_dict(json.loads(v)) for k, v in rows.items()}

    def party(self, party_id: str) -> rules.Party:
        """A registered party. Raises NotFound."""
        rows = self.store.state_rows("parties", [party_id])
        if party_id not in rows:
            raise NotFound(f"no party {party_id!r} in this ledger")
        return rules.Party.from_dict(json.loads(rows[party_id]))

    def party_keys(self, party_id: str) -> list[rules.Key]:
        """Every key the party ever had, in registration order."""
        keys: list[rules.Key] = []
        for rec in self.store.events_by_seqs(self.store.party_seqs([party_id])):
            ev = parse_event(rec.canonical)
            for kid in _kids_of(ev):
                rows = self.store.state_rows("keys", [kid])
                if kid in rows:
                    key = rules.Key.from_dict(json.loads(rows[kid]))
                    if key.party == party_id and key not in keys:
                        keys.append(key)
        return keys

    def list_lots(
        self,
        *,
        after: str | None = None,
        limit: int = 100,
        custodian: str | None = None,
        status: str | None = None,
    ) -> list[rules.Lot]:
        """Lots in id order after the cursor ``after``, optionally filtered."""
        where = {k: v for k, v in (("custodian", custodian), ("status", status)) if v is not None}
        rows = self.store.list_state("lots", after=after, limit=limit, where=where)
        return [rules.Lot.from_dict(json.loads(d)) for _, d in rows]

    def list_parties(self, *, after: str | None = None, limit: int = 100) -> list[rules.Party]:
        rows = self.store.list_state("parties", after=after, limit=limit)
        return [rules.Party.from_dict(json.loads(d)) for _, d in rows]

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
        rec = self._record_by_hash(event_hash)
        return rec.seq, parse_event(rec.canonical)

    def _record_by_hash(self, event_hash: str) -> EventRecord:
        try:
            raw = bytes.fromhex(event_hash)
        except ValueError:
            raw = b""
        rec = self.store.event_by_hash(raw) if len(raw) == 32 else None
        if rec is None:
            raise NotFound(f"no event with hash {event_hash!r}")
        return rec

    # ------------------------------------------------------------------ checkpoints and proofs
    def checkpoint(self) -> CheckpointRecord:
        """The latest checkpoint, signing a new one first if the tree has grown (SPEC §5).

        Raises:
            StorageError: the stored tree is not consistent with the last signed checkpoint;
                nothing is signed (the log never signs two inconsistent checkpoints).
        """
        latest = self.store.latest_checkpoint()
        if latest is not None and latest.size == self.store.size():
            return latest
        with self.store.write() as tx:
            size = tx.size()
            latest = tx.latest_checkpoint()
            if latest is not None and latest.size == size:
                return latest
            root = merkle.root_at(size, tx)
            if latest is not None and latest.size > 0:
                try:
                    if merkle.root_at(latest.size, tx) != latest.root:
                        raise merkle.ProofError("the stored tree no longer has the signed root")
                    proof = merkle.consistency_proof(latest.size, size, tx)
                    merkle.verify_consistency(latest.size, size, proof, latest.root, root)
                except (LedgerError, KeyError) as e:
                    raise StorageError(
                        f"refusing to sign a checkpoint at size {size}: the stored tree is not "
                        f"consistent with the checkpoint signed at size {latest.size} ({e}); "
                        "run `ledger fsck` and restore the database from a trusted copy"
                    ) from e
            note = sign_checkpoint(Checkpoint(self.origin, size, root), self.log_signer)
            record = CheckpointRecord(size, root, note, format_time(self.clock()))
            tx.insert_checkpoint(record)
            return record

    def checkpoint_at(self, size: int) -> CheckpointRecord:
        """A previously signed checkpoint. Raises NotFound."""
        rec = self.store.checkpoint_at(size)
        if rec is None:
            raise NotFound(f"no checkpoint was signed at size {size}")
        return rec

    def inclusion_proof(
        self, event_hash: str, size: int | None = None
    ) -> tuple[int, int, list[bytes]]:
        """(index, size, proof) of an event in the tree of ``size`` (default: latest checkpoint).

        Raises:
            NotFound: unknown event, or the event is not in a tree of that size.
        """
        rec = self._record_by_hash(event_hash)
        latest = self.checkpoint()  # SPEC §5: sign on demand before serving any proof
        if size is None:
            size = latest.size
        if not rec.seq < size <= self.store.size():
            raise NotFound(f"event {event_hash} (seq {rec.seq}) is not in a tree of size {size}")
        return rec.seq, size, merkle.inclusion_proof(rec.seq, size, self.store)

    def bundle(self, lot_id: str) -> dict[str, Any]:
        """The audit bundle of a lot (SPEC §6). Raises NotFound."""
        from .bundle import build_bundle

        return build_bundle(self, lot_id)

    def fsck(self) -> FsckReport:
        """Re-derive the tree and all derived state from the stored events and compare."""
        from .fsck import fsck

        return fsck(self)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes. Raises NotFound when out of range."""
        self.checkpoint()  # SPEC §5: sign on demand before serving any proof
        if not 0 < size1 <= size2 <= self.store.size():
            raise NotFound(f"no consistency proof from size {size1} to {size2}")
        return merkle.consistency_proof(size1, size2, self.store)


def custody_of(ev: SignedEvent) -> list[tuple[str, str]]:
    """(party, lot) pairs this event adds to custody histories: the creator of a lot, the
    receiver a lot is shipped to, and the party that receives it."""
    if ev.type == "lot.create":
        return [(ev.actor, str(ev.body["lot"]))]
    if ev.type == "lot.transform":
        return [(ev.actor, lot) for lot in ev.lots_created]
    if ev.type == "lot.ship":
        return [(str(ev.body["to"]), str(ev.body["lot"]))]
    if ev.type == "lot.receive":
        return [(ev.actor, str(ev.body["lot"]))]
    return []


def party_subjects(ev: SignedEvent) -> tuple[str, ...]:
    """The parties whose registration/key history this event belongs to."""
    if ev.type == "party.register":
        return (str(ev.body["party"]["id"]),)
    if ev.type in ("key.add", "key.revoke"):
        return (str(ev.body["party"]),)
    return ()


def _kids_of(ev: SignedEvent) -> list[str]:
    if ev.type == "party.register":
        return [str(k["kid"]) for k in ev.body["keys"]]
    if ev.type == "key.add":
        return [str(ev.body["key"]["kid"])]
    return []
