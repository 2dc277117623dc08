"""Hardening found in review: nothing answered before its group commits, cancelled callers,
hostile ids never reach the database, witness quorum and origin in offline verification,
proofs sign a checkpoint first, and fsck covers the filter columns."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger.audit.verify import verify_bundle
from ledger.core.checkpoint import Checkpoint, Signer, Witness, sign_checkpoint
from ledger.core.events import sign
from ledger.core.keys import Ed25519PrivateKey, public_raw
from ledger.core.receipt import Receipt
from ledger.errors import StorageError
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.submit import Pending as _Pending
from ledger.service.tokens import create_token
from ledger.store.sql import SqlStore
from tests.support.ledgers import ORIGIN, scenario_ledger, tamper
from tests.support.scenario import BILLET, ENCLOSURE, KEYS, private_key, scenario_events


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    with scenario_ledger(db_url) as led:
        yield led


def _adjust(ledger: Ledger, mass: str) -> Any:
    return sign(
        type="lot.adjust",
        actor="alus",
        key=KEYS["alus"],
        body={"lot": BILLET, "mass_kg": mass, "reason": "trim"},
        prev={BILLET: ledger.lot(BILLET).head},
        time="2025-12-01T00:00:00Z",
    )


def test_no_answer_of_a_group_is_given_before_it_commits(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeat and a refusal in a group whose commit fails get the failure, not a 200/409."""
    real_write = SqlStore.write

    @contextmanager
    def failing_commit(self: SqlStore) -> Iterator[Any]:
        with real_write(self) as tx:
            yield tx
            raise StorageError("disk on fire")

    new = _adjust(ledger, "3000")
    stale = sign(
        type="lot.adjust",
        actor="alus",
        key=KEYS["alus"],
        body={"lot": BILLET, "mass_kg": "2000", "reason": "trim"},
        prev={BILLET: "0" * 64},
        time="2025-12-01T00:00:00Z",
    )
    repeat = scenario_events()[5]
    size = ledger.size()
    monkeypatch.setattr(SqlStore, "write", failing_commit)
    results = ledger.append_many([new, repeat, stale])
    assert [type(r) for r in results] == [StorageError] * 3
    monkeypatch.setattr(SqlStore, "write", real_write)
    assert ledger.size() == size
    assert isinstance(ledger.append(new), Receipt)  # and the ledger goes on


def test_a_cancelled_caller_does_not_break_its_group(ledger: Ledger) -> None:
    first, second = _adjust(ledger, "3000"), None
    gone = _Pending(first, verified=False)
    gone.future.cancel()
    ledger.writer._commit_group([gone])  # the writer skips it
    second = _Pending(first, verified=False)
    ledger.writer._commit_group([second])
    assert second.future.result().created


@pytest.mark.parametrize(
    "path",
    [
        "/v1/lots/%00",
        "/v1/lots/A%00B/events",
        "/v1/parties/%00",
        "/v1/lots?after=%00",
        "/v1/lots?custodian=%00",
        "/v1/parties?after=%00",
    ],
    ids=["lot", "lot-events", "party", "lots-after", "lots-custodian", "parties-after"],
)
def test_hostile_ids_get_4xx_never_5xx(db_url: str, path: str) -> None:
    with scenario_ledger(db_url) as led:
        token = create_token(led.store, "operator", "admin")
        app = create_app(Settings(database_url=db_url), ledger=led)
        with TestClient(app) as client:
            r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (400, 404), r.text
        assert r.headers["content-type"] == "application/problem+json"


def _cosign(note: str, name: str, key: Ed25519PrivateKey, ts: int) -> str:
    text = note.split("\n\n")[0] + "\n"
    msg = f"cosignature/v1\ntime {ts}\n".encode() + text.encode()
    kid = hashlib.sha256(name.encode() + b"\n\x04" + public_raw(key)).digest()[:4]
    sig = kid + ts.to_bytes(8, "big") + key.sign(msg)
    return note + f"\u2014 {name} {base64.b64encode(sig).decode()}\n"


def test_offline_verification_checks_witness_quorum_origin_and_genesis(ledger: Ledger) -> None:
    bundle = ledger.bundle(ENCLOSURE)
    log = ledger.log_signer.verifier
    wkeys = [private_key(f"witness-{i}") for i in range(3)]
    witnesses = [Witness.from_public(f"w{i}.example/w", public_raw(k)) for i, k in enumerate(wkeys)]
    assert not verify_bundle(bundle, log, witnesses=witnesses, quorum=1).ok
    cosigned = dict(
        bundle, checkpoint=_cosign(bundle["checkpoint"], witnesses[1].name, wkeys[1], 1_760_000_000)
    )
    assert verify_bundle(cosigned, log, witnesses=witnesses, quorum=1).ok
    assert not verify_bundle(cosigned, log, witnesses=witnesses, quorum=2).ok

    # a note signed by the log key but for another origin is not this log's checkpoint
    cp = Checkpoint.parse(bundle["checkpoint"].split("\n\n")[0] + "\n")
    other = Signer(ORIGIN, private_key("log"))
    foreign = sign_checkpoint(Checkpoint("another.log/x", cp.size, cp.root), other)
    report = verify_bundle(dict(bundle, checkpoint=foreign), log)
    assert [f.code for f in report.errors] == ["bad_checkpoint"]

    # the first entry must be the genesis at seq 0
    shifted = dict(bundle, entries=[e for e in bundle["entries"] if e["seq"] != 0])
    assert "forbidden" in {f.code for f in verify_bundle(shifted, log).errors}


def test_proofs_sign_a_checkpoint_first(ledger: Ledger) -> None:
    first = ledger.checkpoint()
    ledger.append(_adjust(ledger, "3000"))
    ledger.consistency_proof(first.size, first.size + 1)
    assert ledger.store.latest_checkpoint().size == first.size + 1  # type: ignore[union-attr]


def test_fsck_sees_a_tampered_filter_column(ledger: Ledger) -> None:
    assert ledger.fsck().ok
    tamper(ledger.store, "UPDATE lots SET custodian = 'bwm' WHERE lot = :l", {"l": ENCLOSURE})
    tamper(ledger.store, "UPDATE events SET actor = 'bwm' WHERE seq = 3")
    report = ledger.fsck()
    codes = {c for c, _, _ in report.problems}
    assert {"state_mismatch", "event_altered"} <= codes, report.to_text()
