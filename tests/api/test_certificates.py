"""Certificates end to end (spec §8): issue over the API, fetch as JSON/PDF/HTML, verify by
proof AND by recomputing every figure from the bundle — on both databases."""

from __future__ import annotations

import copy
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import create_app
from ledger.attest.certificates import verify_certificate
from ledger.attest.credentials import (
    add_proof,
    did_key,
    issue_certificate,
    verification_method_of,
)
from ledger.cli.app import app as cli
from ledger.client.keyfile import save_private_key
from ledger.core.keys import public_raw
from ledger.core.values import UUID_RE
from ledger.service.settings import Settings
from ledger.service.tokens import create_token
from tests.support.ledgers import PUBLIC_URL, scenario_ledger
from tests.support.scenario import ENCLOSURE, NISO4, private_key

ATTEST = private_key("attest")


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[TestClient, Any, dict[str, str]]]:
    with scenario_ledger(db_url) as led, tempfile.TemporaryDirectory() as keys:
        save_private_key(ATTEST, Path(keys) / "attest.pem")
        settings = Settings(database_url=db_url, key_dir=Path(keys), public_url=PUBLIC_URL)
        app = create_app(settings, ledger=led)
        tokens = {
            "auditor": create_token(led.store, "auditor", "auditor"),
            "packco": create_token(led.store, "packco", "partner"),
            "bwm": create_token(led.store, "bwm", "partner"),
        }
        with TestClient(app) as client:
            yield client, led, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _issue(client: TestClient, token: str, lot: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/certificates", json={"lot": lot, **extra}, headers=_auth(token))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_issue_fetch_and_verify_a_certificate(api: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, _, tokens = api
    cred = _issue(client, tokens["auditor"], ENCLOSURE, as_of="2031-09-01")
    ref = cred["id"].removeprefix(f"{PUBLIC_URL}/c/")
    assert UUID_RE.fullmatch(ref), cred["id"]  # the id is the public page, a capability URL
    assert cred["type"] == ["VerifiableCredential", "RecycledContentCertificate"]
    assert cred["issuer"] == {"id": did_key(public_raw(ATTEST)), "name": "LTL Operator"}
    assert cred["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    subject = cred["credentialSubject"]
    assert subject["recycled_content"]["mass"]["recycled"] == "0.798793"
    assert subject["compliance"][0]["as_of"] == "2031-09-01"
    bundle = client.get(f"/v1/lots/{ENCLOSURE}/bundle", headers=_auth(tokens["auditor"])).json()
    assert subject["evidence"]["checkpoint"] == bundle["checkpoint"]
    # the stored certificate, as JSON, PDF and HTML
    got = client.get(f"/v1/certificates/{ref}", headers=_auth(tokens["packco"]))
    assert got.json() == cred
    pdf = client.get(f"/v1/certificates/{ref}.pdf", headers=_auth(tokens["packco"]))
    assert pdf.headers["content-type"] == "application/pdf"
    pages = pypdf.PdfReader(io.BytesIO(pdf.content)).pages
    text = " ".join(" ".join(page.extract_text().split()) for page in pages)
    for fact in (
        ENCLOSURE,
        "battery pack enclosure",
        "19500 kg",
        "79.88 %",
        "eu-2023-1542-art8",
        f"{PUBLIC_URL}/c/{ref}",
    ):
        assert fact in text, fact
    page = client.get(f"/v1/certificates/{ref}.html", headers=_auth(tokens["packco"]))
    assert "<svg" in page.text and ENCLOSURE in page.text
    # the page the QR code leads to shows the verification against the stored bundle
    assert f"certificate for lot {ENCLOSURE}: VALID" in page.text
    assert "figures recomputed from the bundle: yes" in page.text
    assert client.get(f"/v1/certificates/{ref}", headers=_auth(tokens["bwm"])).status_code == 404
    # verification is public, and recomputes the figures from the bundle
    r = client.post("/v1/certificates/verify", json={"credential": cred, "bundle": bundle})
    report = r.json()
    assert r.status_code == 200 and report["valid"] and report["recomputed"], report


def test_a_changed_share_breaks_the_proof(api: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, _, tokens = api
    cred = _issue(client, tokens["auditor"], NISO4)
    forged = copy.deepcopy(cred)
    forged["credentialSubject"]["recycled_content"]["elements"]["Ni"]["recycled"] = "0.900000"
    report = client.post("/v1/certificates/verify", json={"credential": forged}).json()
    assert not report["valid"]
    assert [e["code"] for e in report["errors"]] == ["bad_proof"]


def test_a_signed_certificate_the_bundle_does_not_support_names_the_mismatch(
    api: tuple[TestClient, Any, dict[str, str]],
) -> None:
    client, led, tokens = api
    honest = _issue(client, tokens["auditor"], NISO4)
    subject = copy.deepcopy(honest["credentialSubject"])
    subject["recycled_content"]["elements"]["Ni"]["post_consumer"] = "0.450000"
    lying = issue_certificate(
        subject,
        issuer_key=ATTEST,
        valid_from=honest["validFrom"],
        id="urn:uuid:00000000-0000-4000-8000-000000000001",
    )
    bundle = led.bundle(NISO4)
    report = verify_certificate(lying, bundle, log_keys=[led.log_signer.verifier])
    assert not report.ok
    paths = [m for c, m in report.errors if c == "figure_mismatch"]
    assert len(paths) == 1, report.to_text()
    assert paths[0].startswith(
        "credentialSubject.recycled_content.elements.Ni.post_consumer: the certificate says "
        "'0.450000', the bundle gives '0.300000'"
    )
    # ... while the evidence digest still names the bundle, so it is not a wrong-bundle case
    assert all(c != "evidence_mismatch" for c, _ in report.errors)


def test_a_bundle_of_another_lot_is_refused(api: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, led, tokens = api
    cred = _issue(client, tokens["auditor"], NISO4)
    other = led.bundle(ENCLOSURE)
    report = verify_certificate(cred, other, log_keys=[led.log_signer.verifier])
    assert [c for c, _ in report.errors] == ["wrong_bundle"]
    assert not report.recomputed


def test_partners_certify_only_their_own_custody_lots(
    api: tuple[TestClient, Any, dict[str, str]],
) -> None:
    client, _, tokens = api
    _issue(client, tokens["packco"], ENCLOSURE)
    for lot in ("ALUS-BILLET-0007", NISO4):  # upstream (cut-off) and invisible
        r = client.post("/v1/certificates", json={"lot": lot}, headers=_auth(tokens["packco"]))
        assert r.status_code == 404, r.text


def test_cli_certificate_verify_exit_codes(
    api: tuple[TestClient, Any, dict[str, str]], tmp_path: Path
) -> None:
    client, led, tokens = api
    cred = _issue(client, tokens["auditor"], ENCLOSURE)
    (tmp_path / "cert.json").write_text(json.dumps(cred))
    (tmp_path / "bundle.json").write_text(json.dumps(led.bundle(ENCLOSURE)))
    (tmp_path / "other.json").write_text(json.dumps(led.bundle(NISO4)))
    vkey = led.log_signer.verifier.vkey
    issuer = cred["issuer"] if isinstance(cred["issuer"], str) else cred["issuer"]["id"]
    run = CliRunner().invoke
    args = ["certificate", "verify", str(tmp_path / "cert.json"), "--bundle"]
    ok = run(cli, [*args, str(tmp_path / "bundle.json"), "--log-key", vkey, "--issuer", issuer])
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.output and "recomputed from the bundle: yes" in ok.output
    # no trusted issuer: sound, but UNTRUSTED (exit 1), saying how to trust one
    untrusted = run(cli, [*args, str(tmp_path / "bundle.json"), "--log-key", vkey])
    assert untrusted.exit_code == 1 and ": UNTRUSTED" in untrusted.output
    assert "--issuer" in untrusted.output
    # a trust file works like --issuer
    (tmp_path / "trust.txt").write_text(f"# our ledger\n{issuer}\n")
    trusted = run(
        cli, [*args, str(tmp_path / "bundle.json"), "--trust", str(tmp_path / "trust.txt")]
    )
    assert trusted.exit_code == 0, trusted.output
    wrong = run(
        cli,
        [
            "certificate",
            "verify",
            str(tmp_path / "cert.json"),
            "--bundle",
            str(tmp_path / "other.json"),
            "--json",
        ],
    )
    codes = [e["code"] for e in json.loads(wrong.output)["errors"]]
    assert wrong.exit_code == 1 and "wrong_bundle" in codes
    missing = run(cli, ["certificate", "verify", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2


def test_a_certificate_re_signed_by_a_stranger_is_untrusted_and_a_tampered_one_says_what_it_claims(
    api: tuple[TestClient, Any, dict[str, str]], tmp_path: Path
) -> None:
    """Issue 9: anyone can re-sign a certificate with the share changed to 99 %: without the
    ledger's issuer it must not say VALID; a tampered one still names its claimed lot."""
    client, _, tokens = api
    cred = _issue(client, tokens["auditor"], ENCLOSURE)
    issuer = cred["issuer"] if isinstance(cred["issuer"], str) else cred["issuer"]["id"]
    forged = {k: v for k, v in cred.items() if k not in ("proof", "issuer")}
    forged["credentialSubject"] = {**forged["credentialSubject"]}
    forged["credentialSubject"]["recycled_content"] = {
        **forged["credentialSubject"]["recycled_content"],
        "mass": {"post_consumer": "99 %"},
    }
    stranger = private_key("stranger")
    forged["issuer"] = did_key(public_raw(stranger))
    forged = add_proof(
        forged,
        stranger,
        verification_method=verification_method_of(forged["issuer"]),
        created="2026-01-01T00:00:00Z",
    )
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    run = CliRunner().invoke
    out = run(cli, ["certificate", "verify", str(tmp_path / "forged.json"), "--issuer", issuer])
    assert out.exit_code == 1 and ": UNTRUSTED" in out.output, out.output
    bare = run(cli, ["certificate", "verify", str(tmp_path / "forged.json")])
    assert bare.exit_code == 1 and "VALID" not in bare.output.replace("INVALID", "")
    tampered = {**cred, "credentialSubject": {**cred["credentialSubject"], "mass_kg": "1"}}
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    bad = run(cli, ["certificate", "verify", str(tmp_path / "tampered.json"), "--issuer", issuer])
    assert bad.exit_code == 1
    assert f"lot {ENCLOSURE} (claimed, unverified): INVALID" in bad.output
    assert f"issuer: {issuer} (claimed, unverified)" in bad.output


def test_the_trust_anchors_are_public(api: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, led, _ = api
    resp = client.get("/.well-known/ltl-trust")  # no token
    assert resp.status_code == 200
    body = resp.json()
    assert body["log_vkey"] == led.log_signer.verifier.vkey
    assert body["issuer"] == did_key(public_raw(private_key("attest")))
