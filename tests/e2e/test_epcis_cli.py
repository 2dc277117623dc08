"""EPCIS and Battery Pass through the real CLI against real servers (spec §13): a lot exported
from the scenario server, hashed, its Battery Pass data validated, and imported into a second,
fresh server (the same parties registered) where it reads back with the same mass and
custodian; its EPCIS 2.0 XML form then imports as idempotent repeats (one event, one hash)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.client.keyfile import save_private_key
from ledger.service.tokens import create_token
from tests.e2e.conftest import ScenarioServer, ServerProcess, clean_env, run_cli
from tests.interop.test_epcis_io import circularity_validator, fresh
from tests.support import ledgers
from tests.support.epcis_xml import to_xml
from tests.support.scenario import ENCLOSURE, KEYS, NISO4, private_key

pytestmark = pytest.mark.slow


@dataclass
class Target:
    process: ServerProcess
    admin: str

    @property
    def auth(self) -> list[str]:
        return ["--url", self.process.url, "--token", self.admin]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    """A second ``ledger serve`` on a new database holding only the scenario's parties and
    keys (registered in-process first, as the import tests do), open to signed history."""
    workdir = tmp_path / "target"
    key_dir = workdir / "keys"
    key_dir.mkdir(parents=True)
    db_url = f"sqlite:///{workdir / 'ledger.db'}"
    with fresh(db_url) as led:
        admin = create_token(led.store, "operator", "admin")
    save_private_key(private_key("log"), key_dir / "log.pem")
    env = clean_env(
        LEDGER_DATABASE_URL=db_url,
        LEDGER_KEY_DIR=str(key_dir),
        LEDGER_ORIGIN=ledgers.ORIGIN,
        LEDGER_MAX_PAST_SECONDS="null",  # the scenario's history is dated 2025
    )
    process = ServerProcess(env, workdir).start()
    try:
        yield Target(process, admin)
    finally:
        process.stop()
    assert "Traceback" not in process.stderr(), process.stderr()[-3000:]


def test_export_hash_battery_pass_and_import_into_a_second_server(
    scenario_server: ScenarioServer, target: Target, tmp_path: Path
) -> None:
    env = clean_env()
    source = ["--url", scenario_server.url, "--token", scenario_server.tokens["auditor"]]
    exported = tmp_path / "enclosure.jsonld"

    def cli(*args: str) -> str:
        done = run_cli(args, env, tmp_path)
        assert done.returncode == 0, f"{args[:2]}: {done.stdout}{done.stderr}"
        return done.stdout

    with ThreadPoolExecutor(3) as pool:
        export = pool.submit(cli, "epcis", "export", ENCLOSURE, *source, "--out", str(exported))
        passes = [pool.submit(cli, "battery-pass", lot, *source) for lot in (ENCLOSURE, NISO4)]
        assert "wrote" in export.result()
        for lot, done in zip((ENCLOSURE, NISO4), passes, strict=True):
            data = json.loads(done.result())
            circularity_validator().validate(data)
            assert "recycledContent" in data, lot
    assert json.loads(passes[1].result())["recycledContent"][0]["recycledMaterial"] == "Nickel"

    events = json.loads(exported.read_text(encoding="utf-8"))["epcisBody"]["eventList"]
    ids = [e["eventID"] for e in events]
    assert len(ids) > 5
    assert cli("epcis", "hash", str(exported)).splitlines() == ids

    # import into the second server, each party signing its own events (keys stay local)
    signers = sorted({e["ltl:actor"].removeprefix("urn:ltl:party:") for e in events})
    keys: list[str] = []
    for party in signers:
        save_private_key(KEYS[party], tmp_path / f"{party}.pem")
        keys += ["--actor", party, "--key", str(tmp_path / f"{party}.pem")]
    out = cli("epcis", "import", str(exported), *keys, *target.auth)
    assert out.splitlines()[-1] == f"imported {len(ids)} events"
    assert out.count("\tposted") == len(ids)

    shown = json.loads(cli("lot", "show", ENCLOSURE, *target.auth))
    original = httpx.get(
        f"{scenario_server.url}/v1/lots/{ENCLOSURE}", headers=scenario_server.headers("auditor")
    ).json()
    assert (shown["mass_kg"], shown["custodian"]) == (original["mass_kg"], original["custodian"])
    assert (shown["mass_kg"], shown["custodian"]) == ("19500", "packco")

    # the same document as EPCIS 2.0 XML: the same hashes, hence the same (repeated) events
    xml = tmp_path / "enclosure.xml"
    xml.write_text(to_xml(json.loads(exported.read_text(encoding="utf-8"))), encoding="utf-8")
    with ThreadPoolExecutor(2) as pool:
        hashed = pool.submit(cli, "epcis", "hash", str(xml))
        again = pool.submit(cli, "epcis", "import", str(xml), *keys, *target.auth)
        assert hashed.result().splitlines() == ids
        assert again.result().count("\talready there") == len(ids)
