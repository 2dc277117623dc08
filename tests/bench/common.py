"""Shared set-up of the benchmarks: a fresh ledger with registered parties, signed events."""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from pathlib import Path

from ledger.core import events, merkle
from ledger.core.checkpoint import Signer
from ledger.core.keys import Ed25519PrivateKey, key_object, public_raw
from ledger.service import Ledger
from ledger.store.sql import SqlStore

ORIGIN = "bench.ltl.example/log"
T0 = "2025-06-01T00:00:00Z"
CLOCK = datetime(2025, 6, 1, tzinfo=UTC)


def det_key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"bench:{name}".encode()).digest())


OPERATOR, RECYCLER, LOG = det_key("operator"), det_key("bwm"), det_key("log")


def register(party: str, roles: list[str], key: Ed25519PrivateKey) -> events.SignedEvent:
    body = {
        "party": {
            "id": party,
            "name": party.upper(),
            "country": "US",
            "roles": roles,
            "feoc": False,
        },
        "keys": [key_object(key)],
    }
    return events.sign(type="party.register", actor="operator", key=OPERATOR, body=body, time=T0)


def open_ledger(url: str) -> Ledger:
    # the ledger's clock stands at T0, when the benchmark's events are dated (spec §3.8 window)
    return Ledger(SqlStore(url), log_signer=Signer(ORIGIN, LOG), origin=ORIGIN, clock=lambda: CLOCK)


def seeded_ledger(url: str) -> Ledger:
    ledger = open_ledger(url)
    for ev in (
        register("operator", ["operator"], OPERATOR),
        register("bwm", ["recycler", "producer"], RECYCLER),
    ):
        ledger.append(ev)
    return ledger


def create_event(i: int, *, salt: str = "") -> bytes:
    body = {
        "lot": f"BWM-B{salt}-{i:08d}",
        "material": "aluminium scrap",
        "mass_kg": "1000",
        "composition": {"Al": "0.92", "Si": "0.04"},
        "source": "post_consumer",
        "site": {"country": "US", "name": "Bartlesville"},
    }
    ev = events.sign(
        type="lot.create",
        actor="bwm",
        key=RECYCLER,
        body=body,
        time=T0,
        id=str(uuid.UUID(int=(hash(salt) & 0xFFFF) << 64 | i, version=4)),
    )
    return ev.canonical


def sign_creates(start: int, stop: int, salt: str = "") -> list[bytes]:
    return [create_event(i, salt=salt) for i in range(start, stop)]


def sign_creates_parallel(n: int, salt: str = "") -> list[bytes]:
    """Sign ``n`` lot.create events on every core (set-up only, never timed)."""
    return [ev for part in sign_creates_chunks(n, max(1, n), salt) for ev in part]


def sign_creates_chunks(n: int, chunk: int, salt: str = "") -> Generator[list[bytes], None, None]:
    """The lot.create events ``0 .. n-1`` in lists of ``chunk``, signed on every core by a
    process pool in the background: while the caller uses one list, the next one is signed, and
    no more (memory stays bounded by two chunks whatever ``n``)."""
    from concurrent.futures import Future, ProcessPoolExecutor

    workers = os.cpu_count() or 1
    step = max(1, chunk // (workers * 8))
    pool = ProcessPoolExecutor(workers)

    def submit(a: int) -> list[Future[list[bytes]]]:
        b = min(n, a + chunk)
        return [pool.submit(sign_creates, s, min(b, s + step), salt) for s in range(a, b, step)]

    try:
        pending = [submit(a) for a in range(0, min(n, 2 * chunk), chunk)]
        following = 2 * chunk
        while pending:
            out: list[bytes] = []
            for future in pending.pop(0):
                out.extend(future.result())
            yield out
            if following < n:
                pending.append(submit(following))
                following += chunk
    finally:
        pool.shutdown(cancel_futures=True)


def proof_medians(size: int, store: merkle.NodeReader, n: int = 1000) -> tuple[float, float]:
    """Median latency in ms of ``n`` random inclusion and ``n`` random consistency proofs in the
    tree of ``size`` leaves, read from ``store`` (the library's proofs, no HTTP)."""
    rng = random.Random(7)
    incl, cons = [], []
    for _ in range(n):
        idx = rng.randrange(size)
        t = time.perf_counter()
        merkle.inclusion_proof(idx, size, store)
        incl.append(time.perf_counter() - t)
        m = rng.randrange(1, size)
        t = time.perf_counter()
        merkle.consistency_proof(m, size, store)
        cons.append(time.perf_counter() - t)
    return statistics.median(incl) * 1e3, statistics.median(cons) * 1e3


def rate(fn: Callable[[], int], *, min_seconds: float = 1.0) -> float:
    """Operations per second of ``fn`` (which returns how many operations it did)."""
    ops, start = 0, time.perf_counter()
    while True:
        ops += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return ops / elapsed


def raw_verify_rate(min_seconds: float = 2.0) -> float:
    """Ed25519 verifications per second on one core (300-byte messages, cached key object)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = det_key("raw")
    msg = os.urandom(300)
    sig = key.sign(msg)
    pub = Ed25519PublicKey.from_public_bytes(public_raw(key))

    def burst() -> int:
        for _ in range(1000):
            pub.verify(sig, msg)
        return 1000

    return rate(burst, min_seconds=min_seconds)


def tmp_sqlite(folder: Path, name: str) -> str:
    path = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"
