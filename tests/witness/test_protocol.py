"""c2sp.org/tlog-witness add-checkpoint against a real ledger's checkpoints (spec §5)."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from starlette.testclient import TestClient

from ledger.core.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    WitnessSigner,
    sign_checkpoint,
    verify_checkpoint,
    verify_cosignatures,
)
from ledger.witness.store import LogState, WitnessStore
from ledger.witness.witness import MAX_BODY_BYTES, Refusal, WitnessService
from tests.support.ledgers import ORIGIN, log_signer
from tests.witness.conftest import NOW, Log, body

T = TypeVar("T")


def cosigned(note: str, lines: str, witness: WitnessSigner) -> tuple[str, ...]:
    """Verify the witness's answer the way a log does: append it to the note and verify."""
    full = note + lines
    verify_checkpoint(full, log_signer().verifier, origin=ORIGIN)
    return verify_cosignatures(full, [witness.witness], 1, now=NOW)


def test_first_checkpoint_then_a_consistent_one_are_cosigned(
    client: TestClient, log: Log, witness_signer: WitnessSigner, store: WitnessStore
) -> None:
    r = client.post("/add-checkpoint", content=body(0, log.note1))
    assert r.status_code == 200, r.text
    assert r.text.startswith("\u2014 witness.test/w1 ") and r.text.endswith("\n")
    assert cosigned(log.note1, r.text, witness_signer) == ("witness.test/w1",)
    r = client.post("/add-checkpoint", content=body(log.size1, log.note2, log.proof))
    assert r.status_code == 200, r.text
    assert cosigned(log.note2, r.text, witness_signer) == ("witness.test/w1",)
    # the timestamp is the witness's clock
    raw = base64.b64decode(r.text.split()[-1])
    assert int.from_bytes(raw[4:12], "big") == NOW
    assert store.get(ORIGIN) == LogState(log.size2, log.root2)
    assert store.cosigned(ORIGIN) == [
        LogState(log.size1, log.root1),
        LogState(log.size2, log.root2),
    ]
    # the same checkpoint again is cosigned again (old == size, same root, no proof)
    assert client.post("/add-checkpoint", content=body(log.size2, log.note2)).status_code == 200


def test_a_cosignature_does_not_verify_on_another_checkpoint(
    client: TestClient, log: Log, witness_signer: WitnessSigner
) -> None:
    line = client.post("/add-checkpoint", content=body(0, log.note1)).text
    with pytest.raises(CheckpointError, match="does not verify"):
        cosigned(log.note2, line, witness_signer)


def test_a_stale_old_size_is_409_with_the_current_size(client: TestClient, log: Log) -> None:
    assert client.post("/add-checkpoint", content=body(0, log.note2)).status_code == 200
    r = client.post("/add-checkpoint", content=body(0, log.note1))
    assert r.status_code == 409
    assert r.headers["content-type"] == "text/x.tlog.size"
    assert r.text == f"{log.size2}\n"
    # an older checkpoint, with the right old size, is still refused
    r = client.post("/add-checkpoint", content=body(log.size2, log.note1))
    assert r.status_code == 400  # old > checkpoint size
    r = client.post("/add-checkpoint", content=body(log.size1, log.note2, log.proof))
    assert (r.status_code, r.text) == (409, f"{log.size2}\n")


def test_a_bad_consistency_proof_is_422(client: TestClient, log: Log, store: WitnessStore) -> None:
    client.post("/add-checkpoint", content=body(0, log.note1))
    bad = [bytes(32), *log.proof[1:]]
    r = client.post("/add-checkpoint", content=body(log.size1, log.note2, bad))
    assert r.status_code == 422, r.text
    r = client.post("/add-checkpoint", content=body(log.size1, log.note2, log.proof[:-1]))
    assert r.status_code == 422, r.text
    assert store.get(ORIGIN) == LogState(log.size1, log.root1)


def test_unknown_origin_is_404_and_another_key_is_403(client: TestClient, log: Log) -> None:
    other = Signer.generate("other.test/log")
    note = sign_checkpoint(Checkpoint("other.test/log", log.size1, log.root1), other)
    assert client.post("/add-checkpoint", content=body(0, note)).status_code == 404
    impostor = Signer.generate(ORIGIN)  # the log's name, another key
    note = sign_checkpoint(Checkpoint(ORIGIN, log.size1, log.root1), impostor)
    assert client.post("/add-checkpoint", content=body(0, note)).status_code == 403
    # the real note with one byte of its signature changed: the known key fails
    tampered = log.note1[:-6] + ("A" if log.note1[-6] != "A" else "B") + log.note1[-5:]
    assert client.post("/add-checkpoint", content=body(0, tampered)).status_code == 403


def test_a_split_view_is_never_cosigned(client: TestClient, log: Log, store: WitnessStore) -> None:
    """The log key signs a second, different tree at a size the witness cosigned."""
    assert client.post("/add-checkpoint", content=body(0, log.note1)).status_code == 200
    fork = sign_checkpoint(
        Checkpoint(ORIGIN, log.size1, hashlib.sha256(b"fork").digest()), log_signer()
    )
    r = client.post("/add-checkpoint", content=body(log.size1, fork))
    assert r.status_code == 409
    # a forked larger tree cannot come with a proof from the cosigned root
    fork2 = sign_checkpoint(
        Checkpoint(ORIGIN, log.size2, hashlib.sha256(b"fork2").digest()), log_signer()
    )
    r = client.post("/add-checkpoint", content=body(log.size1, fork2, log.proof))
    assert r.status_code == 422
    assert store.cosigned(ORIGIN) == [LogState(log.size1, log.root1)]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"old 1\n",
        b"old 01\n\nx\n",
        b"new 0\n\nx\n",
        b"old 0\nnot base64!\n\nx\n",
        b"old 0\nAAAA\n\nx\n",
        b"old 0\n\nno signatures\n",
        b"\xff\xfe",
        b"old 0\n" + b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64 + b"\nx\n",
    ],
)
def test_malformed_bodies_are_400(client: TestClient, raw: bytes) -> None:
    assert client.post("/add-checkpoint", content=raw).status_code == 400


def test_a_proof_with_old_zero_is_400_and_a_huge_body_is_413(client: TestClient, log: Log) -> None:
    r = client.post("/add-checkpoint", content=body(0, log.note2, log.proof))
    assert r.status_code == 400
    r = client.post("/add-checkpoint", content=b"old 0\n\n" + b"x" * (MAX_BODY_BYTES + 1))
    assert r.status_code == 413


def test_health(client: TestClient, witness_signer: WitnessSigner) -> None:
    r = client.get("/")
    assert r.status_code == 200 and witness_signer.witness.vkey in r.text


def test_concurrent_requests_never_roll_back(service: WitnessService, log: Log) -> None:
    """N threads race from the same old size; exactly one of each competing round wins."""
    service.add_checkpoint(body(0, log.note1))
    fork = sign_checkpoint(
        Checkpoint(ORIGIN, log.size1, hashlib.sha256(b"fork").digest()), log_signer()
    )
    requests = [body(log.size1, log.note2, log.proof)] * 8 + [body(log.size1, log.note1)] * 8
    requests += [body(log.size1, fork)] * 4
    results: list[int] = []
    barrier = threading.Barrier(len(requests))

    def post(raw: bytes) -> None:
        barrier.wait()
        try:
            service.add_checkpoint(raw)
            results.append(200)
        except Refusal as e:
            results.append(e.status)

    _all_at_once(post, requests)
    assert set(results) <= {200, 409}, results
    history = service.store.cosigned(ORIGIN)
    assert [s.size for s in history] == sorted(s.size for s in history)  # only forward
    assert {s.root for s in history if s.size == log.size1} == {log.root1}  # no fork
    # only a request for size2 can move the state past size1, so one of them did, exactly once
    assert service.store.get(ORIGIN) == LogState(log.size2, log.root2)
    assert [s for s in history if s.size == log.size2] == [LogState(log.size2, log.root2)]
    assert len(history) == 1 + results.count(200)
    assert results.count(409) >= 8 + 4 - 1  # the fork always, the losers of the race


def _all_at_once(fn: Callable[[T], None], args: list[T]) -> None:
    threads = [threading.Thread(target=fn, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _advance(store: WitnessStore, expected: LogState | None, new: LogState) -> bool:
    return store.advance("o", expected, new, note="n", cosignature="s", cosigned_at=NOW)


def test_the_store_compare_and_swap(store: WitnessStore) -> None:
    a, b, c = LogState(1, b"a" * 32), LogState(2, b"b" * 32), LogState(3, b"c" * 32)
    assert _advance(store, None, a)
    assert not _advance(store, None, b)  # the first insert happened already
    assert _advance(store, a, c)
    assert not _advance(store, a, b)  # stale: would roll back from 3 to 2
    assert not _advance(store, LogState(3, b"x" * 32), b)  # right size, other root
    assert store.get("o") == c
    assert store.cosigned("o") == [a, c]
    assert store.get("unknown") is None


def test_store_cas_under_threads(store: WitnessStore) -> None:
    start = LogState(1, b"a" * 32)
    _advance(store, None, start)
    wins: list[int] = []
    barrier = threading.Barrier(16)

    def race(n: int) -> None:
        barrier.wait()
        new = LogState(2 + n, bytes([n]) * 32)
        if _advance(store, start, new):
            wins.append(n)

    _all_at_once(race, list(range(16)))
    assert len(wins) == 1
    assert store.get("o") == LogState(2 + wins[0], bytes([wins[0]]) * 32)
    assert len(store.cosigned("o")) == 2


def test_witness_signer_keys_round_trip_and_keep_their_type() -> None:
    w = WitnessSigner.generate("w.test/1")
    assert WitnessSigner.parse(w.skey).witness == w.witness
    assert w.witness.vkey.split("+")[1] == w.key_id.hex()
    with pytest.raises(CheckpointError, match="type 0x01"):
        Signer.parse(w.skey)
    with pytest.raises(CheckpointError, match="type 0x04"):
        WitnessSigner.parse(log_signer().skey)
    cp = Checkpoint(ORIGIN, 1, bytes(32))
    with pytest.raises(CheckpointError, match="out of range"):
        w.cosign(cp, -1)
    line = w.cosign(cp, 7)
    note = sign_checkpoint(cp, log_signer())
    assert verify_cosignatures(note + line, [w.witness], 1, now=7) == ("w.test/1",)
    with pytest.raises(CheckpointError, match="future"):
        verify_cosignatures(note + w.cosign(cp, 1000), [w.witness], 1, now=0)
