"""A real ledger's checkpoints at two sizes, and a witness for its log (spec §5 "Witnesses")."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ledger.core.checkpoint import WitnessSigner
from ledger.witness.app import create_app
from ledger.witness.store import WitnessStore
from ledger.witness.witness import WitnessService
from tests.support.ledgers import ORIGIN, log_signer, open_ledger
from tests.support.scenario import scenario_events

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class Log:
    """Two signed checkpoints of one real ledger and the consistency proof between them."""

    size1: int
    root1: bytes
    note1: str
    size2: int
    root2: bytes
    note2: str
    proof: list[bytes]


def body(old: int, note: str, proof: Sequence[bytes] = ()) -> bytes:
    """An add-checkpoint request body."""
    lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


@pytest.fixture(scope="session")
def log(tmp_path_factory: pytest.TempPathFactory) -> Log:
    path = tmp_path_factory.mktemp("ledger") / "ledger.db"
    ledger = open_ledger(f"sqlite:///{path}")
    events = scenario_events()
    for ev in events[:5]:
        ledger.append(ev)
    cp1 = ledger.checkpoint()
    for ev in events[5:]:
        ledger.append(ev)
    cp2 = ledger.checkpoint()
    proof = ledger.consistency_proof(cp1.size, cp2.size)
    ledger.close()
    assert 0 < cp1.size < cp2.size
    return Log(cp1.size, cp1.root, cp1.note, cp2.size, cp2.root, cp2.note, proof)


@pytest.fixture(scope="session")
def witness_signer() -> WitnessSigner:
    return WitnessSigner.generate("witness.test/w1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WitnessStore]:
    s = WitnessStore(f"sqlite:///{tmp_path / 'witness.db'}")
    yield s
    s.close()


@pytest.fixture
def service(witness_signer: WitnessSigner, store: WitnessStore) -> WitnessService:
    return WitnessService(
        witness_signer, {ORIGIN: [log_signer().verifier]}, store, clock=lambda: NOW
    )


@pytest.fixture
def client(service: WitnessService) -> Iterator[TestClient]:
    with TestClient(create_app(service)) as c:
        yield c
