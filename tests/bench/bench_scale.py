"""The node at scale (issue 13, item 5): N events through a real `ledger serve` on PostgreSQL.

    .venv/bin/python -m tests.bench.bench_scale [--events 10000000] [--workers 1] [--clients W]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--keep]

Run once by hand, not in CI: 10,000,000 events take about an hour. The events (lot.create,
pre-signed in chunks of 200,000 by a background process pool, on every core, while the previous
chunk is ingested) go into a fresh PostgreSQL schema through POST /v1/events/batch, 1000 events
a request, from ``--clients`` concurrent posters (default: one per worker). Waiting for a chunk
to be signed is not counted as ingest time. Reported, each with its target:

1. ingest rate of the last 10 % of the events / that of the first 10 % — target >= 0.9 (the
   rate of each 1 % slice is recorded; the JSON line carries all 100), and the overall rate;
2. inclusion and consistency proof latency at the final size: the medians of 1000 random
   proofs at the library level (``merkle.*_proof`` over a ``SqlStore``, as ``bench_ledger``'s
   million-event log) — target <= 1 ms; and the medians of 200 HTTP GETs of
   /v1/log/proof/inclusion and /v1/log/proof/consistency (informative);
3. the server's memory: the summed RSS (VmRSS of /proc/<pid>/status) of every process of the
   node — `ledger serve`, its uvicorn workers, its sequencer: the server's pid and all its
   descendants — sampled every second: the maximum (target < 1 GiB), and RSS at 100 % of the
   events / RSS at 10 % (target: not growing with the log, <= 1.1);
4. the database's size (tables with their indexes and TOAST) per event, and in total.

The schema is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from ledger.service.tokens import create_token
from ledger.store.sql import SqlStore

from .common import proof_medians, sign_creates_chunks
from .servers import (
    batch_body,
    drop_schema,
    fresh_schema,
    ledger_env,
    register_parties,
    serve_ledger,
    stop_server,
)

CHUNK = 200_000  # events signed ahead of the ingest
BATCH = 1000  # events per POST /v1/events/batch
GIB = 1 << 30


# ------------------------------------------------------------------ the server's memory
def _process_tree(root: int) -> dict[int, int]:
    """{pid: ppid} of ``root`` and all its descendants (from /proc/*/stat)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
    tree = {root: parents.get(root, 0)}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree[pid] = ppid
                grew = True
    return tree


def _rss(pid: int) -> int:
    """VmRSS of ``pid`` in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "serve"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except OSError:
        return "gone"
    if b"sequencer_main" in cmd:
        return "sequencer"
    if b"resource_tracker" in cmd:  # multiprocessing's, beside uvicorn's workers
        return "tracker"
    if b"multiprocessing" in cmd:
        return "worker"
    return "other"


@dataclass
class Sample:
    seconds: float
    events: int  # ingested when sampled
    total: int  # bytes, every process of the node
    by_pid: dict[int, int]


@dataclass
class Memory:
    """Samples the node's RSS every second in a thread."""

    root: int
    progress: Progress
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> Sample:
        by_pid = {pid: _rss(pid) for pid in _process_tree(self.root)}
        s = Sample(time.perf_counter(), self.progress.done, sum(by_pid.values()), by_pid)
        self.samples.append(s)
        return s

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.sample()

    def at(self, events: int) -> Sample:
        """The first sample taken when ``events`` events or more were in."""
        return next(s for s in self.samples if s.events >= events)


# ------------------------------------------------------------------ the ingest
@dataclass
class Progress:
    """Events ingested, against an ingest clock that stops while the clients wait for the
    signer; the clock's reading when each 1 % of the ``n`` events was in."""

    n: int
    done: int = 0
    marks: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _start: float = 0.0
    _paused: float = 0.0
    _paused_at: float | None = None

    def bound(self, k: int) -> int:
        """Events in the first ``k`` % slices."""
        return self.n * k // 100

    def start(self) -> None:
        self._start = time.perf_counter()

    def pause(self) -> None:
        self._paused_at = time.perf_counter()

    def resume(self) -> None:
        assert self._paused_at is not None
        self._paused += time.perf_counter() - self._paused_at
        self._paused_at = None

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self._paused

    def add(self, events: int) -> None:
        with self.lock:
            self.done += events
            now = self.elapsed()
            while len(self.marks) < 100 and self.done >= self.bound(len(self.marks) + 1):
                self.marks.append(now)

    def rate(self, k1: int, k2: int) -> float:
        """Events/s from slice ``k1`` % to ``k2`` % of the events."""
        t1 = self.marks[k1 - 1] if k1 else 0.0
        return (self.bound(k2) - self.bound(k1)) / (self.marks[k2 - 1] - t1)


def _client(
    url: str,
    token: str,
    work: queue.Queue[list[bytes] | None],
    progress: Progress,
    errors: list[BaseException],
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as c:
        while (batch := work.get()) is not None:
            try:
                if not errors:
                    r = c.post("/v1/events/batch", content=batch_body(batch))
                    r.raise_for_status()
                    results = r.json()["results"]
                    bad = [x for x in results if x["status"] != 201]
                    if bad or len(results) != len(batch):
                        raise RuntimeError(f"{len(bad)} events refused, e.g. {bad[:1]}")
                    progress.add(len(batch))
            except BaseException as e:
                errors.append(e)
            finally:
                work.task_done()
        work.task_done()


def ingest(
    url: str,
    token: str,
    chunks: Iterator[list[bytes]],
    clients: int,
    progress: Progress,
) -> None:
    """Post each of ``chunks`` in batches from ``clients`` threads; the clock stops while the
    signer finishes the next chunk."""
    size = min(BATCH, max(1, progress.n // 100))  # never more than a 1 % slice
    work: queue.Queue[list[bytes] | None] = queue.Queue()
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_client, args=(url, token, work, progress, errors), daemon=True)
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    try:
        chunk = next(chunks, None)
        progress.start()
        while chunk is not None:
            for i in range(0, len(chunk), size):
                work.put(chunk[i : i + size])
            del chunk
            work.join()
            if errors:
                raise errors[0]
            progress.pause()  # waiting for the signer is not ingest
            chunk = next(chunks, None)
            progress.resume()
            done = progress.done
            print(
                f"  {done:>10} events  {done / progress.elapsed():8.0f} events/s so far",
                flush=True,
            )
    finally:
        for _ in threads:
            work.put(None)
    assert progress.done == progress.n and len(progress.marks) == 100, progress.done


# ------------------------------------------------------------------ proofs and size
def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def library_proofs(db: str) -> tuple[int, float, float]:
    """(size, inclusion median ms, consistency median ms) over 1000 random proofs each, as
    ``bench_ledger``'s million-event log."""
    store = SqlStore(db)
    try:
        size = store.size()
        return (size, *proof_medians(size, store))
    finally:
        store.close()


def http_proofs(url: str, db: str, size: int) -> tuple[float, float]:
    """(inclusion median ms, consistency median ms) over 200 GETs each."""
    rng = random.Random(11)
    store = SqlStore(db)
    try:
        hashes = [r.hash.hex() for r in store.events_by_seqs(rng.sample(range(size), 200))]
    finally:
        store.close()
    rng.shuffle(hashes)
    incl, cons = [], []
    with httpx.Client(base_url=url, timeout=60) as c:
        # the first proof signs the checkpoint of this size on demand: not timed
        c.get("/v1/log/proof/inclusion", params={"hash": hashes[0]}).raise_for_status()
        for h in hashes:
            t = time.perf_counter()
            c.get("/v1/log/proof/inclusion", params={"hash": h, "size": size}).raise_for_status()
            incl.append(time.perf_counter() - t)
        for _ in range(200):
            m = rng.randrange(1, size)
            t = time.perf_counter()
            c.get("/v1/log/proof/consistency", params={"from": m, "to": size}).raise_for_status()
            cons.append(time.perf_counter() - t)
    return _median_ms(incl), _median_ms(cons)


def database_size(pg: str, schema: str) -> int:
    import psycopg

    with psycopg.connect(pg) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            (schema,),
        ).fetchone()
    assert row is not None
    return int(row[0])


# ------------------------------------------------------------------ the run
def _mib(b: float) -> str:
    return f"{b / (1 << 20):.0f} MiB"


@dataclass
class Figures:
    """Everything the run measured (the final JSON line)."""

    events: int
    workers: int
    clients: int
    log_size: int
    ingest_seconds: float
    ingest_rate: float
    first_10pct_rate: float
    last_10pct_rate: float
    ingest_ratio: float
    slice_rates: list[float]
    inclusion_ms: float
    consistency_ms: float
    http_inclusion_ms: float
    http_consistency_ms: float
    rss_max_bytes: int
    rss_10pct_bytes: int
    rss_100pct_bytes: int
    rss_ratio: float
    rss_per_10pct_bytes: list[int]
    rss_final_by_process: dict[str, int]
    rss_samples: int
    db_bytes: int
    db_bytes_per_event: float


def run(args: argparse.Namespace, tmp: Path, schema: str) -> Figures:
    db = fresh_schema(args.postgres, schema)
    store = SqlStore(db)
    token = create_token(store, "operator", "admin")
    store.close()
    print(f"signing the first {min(CHUNK, args.events)} events (set-up, not timed) ...", flush=True)
    # the pool's processes are forked here, before any thread of this process runs
    signer = sign_creates_chunks(args.events, CHUNK, salt="scale")
    chunks = itertools.chain([next(signer)], signer)
    proc, url = serve_ledger(db, args.workers, ledger_env(tmp / "keys"))
    progress = Progress(args.events)
    memory = Memory(proc.pid, progress)
    try:
        register_parties(url, token)
        print(
            f"ingesting {args.events} events through `ledger serve --workers {args.workers}` "
            f"({args.clients} clients, {BATCH} events a request) into schema {schema} ...",
            flush=True,
        )
        memory.sample()
        threading.Thread(target=memory.run, daemon=True).start()
        ingest(url, token, chunks, args.clients, progress)
        end = memory.sample()
        size, incl, cons = library_proofs(db)
        http_incl, http_cons = http_proofs(url, db, size)
        last = memory.sample()
        roles = {pid: _role(pid, proc.pid) for pid in last.by_pid}
    finally:
        memory.stop.set()
        signer.close()
        stop_server(proc)
    db_bytes = database_size(args.postgres, schema)
    seconds = progress.marks[-1]
    tenth = memory.at(progress.bound(10))
    first_rate, last_rate = progress.rate(0, 10), progress.rate(90, 100)
    return Figures(
        events=args.events,
        workers=args.workers,
        clients=args.clients,
        log_size=size,
        ingest_seconds=round(seconds, 1),
        ingest_rate=round(args.events / seconds),
        first_10pct_rate=round(first_rate),
        last_10pct_rate=round(last_rate),
        ingest_ratio=round(last_rate / first_rate, 3),
        slice_rates=[round(progress.rate(k - 1, k)) for k in range(1, 101)],
        inclusion_ms=round(incl, 4),
        consistency_ms=round(cons, 4),
        http_inclusion_ms=round(http_incl, 3),
        http_consistency_ms=round(http_cons, 3),
        rss_max_bytes=max(s.total for s in memory.samples),
        rss_10pct_bytes=tenth.total,
        rss_100pct_bytes=end.total,
        rss_ratio=round(end.total / tenth.total, 3),
        rss_per_10pct_bytes=[memory.at(progress.bound(k)).total for k in range(10, 101, 10)],
        rss_final_by_process={
            f"{roles[pid]}:{pid}": rss for pid, rss in sorted(last.by_pid.items())
        },
        rss_samples=len(memory.samples),
        db_bytes=db_bytes,
        db_bytes_per_event=round(db_bytes / size, 1),
    )


def report(r: Figures) -> None:
    print(
        f"\ningest {r.events} events ({r.workers} worker(s), {r.clients} client(s)): "
        f"{r.ingest_rate:.0f} events/s overall in {r.ingest_seconds:.0f} s; first 10 % "
        f"{r.first_10pct_rate:.0f}/s, last 10 % {r.last_10pct_rate:.0f}/s  "
        f"ratio {r.ingest_ratio:.2f} (target >= 0.9)"
    )
    print(
        f"  per 1 % slice: min {min(r.slice_rates):.0f}/s, median "
        f"{statistics.median(r.slice_rates):.0f}/s, max {max(r.slice_rates):.0f}/s"
    )
    print(
        f"inclusion proof at {r.log_size} entries: median {r.inclusion_ms:.3f} ms  "
        f"consistency proof: median {r.consistency_ms:.3f} ms  (target <= 1 ms)"
    )
    print(
        f"HTTP GET /v1/log/proof/inclusion median {r.http_inclusion_ms:.2f} ms, "
        f"/v1/log/proof/consistency median {r.http_consistency_ms:.2f} ms  (informative)"
    )
    print(
        f"server RSS ({len(r.rss_final_by_process)} processes, {r.rss_samples} samples, 1/s): "
        f"max {_mib(r.rss_max_bytes)} = {r.rss_max_bytes / GIB:.2f} GiB (target < 1 GiB); "
        f"at 10 % {_mib(r.rss_10pct_bytes)}, at 100 % {_mib(r.rss_100pct_bytes)}  "
        f"ratio {r.rss_ratio:.2f} (target <= 1.1: not growing with the log)"
    )
    print("  at the end: " + ", ".join(f"{k} {_mib(v)}" for k, v in r.rss_final_by_process.items()))
    print(
        f"database: {_mib(r.db_bytes)} in total, {r.db_bytes_per_event:.0f} bytes per event "
        "(tables with their indexes and TOAST)"
    )
    print(json.dumps(asdict(r)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=1, help="`ledger serve --workers`")
    parser.add_argument(
        "--clients", type=int, default=None, help="concurrent batch posters (default: workers)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LEDGER_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL URL (a fresh schema is made in it); default "
        "$LEDGER_TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema at the end")
    args = parser.parse_args()
    args.clients = args.clients or args.workers
    if args.events < 1000:
        parser.error("--events: at least 1000 (100 slices of the ingest)")
    schema = f"bench_scale_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="ltl-scale-bench-"))
    try:
        report(run(args, tmp, schema))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.keep:
            print(f"schema kept: {schema} ({args.postgres})")
        else:
            drop_schema(args.postgres, schema)


if __name__ == "__main__":
    main()
