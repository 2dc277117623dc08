"""The node's sequencer and a worker's line to it (``ledger.service.sequencer``), in one process:
the sequencer's loop in a thread, workers as :class:`RemoteWriter` ledgers on the same
database. A worker must get exactly what its own writer thread would have given: the same
receipts, the same refusals with the same codes, idempotent repeats; and once the sequencer is
gone, ``storage_error`` for every waiting and later event, never a hang."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.core.events import SignedEvent, sign
from ledger.core.receipt import Receipt
from ledger.errors import LedgerError, RuleViolation, StorageError
from ledger.service import Ledger
from ledger.service import writer as writer_module
from ledger.service.sequencer import RemoteWriter, serve
from ledger.service.writer import Writer
from ledger.store.sql import SqlStore
from tests.support.ledgers import ORIGIN, log_signer, open_ledger
from tests.support.scenario import KEYS, registered_chain, scrap_body


def _create(lot: str, *, id: str | None = None) -> SignedEvent:
    return sign(
        type="lot.create",
        actor="bwm",
        key=KEYS["bwm"],
        time="2025-07-01T00:00:00Z",
        id=id or str(uuid.uuid4()),
        body=scrap_body(lot),
    )


def _adjust(lot: str, head: str, mass: str) -> SignedEvent:
    return sign(
        type="lot.adjust",
        actor="bwm",
        key=KEYS["bwm"],
        prev={lot: head},
        time="2025-07-02T00:00:00Z",
        body={"lot": lot, "mass_kg": mass, "reason": "scale"},
    )


@dataclass
class Node:
    sequencer: Ledger  # owns the one Writer
    path: str
    stop: threading.Event
    thread: threading.Thread
    url: str

    def worker(self) -> Ledger:
        return open_ledger(self.url, sequencer=self.path)

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


@pytest.fixture
def node(db_url: str, tmp_path: Path) -> Iterator[Node]:
    led = open_ledger(db_url)
    led.append_many(registered_chain().events)
    assert isinstance(led.writer, Writer)
    path = str(tmp_path / "seq.sock")
    stop = threading.Event()
    thread = threading.Thread(
        target=serve,
        args=(path, led.writer, stop),
        kwargs={"status": lambda: [{"url": "https://w.test", "error": "offline"}]},
        daemon=True,
    )
    thread.start()
    while not Path(path).exists():
        threading.Event().wait(0.01)
    n = Node(led, path, stop, thread, db_url)
    try:
        yield n
    finally:
        n.halt()
        led.close()


def test_a_worker_gets_what_the_writer_gives(node: Node) -> None:
    with node.worker() as w:
        assert isinstance(w.writer, RemoteWriter)
        first = _create("SEQ-1")
        receipt = w.append(first)
        assert receipt == Receipt.of(receipt.seq, first)
        assert node.sequencer.event(first.hash)[0] == receipt.seq
        again = w.append(first)  # the same bytes: the same receipt, not created
        assert (again.seq, again.hash, again.created) == (receipt.seq, first.hash, False)
        with pytest.raises(RuleViolation) as dup:  # the same id, other bytes
            w.append(_create("SEQ-2", id=first.id))
        assert dup.value.code == "duplicate_id"
        with pytest.raises(RuleViolation) as stale:
            w.append(_adjust("SEQ-1", "00" * 32, "90"))
        assert stale.value.code == "stale_head"
        moved = w.append(_adjust("SEQ-1", first.hash, "90"))
        assert moved.seq == receipt.seq + 1 and node.sequencer.lot("SEQ-1").head == moved.hash


def test_append_many_through_two_workers_keeps_one_sequence(node: Node) -> None:
    base = node.sequencer.size()
    with node.worker() as a, node.worker() as b:
        results: dict[str, list[Receipt | LedgerError]] = {}

        def run(name: str, ledger: Ledger) -> None:
            evs: list[SignedEvent | bytes] = [_create(f"{name}-{i}") for i in range(300)]
            evs.insert(7, b'{"not": "an event"}')
            results[name] = ledger.append_many(evs)

        threads = [threading.Thread(target=run, args=(n, w)) for n, w in (("A", a), ("B", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for name in ("A", "B"):
        refused = results[name][7]
        assert isinstance(refused, RuleViolation) and refused.code == "invalid_event"
        assert all(isinstance(r, Receipt) for i, r in enumerate(results[name]) if i != 7)
    seqs = sorted(r.seq for rs in results.values() for r in rs if isinstance(r, Receipt))
    assert seqs == list(range(base, base + 600))
    assert node.sequencer.fsck().ok


def test_a_worker_bound_to_its_event_loop_reads_answers_there(node: Node) -> None:
    with node.worker() as w:

        async def main() -> list[Receipt]:
            w.writer.bind(asyncio.get_running_loop())
            futures = [asyncio.wrap_future(w.submit(_create(f"LOOP-{i}"))) for i in range(50)]
            return list(await asyncio.gather(*futures))

        out: list[list[Receipt]] = []  # a loop of its own, in a thread of its own (the test
        # process may already run one: Playwright's sync API does)
        runner = threading.Thread(target=lambda: out.append(asyncio.run(main())))
        runner.start()
        runner.join()
        (receipts,) = out
        assert len({r.seq for r in receipts}) == 50
        assert not any(t.name == "ledger-remote" for t in threading.enumerate())


def test_when_the_sequencer_is_gone_every_write_fails_with_storage_error(node: Node) -> None:
    with node.worker() as w:
        w.append(_create("GONE-0"))
        node.halt()
        with pytest.raises(StorageError, match="sequencer is gone"):
            for i in range(1, 50):  # the first may still be sent before the close is seen
                w.append(_create(f"GONE-{i}"))
        with pytest.raises(StorageError):
            w.append(_create("GONE-last"))


def test_a_worker_without_a_sequencer_says_how_to_start_one(db_url: str, tmp_path: Path) -> None:
    store = SqlStore(db_url)
    try:
        with pytest.raises(StorageError, match="ledger serve"):
            Ledger(store, log_signer=log_signer(), origin=ORIGIN, sequencer=str(tmp_path / "x"))
    finally:
        store.close()


def test_a_worker_reports_the_witness_states_its_sequencer_keeps(node: Node) -> None:
    """The sequencer runs the witnessing; a worker's /healthz shows the sequencer's states."""
    with node.worker() as w:
        assert w.log_status()["witnesses"] == [{"url": "https://w.test", "error": "offline"}]
        node.halt()
        with pytest.raises(StorageError, match="sequencer is gone"):  # /healthz: 503, no hang
            w.log_status()


def test_the_writers_caches_stay_bounded_however_long_the_log(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's caches only save reads: past the bound they start over (the node's memory
    must not grow with the log), and every append still sees the right state."""
    monkeypatch.setattr(writer_module, "CACHE_ENTRIES", 40)
    with open_ledger(db_url) as led:
        led.append_many(registered_chain().events)
        assert isinstance(led.writer, Writer)
        heads = {}
        for i in range(120):
            heads[f"CACHE-{i}"] = led.append(_create(f"CACHE-{i}")).hash
            assert led.writer._cache.entries() <= 40 + 8  # the bound plus one group's rows
        for lot in ("CACHE-0", "CACHE-77"):  # long evicted: read back from the database
            led.append(_adjust(lot, heads[lot], "50"))
        with pytest.raises(RuleViolation) as stale:
            led.append(_adjust("CACHE-0", heads["CACHE-0"], "40"))
        assert stale.value.code == "stale_head"
        assert led.fsck().ok
