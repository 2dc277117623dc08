"""The log's witnesses (spec §5.9): its checkpoints submitted to C2SP tlog-witnesses, their
cosignatures kept (append-only) and served with the checkpoint.

A background thread runs at most one round per interval. A round signs the latest checkpoint
(on demand, as any read does) and hands it to each witness that has not cosigned it and has no
submission in flight; each submission runs on its own worker thread with a short timeout, so a
slow, dead or refusing witness never holds the writer, never blocks appends, and never delays
the other witnesses. A witness's last known size comes from its stored cosignatures, then from
each answer (a ``409 text/x.tlog.size`` tells it, and the request is retried once from there).
"""

from __future__ import annotations

import base64
import dataclasses
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ..core.checkpoint import CheckpointError, Witness, verify_cosignatures
from ..core.values import format_time
from ..errors import LedgerError
from ..store.protocol import CheckpointRecord, CosignatureRecord, Store
from .log import Log

__all__ = ["SIZE_TYPE", "WitnessState", "WitnessTarget", "Witnessing"]

#: Content type of a witness's 409 body that tells its current size (c2sp.org/tlog-witness).
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class WitnessTarget:
    """A witness of the log: its verifier key and the base URL of its tlog-witness server."""

    witness: Witness
    url: str


@dataclass
class WitnessState:
    """What the log knows of one witness (in memory, for ``/healthz``)."""

    target: WitnessTarget
    #: the size the witness is at, as far as the log knows (None: not known yet)
    last_size: int | None = None
    #: when the witness last cosigned (ISO time), and when it was last asked
    last_ok: str | None = None
    last_attempt: str | None = None
    #: why the last submission failed (None after a success)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.target.witness.name,
            "vkey": self.target.witness.vkey,
            "url": self.target.url,
            "last_size": self.last_size,
            "last_ok": self.last_ok,
            "last_attempt": self.last_attempt,
            "error": self.error,
        }


class _Failed(Exception):
    """A submission that did not end in a stored cosignature."""


class Witnessing:
    """Submissions of ``log``'s checkpoints to ``targets`` and the cosigned checkpoint.

    Args:
        quorum: how many of the witnesses must have cosigned the served checkpoint (0: the
            latest checkpoint is served, with whatever cosignatures it has).
        interval: seconds between two rounds.
        timeout: seconds one HTTP request to a witness may take.
    """

    def __init__(
        self,
        store: Store,
        log: Log,
        targets: Sequence[WitnessTarget],
        *,
        quorum: int,
        interval: float,
        clock: Callable[[], datetime],
        timeout: float = 5.0,
    ) -> None:
        if quorum > len(targets):
            raise LedgerError(f"witness quorum {quorum} exceeds the {len(targets)} witnesses")
        self.store = store
        self.log = log
        self.quorum = quorum
        self.interval = interval
        self.clock = clock
        self.timeout = timeout
        self.states = [WitnessState(t) for t in targets]
        self._vkeys = [t.witness.vkey for t in targets]
        for cos in store.cosignatures() if targets else ():
            for st in self.states:
                if st.target.witness.vkey == cos.witness:
                    st.last_size = max(st.last_size or 0, cos.size)
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[None]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ serving
    def with_cosignatures(self, record: CheckpointRecord) -> CheckpointRecord:
        """``record`` with the stored cosignature lines of the configured witnesses appended."""
        if not self._vkeys:
            return record
        lines = [c.line for c in self.store.cosignatures(record.size) if c.witness in self._vkeys]
        return dataclasses.replace(record, note=record.note + "".join(lines))

    def served_checkpoint(self) -> CheckpointRecord:
        """The checkpoint to serve (spec §5.9): the latest one (signed on demand), unless a
        quorum is configured and a smaller one is the newest cosigned by the quorum; either
        way with its stored cosignatures."""
        record = self.log.checkpoint()
        if self.quorum > 0:
            size = self.store.latest_cosigned_size(self._vkeys, self.quorum)
            if size is not None and size < record.size:
                record = self.log.checkpoint_at(size)
        return self.with_cosignatures(record)

    def status(self, states: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The log's and each witness's state, for ``/healthz`` (``states``: the witnesses'
        states as the process that runs the rounds reports them)."""
        latest = self.store.latest_checkpoint()
        cosigned = (
            self.store.latest_cosigned_size(self._vkeys, max(self.quorum, 1))
            if self._vkeys
            else None
        )
        witnesses = self.witness_states() if states is None else states
        return {
            "checkpoint_size": None if latest is None else latest.size,
            "cosigned_size": cosigned,
            "witness_quorum": self.quorum,
            "witnesses": witnesses,
        }

    def witness_states(self) -> list[dict[str, Any]]:
        """Each witness's state as this process's rounds left it (no database read)."""
        with self._lock:
            return [st.to_dict() for st in self.states]

    # ------------------------------------------------------------------ the thread
    def start(self) -> None:
        """Start the background rounds (nothing to do without witnesses)."""
        if not self.states or self._thread is not None:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(len(self.states), thread_name_prefix="ledger-witness")
        self._thread = threading.Thread(target=self._run, name="ledger-witnessing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the rounds; submissions in flight are abandoned (their HTTP timeout ends them)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.round()
            except Exception as e:
                with self._lock:
                    for st in self.states:
                        st.error = f"round failed: {e}"
            self._stop.wait(self.interval)

    def round(self) -> None:
        """One round: each witness behind the latest checkpoint, with no submission in flight,
        gets it (on a worker thread when started, else here)."""
        if self.store.size() == 0:
            return
        record = self.log.checkpoint()
        for st in self.states:
            vkey = st.target.witness.vkey
            with self._lock:
                if st.last_size == record.size and st.error is None:
                    continue
                busy = self._inflight.get(vkey)
                if busy is not None and not busy.done():
                    continue
            if self._pool is None:
                self._submit(st, record)
            else:
                self._inflight[vkey] = self._pool.submit(self._submit, st, record)

    def _submit(self, st: WitnessState, record: CheckpointRecord) -> None:
        with self._lock:
            st.last_attempt = format_time(self.clock())
            old = st.last_size or 0
        try:
            line = self._add_checkpoint(st, record, old)
        except _Failed as e:
            with self._lock:
                st.error = str(e)
            return
        self.store.add_cosignature(
            CosignatureRecord(st.target.witness.vkey, record.size, line, format_time(self.clock()))
        )
        with self._lock:
            st.last_size = record.size
            st.last_ok = format_time(self.clock())
            st.error = None

    def _add_checkpoint(self, st: WitnessState, record: CheckpointRecord, old: int) -> str:
        """POST add-checkpoint (retried once from the size a 409 tells); the verified
        cosignature line. Raises _Failed."""
        url = st.target.url + "/add-checkpoint"
        for _ in range(2):
            if old > record.size:
                raise _Failed(f"the witness is at size {old}, beyond checkpoint {record.size}")
            proof = self.log.consistency_proof(old, record.size) if old else []
            lines = [f"old {old}", *(base64.b64encode(h).decode("ascii") for h in proof)]
            body = "\n".join(lines) + "\n\n" + record.note
            try:
                r = httpx.post(url, content=body.encode("utf-8"), timeout=self.timeout)
            except httpx.HTTPError as e:
                raise _Failed(f"{type(e).__name__}: {e}") from e
            ctype = r.headers.get("content-type", "")
            if r.status_code == 409 and ctype.startswith(SIZE_TYPE):
                try:
                    old = int(r.text.strip())
                except ValueError:
                    raise _Failed(f"HTTP 409 with a malformed size {r.text[:40]!r}") from None
                with self._lock:
                    st.last_size = old
                continue
            if r.status_code != 200:
                raise _Failed(f"HTTP {r.status_code}: {r.text.strip()[:200]}")
            return self._verified_line(st.target.witness, record, r.text)
        raise _Failed("the witness's size changed again on retry (HTTP 409)")

    @staticmethod
    def _verified_line(witness: Witness, record: CheckpointRecord, text: str) -> str:
        for raw in text.splitlines():
            line = raw + "\n"
            try:
                verify_cosignatures(record.note + line, [witness], 1)
            except CheckpointError:
                continue
            return line
        raise _Failed("the witness answered no valid cosignature of the checkpoint")
