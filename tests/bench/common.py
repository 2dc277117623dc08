"""Shared set-up of the benchmarks: a fresh ledger with registered parties, signed events."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ledger.core import events
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
    from concurrent.futures import ProcessPoolExecutor

    workers = os.cpu_count() or 1
    step = max(1, n // (workers * 8))
    bounds = [(a, min(n, a + step)) for a in range(0, n, step)]
    out: list[bytes] = []
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(
            sign_creates, [a for a, _ in bounds], [b for _, b in bounds], [salt] * len(bounds)
        ):
            out.extend(part)
    return out


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
