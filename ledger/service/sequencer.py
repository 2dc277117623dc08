"""One node's sequencer: the single writer process that its HTTP workers hand events to.

``ledger serve`` starts it before any worker, as a process of its own (``ledger.cli.serving``):
it opens the ledger (claims, migrates and re-indexes the database once), runs the node's ONE
:class:`~ledger.service.writer.Writer` and its witnessing, and listens on a Unix socket in a
private folder (mode 0700) that only the node's own processes reach. Each HTTP worker parses,
authenticates and checks signatures itself (:class:`~ledger.service.submit.Submitter`) and
sends the sequencer only what to order: the event's canonical bytes, its hash and whether its
signature was checked. The sequencer answers each event once its group is committed durably.
So the workers' event loops never share a GIL with the writer, and there is one sequence per
node; several nodes on one PostgreSQL take turns through the writers' advisory lock (see
``writer``: a writer reloads its caches when another one appended in between).

Frames, both ways: a 4-byte big-endian length, then the body.

* request: ``id`` (8 bytes) · ``verified`` (1 byte: 1 checked, 0 not) · the event hash
  (32 bytes) · the event's canonical bytes;
* answer: ``id`` (8 bytes) · ``0`` · ``seq`` (8 bytes) · ``created`` (1 byte), or ``id`` ·
  ``1`` · UTF-8 JSON ``{"kind", "code", "message"}`` of the error that refused the event
  (``kind``: ``rule``, ``busy`` for ``WriterBusy``, or ``storage``);
* a status query is a request with ``verified`` = 2, 32 zero bytes and no event; its answer is
  ``id`` · ``2`` · UTF-8 JSON of the witnesses' states (the sequencer runs the witnessing, so
  the workers' ``/healthz`` asks it).

The sequencer exits when its standard input closes (its ``ledger serve`` is gone, even by
``kill -9``) after committing what it was given; a worker whose sequencer is gone answers
``storage_error`` (503) and its server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import selectors
import socket
import struct
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from itertools import count
from typing import Any

from ..core.events import SignedEvent, stored_event
from ..core.receipt import Receipt
from ..errors import LedgerError, RuleViolation, StorageError, WriterBusy
from ..store.protocol import Store
from .submit import Pending, Submitter
from .writer import Writer

__all__ = ["READY", "RemoteWriter", "serve"]

#: the line the sequencer prints on its standard output once it accepts workers
READY = "sequencer ready"

_HEAD = struct.Struct(">I")
_REQ = struct.Struct(">QB32s")
_OK = struct.Struct(">QBQB")
_ERR = struct.Struct(">QB")
_BUFFER = 4 << 20
_STATUS = 2  # the ``verified`` byte of a status query
#: the kind byte of an answer: a receipt, an error, witness states
_RECEIPT, _ERROR, _STATES = 0, 1, 2


class _FrameReader:
    """Whole frames from a stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def _split(self) -> list[bytes]:
        buf, out, pos = self.buf, [], 0
        while len(buf) - pos >= 4:
            (n,) = _HEAD.unpack_from(buf, pos)
            if len(buf) - pos - 4 < n:
                break
            out.append(bytes(buf[pos + 4 : pos + 4 + n]))
            pos += 4 + n
        del buf[:pos]
        return out

    def drain(self) -> list[bytes]:
        """The whole frames that arrived so far, without waiting (``eof``: the peer left)."""
        while True:
            try:
                chunk = self.sock.recv(_BUFFER, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
        return self._split()

    def read(self) -> list[bytes] | None:
        """The frames that arrived (at least one), or None once the peer closed."""
        while not (out := self._split()):
            chunk = self.sock.recv(_BUFFER)
            if not chunk:
                return None
            self.buf += chunk
        return out


def _frame(body: bytes) -> bytes:
    return _HEAD.pack(len(body)) + body


def _error_body(rid: int, exc: BaseException) -> bytes:
    err = exc if isinstance(exc, LedgerError) else StorageError(f"append failed: {exc!r}")
    kind = (
        "rule"
        if isinstance(err, RuleViolation)
        else "busy"
        if isinstance(err, WriterBusy)
        else "storage"
    )
    doc = {"kind": kind, "code": err.code, "message": err.message}
    return _ERR.pack(rid, _ERROR) + json.dumps(doc).encode()


def _error_of(data: bytes) -> LedgerError:
    doc = json.loads(data)
    if doc["kind"] == "rule":
        return RuleViolation(doc["code"], doc["message"])
    if doc["kind"] == "busy":
        return WriterBusy(doc["message"])
    return StorageError(doc["message"], code=doc["code"])


# ---------------------------------------------------------------------------- the sequencer side
class _Worker:
    """One worker's connection: its unread bytes and the answers it is owed."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = _FrameReader(sock)
        self.closed = False

    def take(self) -> list[tuple[int, Pending | None]]:
        """Every whole request that arrived, without waiting (None: a status query)."""
        out: list[tuple[int, Pending | None]] = []
        for f in self.reader.drain():
            rid, verified, digest = _REQ.unpack_from(f)
            if verified == _STATUS:
                out.append((rid, None))
                continue
            ev = stored_event(f[_REQ.size :], digest.hex())
            out.append((rid, Pending(ev, verified=bool(verified))))
        self.closed = self.closed or self.reader.eof
        return out


def _answer(rid: int, p: Pending) -> bytes:
    exc = p.future.exception(timeout=0)
    if exc is None:
        r = p.future.result()
        return _frame(_OK.pack(rid, _RECEIPT, r.seq, int(r.created)))
    return _frame(_error_body(rid, exc))


def serve(
    path: str,
    writer: Writer,
    stop: threading.Event,
    *,
    ready: Callable[[], None] = lambda: None,
    status: Callable[[], list[dict[str, Any]]] = list,
) -> None:
    """Accept workers on the Unix socket ``path`` and sequence their events until ``stop``.

    One thread does everything, so nothing waits for a GIL: take every request that arrived
    from every worker, commit them as one group (``writer.commit``), send each worker its
    answers in one write, repeat. Whatever arrives during a commit is the next group.
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    ready()
    with listener, selector:
        try:
            _sequence(listener, selector, writer, stop, status)
        finally:  # the workers learn at once that nothing more is committed here
            for key in list(selector.get_map().values()):
                if key.data is not None:
                    key.data.sock.close()


def _sequence(
    listener: socket.socket,
    selector: selectors.BaseSelector,
    writer: Writer,
    stop: threading.Event,
    status: Callable[[], list[dict[str, Any]]],
) -> None:
    """Take, commit, answer: until ``stop`` (see :func:`serve`). Nothing one connection sends
    or one failed query can stop the loop: that connection is dropped (its worker fails its
    waiting events), the query answered empty."""
    while not stop.is_set():
        group: list[tuple[_Worker, int, Pending]] = []
        queries: list[tuple[_Worker, int]] = []
        for key, _ in selector.select(timeout=0.2):
            if key.data is None:
                _accept(listener, selector)
                continue
            worker: _Worker = key.data
            try:
                for rid, p in worker.take():
                    if p is None:
                        queries.append((worker, rid))
                    else:
                        group.append((worker, rid, p))
            except Exception as e:  # a frame the protocol does not allow: a broken worker
                _complain(f"dropping a worker connection: {e!r}")
                worker.closed = True
            if worker.closed:
                selector.unregister(worker.sock)
                worker.sock.close()
        if group:
            writer.commit([p for _, _, p in group])  # answers every future, never raises
        answers: dict[_Worker, list[bytes]] = {}
        for worker, rid, p in group:
            answers.setdefault(worker, []).append(_answer(rid, p))
        _send(answers)  # receipts first: a query never delays them
        if queries:
            try:
                states = json.dumps(status()).encode()
            except Exception as e:
                _complain(f"witness states unavailable: {e!r}")
                states = b"[]"
            _send({w: [_frame(_ERR.pack(rid, _STATES) + states)] for w, rid in queries})


def _accept(listener: socket.socket, selector: selectors.BaseSelector) -> None:
    try:
        sock, _ = listener.accept()
    except BlockingIOError:
        return
    except OSError as e:  # out of file descriptors, an aborted connection: not fatal
        _complain(f"accept failed: {e!r}")
        return
    sock.setblocking(True)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
    selector.register(sock, selectors.EVENT_READ, _Worker(sock))


def _send(answers: dict[_Worker, list[bytes]]) -> None:
    for worker, frames in answers.items():
        if not worker.closed:
            with contextlib.suppress(OSError):  # a worker that left is not waiting
                worker.sock.sendall(b"".join(frames))


def _complain(message: str) -> None:
    print(f"sequencer: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the worker side
class RemoteWriter(Submitter):
    """A worker's writer: checks signatures here, has the node's sequencer order and commit.

    Answers are read by the worker's event loop once :meth:`bind` is called (no thread then
    competes with the loop for the GIL), else by a reader thread of its own.

    Raises (from its futures): what the sequencer's writer raised, or ``StorageError`` once
    the sequencer is gone.
    """

    def __init__(self, store: Store, path: str) -> None:
        super().__init__(store)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(path)
        except OSError as e:
            self._sock.close()
            raise StorageError(
                f"cannot reach this node's sequencer at {path} ({e}): start the server with "
                "`ledger serve`, which starts the sequencer first"
            ) from e
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        self._frames = _FrameReader(self._sock)
        self._ids = count()
        self._waiting: dict[int, Pending] = {}
        self._queries: dict[int, Future[list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._gone: StorageError | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._outbox: list[bytes] = []
        self._drainer: asyncio.Task[None] | None = None
        self._reader: threading.Thread | None = None
        #: called once when the sequencer is found gone
        self.on_gone: Callable[[], None] | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read answers in ``loop`` (call from its thread, before the first append)."""
        with self._lock:
            if self._reader is None and self._loop is None:
                self._loop, self._loop_thread = loop, threading.get_ident()
                self._sock.setblocking(False)  # the loop reads and writes it from now on
                loop.add_reader(self._sock.fileno(), self._on_readable)

    def submit_async(self, event: bytes | SignedEvent) -> asyncio.Future[Receipt]:
        """Submit from the bound event loop: the answer resolves an asyncio future directly
        (no cross-thread hand-off per request)."""
        loop = self._loop
        if loop is None or threading.get_ident() != self._loop_thread:
            return super().submit_async(event)
        pending = self.prepare(event)
        pending.waiter = loop.create_future()
        self._enqueue([pending])
        return pending.waiter

    def witness_states(self) -> list[dict[str, Any]] | None:
        """The witnesses' states, asked of the sequencer (which runs the witnessing); None on
        the bound event loop's own thread (it would wait for itself).

        Raises:
            StorageError: the sequencer is gone or did not answer within 2 s (``/healthz``
                then says the node cannot write: 503).
        """
        if threading.get_ident() == self._loop_thread:
            return None
        answer: Future[list[dict[str, Any]]] = Future()
        with self._lock:
            if self._gone is not None:
                raise self._gone
            self._start_reader()
            rid = next(self._ids)
            self._queries[rid] = answer
            self._transmit([_frame(_REQ.pack(rid, _STATUS, bytes(32)))])
        try:
            return answer.result(timeout=2)
        except TimeoutError:
            with self._lock:
                self._queries.pop(rid, None)
            raise StorageError(
                "this node's sequencer did not answer within 2 s: it is stalled or overloaded"
            ) from None

    def _start_reader(self) -> None:
        """Read answers in a thread of our own unless the event loop does (lock held)."""
        if self._loop is None and self._reader is None:
            self._reader = threading.Thread(
                target=self._read_loop, name="ledger-remote", daemon=True
            )
            self._reader.start()

    def _enqueue(self, batch: list[Pending]) -> None:
        out = []
        with self._lock:
            if self._gone is not None:
                raise self._gone
            self._start_reader()
            for p in batch:
                if not p.future.set_running_or_notify_cancel():
                    continue  # the caller gave up before it was sent
                rid = next(self._ids)
                self._waiting[rid] = p
                head = _REQ.pack(rid, int(p.verified), p.ev.hash_bytes)
                out.append(_frame(head + p.ev.canonical))
            self._transmit(out)

    def _transmit(self, frames: list[bytes]) -> None:
        """Send whole frames (lock held). Bound to a loop, only the loop writes the socket,
        never blocking: no caller thread waits on the socket with the lock held, and the loop
        never waits on a slow sequencer. Unbound, a blocking write under the lock."""
        if self._loop is None:
            try:
                self._sock.sendall(b"".join(frames))
            except OSError as e:
                self._fail(e)
        elif threading.get_ident() == self._loop_thread:
            self._push(frames)
        else:
            self._loop.call_soon_threadsafe(self._push, frames)

    def _push(self, frames: list[bytes]) -> None:
        """(On the loop.) Queue frames; one drain task writes everything queued per turn."""
        self._outbox.extend(frames)
        if self._drainer is None and self._loop is not None:
            self._drainer = self._loop.create_task(self._drain())

    async def _drain(self) -> None:
        assert self._loop is not None
        try:
            while self._outbox:
                data = b"".join(self._outbox)
                self._outbox.clear()
                await self._loop.sock_sendall(self._sock, data)
        except OSError as e:
            with self._lock:
                self._fail(e)
        finally:
            self._drainer = None

    def _resolve(self, frames: list[bytes]) -> None:
        for f in frames:
            rid, kind = _ERR.unpack_from(f)
            if kind == _STATES:
                with self._lock:
                    query = self._queries.pop(rid, None)
                if query is not None:  # None: its asker gave up waiting
                    query.set_result(json.loads(f[_ERR.size :]))
                continue
            with self._lock:
                p = self._waiting.pop(rid)
            if kind == _RECEIPT:
                _, _, seq, created = _OK.unpack_from(f)
                self._settle(p, Receipt.of(seq, p.ev, created=bool(created)))
            else:
                self._settle(p, _error_of(f[_ERR.size :]))

    def _settle(self, p: Pending, outcome: Receipt | LedgerError) -> None:
        """Answer the caller, on the loop's thread when it awaits there."""
        if p.waiter is None:
            if isinstance(outcome, Receipt):
                p.future.set_result(outcome)
            else:
                p.future.set_exception(outcome)
        elif threading.get_ident() != self._loop_thread:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._settle, p, outcome)
        elif not p.waiter.done():  # not cancelled (the HTTP request went away)
            if isinstance(outcome, Receipt):
                p.waiter.set_result(outcome)
            else:
                p.waiter.set_exception(outcome)

    def _on_readable(self) -> None:
        self._resolve(self._frames.drain())
        if self._frames.eof:
            assert self._loop is not None
            self._loop.remove_reader(self._sock.fileno())
            with self._lock:
                self._fail(None)

    def _read_loop(self) -> None:
        try:
            while (frames := self._frames.read()) is not None:
                self._resolve(frames)
        except OSError as e:
            with self._lock:
                self._fail(e)
            return
        with self._lock:
            self._fail(None)

    def _fail(self, cause: BaseException | None) -> None:
        """The sequencer is gone: every waiting and later event fails (lock held), and
        ``on_gone`` runs once (a worker of ``ledger serve --workers N`` then stops)."""
        if self._gone is None:
            why = f" ({cause})" if cause else ""
            self._gone = StorageError(
                f"this node's sequencer is gone{why}: an event that was not answered may or "
                "may not be committed — send the same bytes again (same id: idempotent), to "
                "this node once `ledger serve` is restarted or to another node"
            )
            if self.on_gone is not None:
                self.on_gone()
        for p in self._waiting.values():
            if not p.future.done():
                self._settle(p, self._gone)
        self._waiting.clear()
        for query in self._queries.values():
            query.set_exception(self._gone)
        self._queries.clear()

    def close(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._sock.fileno())
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._sock.close()
