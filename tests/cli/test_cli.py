"""The ``ledger`` command line: keygen, init, verify (exit 0/1/2), fsck; example-key refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.cli.app import app
from ledger.client.keyfile import load_private_key
from ledger.service.settings import ExampleKeyRefused, Settings
from tests.support.ledgers import scenario_ledger
from tests.support.scenario import ENCLOSURE

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    monkeypatch.setenv("LEDGER_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("LEDGER_ORIGIN", "cli.test/log")
    monkeypatch.delenv("LEDGER_DEMO", raising=False)
    return tmp_path


def test_keygen_writes_a_pem_pkcs8_key(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    result = runner.invoke(app, ["keygen", str(out), "--log-name", "x.test/log"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    load_private_key(out)
    lines = result.output.splitlines()
    assert lines[0].startswith("kid ") and lines[2].startswith("vkey x.test/log+")
    assert runner.invoke(app, ["keygen", str(out)]).exit_code == 2  # no silent overwrite


def test_init_then_fsck(env: Path) -> None:
    result = runner.invoke(app, ["init", "--name", "Test Operator"])
    assert result.exit_code == 0, result.output
    assert "genesis event" in result.output and "log vkey cli.test/log+" in result.output
    assert "attestation issuer did:key:z6Mk" in result.output  # the trust anchors to pin
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 0 and "already initialized (1 events)" in again.output
    fsck = runner.invoke(app, ["fsck", "--json"])
    assert fsck.exit_code == 0, fsck.output
    assert json.loads(fsck.output)["ok"] is True


def test_verify_exit_codes(tmp_path: Path) -> None:
    with scenario_ledger(f"sqlite:///{tmp_path}/s.db") as led:
        bundle = led.bundle(ENCLOSURE)
        vkey = led.log_signer.verifier.vkey
    good = tmp_path / "bundle.json"
    good.write_text(json.dumps(bundle))
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(vkey + "\n")

    ok = runner.invoke(app, ["verify", str(good), "--log-key", vkey])
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.output and "entries verified" in ok.output
    as_json = runner.invoke(app, ["verify", str(good), "--log-key", str(vkey_file), "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["valid"] is True

    bundle["entries"][-1]["event"]["body"]["statement"] = "forged"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle))
    invalid = runner.invoke(app, ["verify", str(bad), "--log-key", vkey, "--json"])
    assert invalid.exit_code == 1
    report = json.loads(invalid.output)
    assert report["valid"] is False and report["errors"][0]["seq"] is not None

    assert (
        runner.invoke(app, ["verify", str(tmp_path / "missing.json"), "--log-key", vkey]).exit_code
        == 2
    )
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"a": 1, "a": 2}')
    assert runner.invoke(app, ["verify", str(garbage), "--log-key", vkey]).exit_code == 2
    assert runner.invoke(app, ["verify", str(good), "--log-key", "not-a-vkey"]).exit_code == 2
    assert runner.invoke(app, ["verify", str(good)]).exit_code == 2  # --log-key is required


def test_verify_jobs_as_a_process(tmp_path: Path) -> None:
    """``ledger verify --jobs 2`` (two worker processes) reports exactly what ``--jobs 1`` does,
    run as the auditor runs it: a whole process, through the fast ``verify`` entry."""
    with scenario_ledger(f"sqlite:///{tmp_path}/s.db") as led:
        bundle = led.bundle(ENCLOSURE)
        vkey = led.log_signer.verifier.vkey
    good = tmp_path / "bundle.json"
    good.write_text(json.dumps(bundle))
    bundle["entries"][-1]["event"]["body"]["statement"] = "forged"
    del bundle["entries"][3]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle))
    root = Path(__file__).resolve().parent.parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}

    def run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "ledger", "verify", str(path), "--log-key", vkey, *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)

    for path, code in ((good, 0), (bad, 1)):
        serial, parallel = run(path, "--jobs", "1", "--json"), run(path, "--jobs", "2", "--json")
        assert serial.returncode == parallel.returncode == code, serial.stderr + parallel.stderr
        assert parallel.stdout == serial.stdout
        assert json.loads(parallel.stdout)["valid"] is (code == 0)
    text = run(good, "-j", "2")
    assert text.returncode == 0 and "VALID" in text.stdout
    zero = run(good, "--jobs", "0")
    assert zero.returncode == 2 and "--jobs 0" in zero.stderr


def test_example_keys_are_refused_outside_demo_mode(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.service.settings import EXAMPLE_KEY_DIR

    monkeypatch.setenv("LEDGER_KEY_DIR", str(EXAMPLE_KEY_DIR))
    with pytest.raises(ExampleKeyRefused, match="published example key"):
        Settings().log_signer()
    result = runner.invoke(app, ["fsck"])
    assert result.exit_code == 2 and "example key" in result.output
    monkeypatch.setenv("LEDGER_DEMO", "1")
    assert Settings().log_signer().name == "cli.test/log"


def test_token_create_list_and_revoke(env: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    created = runner.invoke(app, ["token", "create", "--party", "bwm", "--role", "partner"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    listed = runner.invoke(app, ["token", "list"])
    assert listed.exit_code == 0 and "bwm" in listed.output and "live" in listed.output
    assert token not in listed.output
    revoked = runner.invoke(app, ["token", "revoke", token])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(app, ["token", "list"]).output
    assert runner.invoke(app, ["token", "revoke", token]).exit_code == 1


def test_token_commands_never_make_a_ledger_of_a_mistyped_database(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, ``ledger token create`` on a mistyped LEDGER_DATABASE_URL created (and migrated)
    a new, empty database and issued the token there: the partner then got 401 everywhere."""
    typo = tmp_path / "ledgr.db"
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{typo}")
    for args in (
        ["token", "create", "--party", "bwm", "--role", "partner"],
        ["token", "list"],
        ["token", "revoke", "ltl_x"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "no ledger in the database" in result.output
        assert "ledger init" in result.output and "LEDGER_DATABASE_URL" in result.output
    assert not typo.exists()
    empty = tmp_path / "empty.db"  # a file, but not a ledger's
    empty.write_bytes(b"")
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{empty}")
    result = runner.invoke(app, ["token", "create", "--party", "bwm", "--role", "partner"])
    assert result.exit_code == 2 and "no ledger in the database" in result.output
    assert empty.read_bytes() == b""  # nothing created in it
    # a ledger's schema with an empty log is a ledger: `ledger serve` made it, and the admin
    # token is what then posts the operator's registration over HTTP
    from ledger.store.sql import SqlStore

    SqlStore(f"sqlite:///{tmp_path}/served.db").close()
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path}/served.db")
    result = runner.invoke(app, ["token", "create", "--party", "operator", "--role", "admin"])
    assert result.exit_code == 0, result.output


def test_token_commands_take_the_default_relative_url(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///ledger.db`` (the default) names a file relative to the working folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEDGER_DATABASE_URL", "sqlite:///relative.db")
    assert runner.invoke(app, ["init"]).exit_code == 0
    created = runner.invoke(app, ["token", "create", "--party", "bwm", "--role", "partner"])
    assert created.exit_code == 0, created.output
    assert "bwm" in runner.invoke(app, ["token", "list"]).output


def test_token_commands_say_why_a_database_cannot_be_reached(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a database without the ledger's tables is "no ledger": an unreachable one says so."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://postgres:secret@127.0.0.1:1/x")
    result = runner.invoke(app, ["token", "list"])
    assert result.exit_code == 2, result.output
    assert "no ledger" not in result.output and "database read failed" in result.output
    assert "secret" not in result.output


@pytest.mark.postgres
def test_token_commands_refuse_a_postgres_schema_without_a_ledger(
    env: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", pg_url)
    result = runner.invoke(app, ["token", "create", "--party", "bwm", "--role", "partner"])
    assert result.exit_code == 2 and "no ledger in the database" in result.output
    import psycopg

    with psycopg.connect(pg_url) as conn:  # no table was created in the schema
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()
    assert tables == (0,)
    assert runner.invoke(app, ["init"]).exit_code == 0
    created = runner.invoke(app, ["token", "create", "--party", "bwm", "--role", "partner"])
    assert created.exit_code == 0, created.output


def test_tiles_export(env: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    out = tmp_path / "site"
    first = runner.invoke(app, ["tiles", "export", str(out)])
    assert first.exit_code == 0, first.output
    assert "tree size 1: wrote 3 file(s), kept 0 full tile(s)" in first.output
    assert (out / "checkpoint").read_text().startswith("cli.test/log\n1\n")
    assert len((out / "tile/0/000.p/1").read_bytes()) == 32
    assert len((out / "tile/entries/000.p/1").read_bytes()) == 34
    again = runner.invoke(app, ["tiles", "export", str(out)])
    assert again.exit_code == 0, again.output


def test_a_read_replica_beside_sqlite_is_refused_before_anything_opens(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_READ_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "bad setting: LEDGER_READ_DATABASE_URL is a streaming replica" in result.output
    assert "LEDGER_:" not in result.output
    assert not (env / "ledger.db").exists()
