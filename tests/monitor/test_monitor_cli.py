"""``ledger monitor`` as a process against a real ``ledger serve`` (spec §5.11)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from ledger.client import LedgerClient
from ledger.core.checkpoint import Checkpoint, sign_checkpoint
from tests.e2e.conftest import ScenarioServer, clean_env, run_cli
from tests.e2e.conftest import scenario_server as scenario_server  # the fixture
from tests.support.ledgers import ORIGIN, log_signer
from tests.support.scenario import KEYS

PARTY = "alus"


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _create(sdk: LedgerClient) -> str:
    body = {
        "lot": f"MONCLI-{uuid.uuid4().hex[:12]}",
        "material": "aluminium scrap",
        "mass_kg": "10",
        "composition": {"Al": "0.92"},
        "source": "post_consumer",
        "site": {"country": "KR", "name": "Gumi"},
    }
    return sdk.submit("lot.create", body).hash


def test_the_monitor_command(scenario_server: ScenarioServer, tmp_path: Path) -> None:
    url, token = scenario_server.url, scenario_server.tokens[PARTY]
    vkey = log_signer().verifier.vkey
    env = clean_env()
    state = tmp_path / "state.json"
    base = ["monitor", "--url", url, "--log-key", vkey, "--state", str(state), "--once"]

    first = run_cli(base, env, tmp_path)
    assert first.returncode == 0, first.stderr
    (summary,) = _lines(first.stdout)
    size = json.loads(state.read_text())["size"]
    assert summary["summary"]["size"] == size > 0

    # a split view handed over by a witness: exit 1, the state stays
    view = tmp_path / "witness-view.txt"
    view.write_text(sign_checkpoint(Checkpoint(ORIGIN, size, bytes(32)), log_signer()))
    split = run_cli([*base, "--checkpoint", str(view)], env, tmp_path)
    assert split.returncode == 1, split.stderr
    assert next(x.get("finding") for x in _lines(split.stdout)) == "split_view"

    # the party journals what it posts; a thief with its key does not
    journal = tmp_path / "journal.jsonl"
    sdk_kw: dict[str, Any] = {"party": PARTY, "key": KEYS[PARTY]}
    start = httpx.get(f"{url}/v1/log/checkpoint").text.split("\n")[1]
    with LedgerClient(url, token, journal=journal, **sdk_kw) as sdk:
        _create(sdk)
    with LedgerClient(url, token, **sdk_kw) as thief:
        stolen = _create(thief)
    watch = [
        "monitor", "--url", url, "--log-key", vkey, "--once", "--party", PARTY,
        "--token", token, "--journal", str(journal), "--start", start,
        "--state", str(tmp_path / "party-state.json"),
    ]  # fmt: skip
    found = run_cli(watch, env, tmp_path)
    assert found.returncode == 1, found.stderr
    findings = [x for x in _lines(found.stdout) if "finding" in x]
    assert [(x["finding"], x["hash"]) for x in findings] == [("unjournaled_event", stolen)]
    again = run_cli(watch, env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
