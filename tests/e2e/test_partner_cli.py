"""The partner-facing CLI (``ledger event sign|post``, ``ledger lot show|events|bundle``) against
a real server, through the SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.client import LedgerClient
from ledger.client.keyfile import save_private_key
from tests.e2e.conftest import Server
from tests.support.scenario import KEYS

pytestmark = pytest.mark.slow

LOT = "urn:epc:class:lgtin:0614141.107346.BM-77"


def test_partner_signs_posts_and_reads_through_the_cli(server: Server, tmp_path: Path) -> None:
    admin, bwm = server.tokens([("operator", "admin"), ("bwm", "partner")])
    with LedgerClient(server.url, admin, party="operator", key=KEYS["operator"]) as op:
        op.register_party(
            "operator", name="Operator", country="US", roles=["operator"], key=KEYS["operator"]
        )
        op.register_party("bwm", name="BWM", country="US", roles=["recycler"], key=KEYS["bwm"])
    key = tmp_path / "bwm.pem"
    save_private_key(KEYS["bwm"], key)
    auth = ["--url", server.url, "--token", bwm]

    body = tmp_path / "create.json"
    body.write_text(
        json.dumps(
            {
                "lot": LOT,
                "material": "black mass",
                "mass_kg": "900",
                "source": "post_consumer",
                "site": {"country": "US"},
            }
        )
    )
    signed = server.cli(
        "event",
        "sign",
        "--type",
        "lot.create",
        "--actor",
        "bwm",
        "--key",
        str(key),
        "--body",
        str(body),
        *auth,
    )
    assert signed.returncode == 0, signed.stderr
    event_file = tmp_path / "create.event.json"
    event_file.write_text(signed.stdout)
    posted = server.cli("event", "post", str(event_file), *auth)
    assert posted.returncode == 0, posted.stderr
    receipt = json.loads(posted.stdout)
    assert receipt["created"] is True and list(receipt["lots"]) == [LOT]
    again = server.cli("event", "post", str(event_file), *auth)
    assert again.returncode == 0 and json.loads(again.stdout)["created"] is False

    # the head is read from the server when signing; a stale copy is refused with its code
    adjust = tmp_path / "adjust.json"
    adjust.write_text(json.dumps({"lot": LOT, "mass_kg": "880", "reason": "moisture"}))
    first = server.cli(
        "event",
        "sign",
        "--type",
        "lot.adjust",
        "--actor",
        "bwm",
        "--key",
        str(key),
        "--body",
        str(adjust),
        *auth,
    )
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["prev"] == {LOT: receipt["hash"]}
    (tmp_path / "a1.json").write_text(first.stdout)
    assert server.cli("event", "post", str(tmp_path / "a1.json"), *auth).returncode == 0
    adjust.write_text(json.dumps({"lot": LOT, "mass_kg": "870", "reason": "dust"}))
    stale = server.cli(
        "event",
        "sign",
        "--type",
        "lot.adjust",
        "--actor",
        "bwm",
        "--key",
        str(key),
        "--body",
        str(adjust),
        "--prev",
        json.dumps({LOT: receipt["hash"]}),
    )
    (tmp_path / "a2.json").write_text(stale.stdout)
    refused = server.cli("event", "post", str(tmp_path / "a2.json"), *auth)
    assert refused.returncode == 1 and "409 stale_head" in refused.stderr

    env_auth = {**server.env, "LEDGER_URL": server.url, "LEDGER_TOKEN": bwm}
    from tests.e2e.conftest import run_cli

    shown = run_cli(["lot", "show", LOT], env_auth, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["mass_kg"] == "880"
    chain = server.cli("lot", "events", LOT, *auth)
    assert chain.returncode == 0 and len(chain.stdout.splitlines()) == 2
    assert "lot.adjust" in chain.stdout.splitlines()[1]
    out = tmp_path / "bundle.json"
    got = server.cli("lot", "bundle", LOT, *auth, "--out", str(out))
    assert got.returncode == 0 and out.exists()
    verified = server.cli("verify", str(out), "--log-key", server.vkey)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    missing = server.cli("lot", "show", "NO-SUCH-LOT", *auth)
    assert missing.returncode == 1 and "404 not_found" in missing.stderr
