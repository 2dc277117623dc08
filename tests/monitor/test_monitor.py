"""The monitor (spec §5.11) against an in-process ledger: checkpoints followed and compared,
split views and rollbacks reported, a stolen key found by the party's journal."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.client import LedgerClient
from ledger.client.journal import journaled_hashes
from ledger.core.checkpoint import Checkpoint, sign_checkpoint
from ledger.monitor import Monitor, State, load_state, save_state
from ledger.service import Ledger
from ledger.service.settings import Settings
from ledger.service.tokens import create_token
from tests.support.ledgers import ORIGIN, log_signer, scenario_ledger
from tests.support.scenario import KEYS, scrap_body

PARTY = "bwm"


@dataclass
class Env:
    ledger: Ledger
    client: TestClient
    token: str

    def sdk(self, **kw: object) -> LedgerClient:
        return LedgerClient(
            "http://testserver",
            self.token,
            party=PARTY,
            key=KEYS[PARTY],
            transport=self.client._transport,
            **kw,  # type: ignore[arg-type]
        )

    def monitor(self, journal: Path | None = None) -> Monitor:
        """A monitor; with a journal, of PARTY's events."""
        if journal is None:
            return Monitor(self.sdk(), log_signer().verifier)
        hashes = frozenset(journaled_hashes(journal))
        return Monitor(self.sdk(), log_signer().verifier, party=PARTY, journal=hashes)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    url = f"sqlite:///{tmp_path}/ledger.db"
    with scenario_ledger(url) as led:
        app = create_app(Settings(database_url=url), ledger=led)
        yield Env(led, TestClient(app), create_token(led.store, PARTY, "partner"))


def create(sdk: LedgerClient, n: int) -> str:
    """A ``lot.create`` by the client's party; its hash."""
    body = scrap_body(f"MON-{n}-{uuid.uuid4().hex[:8]}")
    return sdk.submit("lot.create", body, time="2025-12-31T00:00:00Z").hash


def test_first_run_records_the_state_then_follows_the_log(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = env.monitor().run(None)
    assert first.findings == [] and first.state is not None
    save_state(path, first.state)
    assert load_state(path) == first.state
    size = first.state.size
    with env.sdk() as sdk:
        create(sdk, 1)
        create(sdk, 2)
    second = env.monitor().run(load_state(path))
    assert second.state is not None and second.state.size == size + 2
    # no --party here: the scan position is kept for a later --party run
    assert second.findings == [] and second.state.scanned == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".state")] == []


def forged(size: int, root: bytes) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), log_signer())


def test_a_second_root_at_a_size_is_a_split_view(env: Env) -> None:
    cp = env.ledger.checkpoint()
    other = forged(cp.size, bytes(32))
    report = env.monitor().run(None, [("witness.txt", other)])
    assert [f.code for f in report.findings] == ["split_view"]
    assert report.findings[0].facts["source"] == "witness.txt"
    assert report.state is None  # nothing verified is kept


def test_an_older_root_that_is_no_prefix_is_inconsistent(env: Env) -> None:
    report = env.monitor().run(None, [("auditor", forged(3, bytes(32)))])
    assert [f.code for f in report.findings] == ["inconsistent"]


def test_a_smaller_tree_than_the_state_is_a_rollback(env: Env) -> None:
    latest = env.monitor().run(None).state
    assert latest is not None
    ahead = State(ORIGIN, latest.size + 5, bytes(32), 0)
    report = env.monitor().run(ahead)
    assert [f.code for f in report.findings] == ["rollback"]
    assert report.state == ahead  # the state does not move back


def test_a_badly_signed_checkpoint_is_reported(env: Env) -> None:
    note = env.client.get("/v1/log/checkpoint").text
    text, _, sig = note.rpartition("\n\n")
    broken = text + "\n\n" + sig.replace(sig.split(" ")[-1], base64.b64encode(b"x" * 68).decode())
    report = env.monitor().run(None, [("mirror", broken)])
    assert [f.code for f in report.findings] == ["bad_checkpoint"]


def test_a_stolen_key_shows_up_the_first_time_it_is_used(env: Env, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    history = env.monitor(journal).run(None)  # bwm's scenario events predate its journal
    assert {f.code for f in history.findings} == {"unjournaled_event"}
    start = env.monitor(journal).run(None, start=env.ledger.size())
    assert start.findings == [] and start.state is not None
    state = start.state
    with env.sdk(journal=journal) as sdk:
        mine = [create(sdk, 1), create(sdk, 2)]
    assert journaled_hashes(journal) == set(mine)
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert set(lines[0]) == {"hash", "id", "type", "actor", "kid", "time"}
    clean = env.monitor(journal).run(state)
    assert clean.findings == [] and clean.events == 2 and clean.state is not None
    assert clean.state.scanned == clean.state.size
    with env.sdk() as thief:  # the same key, no journal
        stolen = create(thief, 3)
    found = env.monitor(journal).run(clean.state)
    assert [f.code for f in found.findings] == ["unjournaled_event"]
    facts = found.findings[0].facts
    assert facts["hash"] == stolen and facts["seq"] == clean.state.size
    assert facts["type"] == "lot.create" and facts["actor"] == PARTY
    # reported once: the next pass starts after it
    assert found.state is not None
    assert env.monitor(journal).run(found.state).findings == []


def test_the_state_is_replaced_never_rewritten_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, State(ORIGIN, 1, bytes(32), 0))
    before = path.stat().st_ino
    save_state(path, State(ORIGIN, 2, bytes(32), 1))
    assert path.stat().st_ino != before  # a new file renamed over the old one
    assert load_state(path) == State(ORIGIN, 2, bytes(32), 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
