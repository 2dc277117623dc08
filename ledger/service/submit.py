"""The callers' side of appending: parse, check the signature, queue, wait (spec §4).

Both writers share it: :class:`~ledger.service.writer.Writer` (the group-committing thread of
one process) and :class:`~ledger.service.sequencer.RemoteWriter` (a worker's line to its
node's sequencer process). Signatures are checked HERE, in the caller's thread or process,
never inside the writer's turn: the writer only orders and commits.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..core.events import SignedEvent, parse_event
from ..core.gc import gc_paused
from ..core.keys import verify
from ..core.receipt import Receipt
from ..errors import LedgerError, RuleViolation
from ..store.protocol import Store

__all__ = ["Pending", "Submitter"]


@dataclass(slots=True)
class Pending:
    """An event on its way to the writer; ``verified``: its signature was checked already."""

    ev: SignedEvent
    verified: bool
    future: Future[Receipt] = field(default_factory=Future)
    #: set instead of ``future`` when the caller awaits on the writer's event loop
    waiter: asyncio.Future[Receipt] | None = None


class Submitter(ABC):
    """Parse and verify in the caller, hand the writer :class:`Pending` events, wait."""

    _PIPELINE = 250  # append_many hands the writer this many events at a time

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pubs: dict[str, tuple[str, bytes]] = {}  # kid -> (party, pub): never changes

    @abstractmethod
    def _enqueue(self, batch: list[Pending]) -> None:
        """Hand the writer these events, in order (it answers each one's future)."""

    @abstractmethod
    def close(self) -> None:
        """Stop after the queued appends."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:  # noqa: B027 (optional hook)
        """Let this writer answer through ``loop`` (called from the loop's thread, before the
        first append; a writer with a thread of its own ignores it)."""

    def append(self, event: bytes | SignedEvent) -> Receipt:
        """Append one signed event; returns once it is durably committed.

        Raises:
            RuleViolation: the event was refused (``code`` says why).
            StorageError: the database failed; nothing was written.
        """
        return self.submit(event).result()

    def submit(self, event: bytes | SignedEvent) -> Future[Receipt]:
        """Parse, verify and queue one event without waiting (see ``Ledger.submit``)."""
        pending = self.prepare(event)
        self._enqueue([pending])
        return pending.future

    def witness_states(self) -> list[dict[str, Any]] | None:
        """The witnesses' states where the witnessing runs elsewhere (None: here)."""
        return None

    def submit_async(self, event: bytes | SignedEvent) -> asyncio.Future[Receipt]:
        """:meth:`submit` for a caller on an event loop: await the result."""
        return asyncio.wrap_future(self.submit(event))

    def append_many(self, events: Iterable[bytes | SignedEvent]) -> list[Receipt | LedgerError]:
        """Append events in order; per event its ``Receipt`` or the error that refused it."""
        results: list[Receipt | LedgerError | Pending] = []
        batch: list[Pending] = []
        with gc_paused():
            for item in events:
                try:
                    pending = self.prepare(item)
                except LedgerError as e:
                    results.append(e)
                    continue
                batch.append(pending)
                results.append(pending)
                if len(batch) == self._PIPELINE:
                    # hand this part to the writer now: its commit (fsync, database work
                    # outside the GIL or in another process) overlaps with verifying the next
                    self._enqueue(batch)
                    batch = []
        self._enqueue(batch)
        out: list[Receipt | LedgerError] = []
        for r in results:
            if isinstance(r, Pending):
                exc = r.future.exception()  # waits
                out.append(exc if isinstance(exc, LedgerError) else r.future.result())
            else:
                out.append(r)
        return out

    def prepare(self, event: bytes | SignedEvent) -> Pending:
        """Parse the event and, when its key is known, check its signature (in the caller's
        thread).

        Raises:
            RuleViolation: ``invalid_event`` or ``bad_signature``.
        """
        ev = event if isinstance(event, SignedEvent) else parse_event(event)
        known = self._pubs.get(ev.kid)
        if known is None:
            key = self.store.keys([ev.kid]).get(ev.kid)
            if key is not None:
                known = self._pubs[ev.kid] = (key.party, key.pub)
        if known is not None and known[0] == ev.actor:
            if not verify(known[1], ev.sig, ev.signing_input):
                raise RuleViolation(
                    "bad_signature",
                    f"the signature does not verify under key {ev.kid} of {ev.actor}: sign "
                    "'ltl/v1/event\\n' + JCS(envelope without sig) with that key",
                )
            return Pending(ev, verified=True)
        return Pending(ev, verified=False)  # the writer checks the key and the signature
