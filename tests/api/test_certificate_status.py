"""Certificates for strangers (spec §8.2, §8.9): public capability URLs, status that follows the
ledger (superseded when its figures no longer hold, revoked by an admin), published as a signed
W3C Bitstring Status List, and checked by the verifier — on both databases."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledger.attest.certificates import verify_certificate
from ledger.attest.credentials import add_proof, verification_method_of
from ledger.attest.status import (
    CLOCK_SKEW,
    LIST_BITS,
    LIST_TTL,
    check_status,
    decode_list,
    encode_list,
    entry_of,
    status_list_credential,
)
from ledger.cli.certstatus import fetch_status
from ledger.core.events import sign
from ledger.core.values import UUID_RE
from ledger.service.settings import Settings
from tests.api.test_api import LATE, Env, app_env, assert_problem
from tests.support.ledgers import NOW, PUBLIC_URL
from tests.support.scenario import ENCLOSURE, KEYS, NISO4, private_key

ATTEST = private_key("attest")


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with app_env(db_url) as e:
        yield e


def _ref(credential: dict[str, Any]) -> str:
    return str(credential["id"]).rsplit("/", 1)[-1]


def _local(url: str) -> str:
    """The path of one of this ledger's public URLs (the test client has no DNS)."""
    assert url.startswith(PUBLIC_URL + "/"), url
    return url[len(PUBLIC_URL) :]


def _issue(env: Env, lot: str = ENCLOSURE, **extra: Any) -> dict[str, Any]:
    r = env.client.post("/v1/certificates", json={"lot": lot, **extra}, headers=_h(env.auditor))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class _Local(httpx.BaseTransport):
    """An httpx transport that routes this ledger's public URLs into the test client."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        r = self.client.get(_local(str(request.url)))
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)


def _online(env: Env, credential: dict[str, Any]) -> dict[str, Any] | None:
    # the test ledgers' clock is fixed: the lists they sign are current at that time
    return fetch_status(credential, transport=_Local(env.client), now=NOW)


def _adjust(env: Env, lot: str, mass: str, actor: str = "packco") -> None:
    head = env.ledger.lot(lot).head
    ev = sign(
        type="lot.adjust",
        actor=actor,
        key=KEYS[actor],
        body={"lot": lot, "mass_kg": mass, "reason": "weighbridge recalibrated"},
        prev={lot: head},
        time=LATE,
    )
    r = env.post_event(ev, env.partner[actor])
    assert r.status_code == 201, r.text


# --------------------------------------------------------------------------- public URLs


def test_a_certificate_is_readable_without_a_token_at_its_capability_url(env: Env) -> None:
    cred = _issue(env)
    assert cred["id"].startswith(f"{PUBLIC_URL}/c/") and UUID_RE.fullmatch(_ref(cred))
    page = env.client.get(_local(cred["id"]))  # no token
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"certificate for lot {ENCLOSURE}: VALID" in page.text
    assert "status: valid" in page.text
    # a capability URL must not leak through Referer, be indexed, or run anything
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in page.headers["x-robots-tag"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text.lower()
    assert env.client.get(_local(cred["id"]) + ".json").json() == cred
    pdf = env.client.get(_local(cred["id"]) + ".pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    status = env.client.get(_local(cred["id"]) + "/status").json()
    assert status["status"] == "valid" and status["id"] == cred["id"]
    # a guess is 404, and anything that is not a UUID is not even looked up
    for path in ("/c/00000000-0000-4000-8000-000000000000", "/c/..%2Fv1%2Flots", "/c/%00"):
        assert_problem(env.client.get(path), 404, "not_found")


def test_listing_certificates_needs_a_token_and_follows_the_visibility_rule(env: Env) -> None:
    enclosure, niso4 = _issue(env), _issue(env, NISO4)
    assert_problem(env.client.get("/v1/certificates"), 401, "unauthorized")

    def listed(token: str, **params: Any) -> set[str]:
        r = env.client.get("/v1/certificates", params=params, headers=_h(token))
        assert r.status_code == 200, r.text
        return {item["url"] for item in r.json()["items"]}

    everything = listed(env.auditor)
    assert {enclosure["id"], niso4["id"], env.certificate["id"]} <= everything
    # packco holds the enclosure, not bwm's nickel sulfate; bwm the reverse
    assert enclosure["id"] in listed(env.partner["packco"])
    assert niso4["id"] not in listed(env.partner["packco"])
    assert niso4["id"] in listed(env.partner["bwm"])
    assert enclosure["id"] not in listed(env.partner["bwm"])
    assert listed(env.auditor, lot=NISO4) == {niso4["id"]}
    # paging: one at a time, the cursor walks them all
    seen, after = set(), None
    while True:
        params = {"limit": 1, **({"after": after} if after else {})}
        page = env.client.get("/v1/certificates", params=params, headers=_h(env.auditor)).json()
        seen |= {i["url"] for i in page["items"]}
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == everything


def test_no_certificate_is_issued_without_a_public_url_outside_demo_mode(db_url: str) -> None:
    with app_env(db_url, public_url=None) as env:
        before = env.ledger.certificates.list()
        r = env.client.post("/v1/certificates", json={"lot": ENCLOSURE}, headers=_h(env.auditor))
        body = assert_problem(r, 503, "public_url_unset")
        assert "LEDGER_PUBLIC_URL" in body["detail"]
        assert env.ledger.certificates.list() == before


def test_bad_public_urls_are_refused_when_the_settings_are_read() -> None:
    for bad in ("ledger.example.com", "ftp://x.example", "https://x.example/?a=1", "https://u@x"):
        with pytest.raises(ValueError, match="LEDGER_PUBLIC_URL"):
            Settings(public_url=bad)
    assert Settings(public_url="https://x.example/ledger/").public_url == "https://x.example/ledger"


# --------------------------------------------------------------------------- status


def test_a_fresh_certificate_is_valid_online_and_its_list_is_signed_by_its_issuer(
    env: Env,
) -> None:
    cred = _issue(env)
    list_url, index = entry_of(cred) or ("", -1)
    assert list_url == f"{PUBLIC_URL}/status/1" and 0 <= index < LIST_BITS
    listed = env.client.get(_local(list_url)).json()
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["issuer"] == cred["issuer"]
    assert check_status(cred, listed).set is False
    online = _online(env, cred)
    assert online is not None and online["status"] == "valid", online
    report = verify_certificate(cred, issuers=[env.app.state.ltl.attest_did], status=online)
    assert report.verdict == "VALID" and report.status == online


def test_a_later_adjust_supersedes_the_certificate_and_a_new_one_replaces_it(env: Env) -> None:
    old = _issue(env)
    assert env.client.get(_local(old["id"]) + "/status").json()["status"] == "valid"
    _adjust(env, ENCLOSURE, "19000")
    status = env.client.get(_local(old["id"]) + "/status").json()
    assert status["status"] == "superseded", status
    assert "mass_kg" in status["reason"] and status["superseded_by"] is None
    # the status list publishes it: the certificate's bit is set
    listed = env.client.get(_local(entry_of(old)[0])).json()  # type: ignore[index]
    assert check_status(old, listed).set is True
    online = _online(env, old)
    report = verify_certificate(old, issuers=[env.app.state.ltl.attest_did], status=online)
    assert report.verdict == "SUPERSEDED", report.to_text()
    assert [c for c, _ in report.errors] == ["superseded"]
    # a new certificate holds the new figures, and the old one names it
    new = _issue(env)
    assert new["credentialSubject"]["mass_kg"] == "19000"
    assert env.client.get(_local(new["id"]) + "/status").json()["status"] == "valid"
    again = _online(env, old)
    assert again is not None and again["superseded_by"] == new["id"], again
    report = verify_certificate(old, issuers=[env.app.state.ltl.attest_did], status=again)
    assert new["id"] in report.to_text()
    # the change was recorded once, append-only
    history = env.client.get(_local(old["id"]) + "/status").json()["history"]
    assert [h["status"] for h in history] == ["superseded"]
    assert history[0]["recorded_by"] == "ledger"


def test_a_list_reused_for_30_s_never_hides_a_supersession_from_the_verifier(env: Env) -> None:
    """The token-free list is reused for 30 s (re-examining every certificate on each request
    would let anyone load the server); the verifier also reads the status record, which can
    make the status worse, never better."""
    cred = _issue(env)
    assert (_online(env, cred) or {})["status"] == "valid"  # the list is now cached, bit clear
    _adjust(env, ENCLOSURE, "19100")
    listed = env.client.get(_local(entry_of(cred)[0])).json()  # type: ignore[index]
    assert check_status(cred, listed, now=NOW).set is False  # still the reused answer
    online = _online(env, cred)
    assert online is not None and online["status"] == "superseded", online
    report = verify_certificate(cred, issuers=[env.app.state.ltl.attest_did], status=online)
    assert report.verdict == "SUPERSEDED"


def test_an_event_that_changes_no_figure_leaves_the_certificate_valid(env: Env) -> None:
    cred = _issue(env)
    head = env.ledger.lot(ENCLOSURE).head
    attest = sign(
        type="lot.attest",
        actor="auditor",
        key=KEYS["auditor"],
        body={"lot": ENCLOSURE, "scheme": "iso-14001", "statement": "site certified"},
        prev={ENCLOSURE: head},
        time=LATE,
    )
    posted = env.post_event(attest, env.auditor)
    assert posted.status_code == 201, posted.text
    assert env.client.get(_local(cred["id"]) + "/status").json()["status"] == "valid"


def test_a_change_upstream_supersedes_only_the_certificates_it_touches(env: Env) -> None:
    niso4, enclosure = _issue(env, NISO4), _issue(env)
    _adjust(env, NISO4, "4000", actor="bwm")
    assert env.client.get(_local(niso4["id"]) + "/status").json()["status"] == "superseded"
    assert env.client.get(_local(enclosure["id"]) + "/status").json()["status"] == "valid"
    listed = env.client.get("/status/1").json()
    assert check_status(niso4, listed).set is True
    assert check_status(enclosure, listed).set is False


def test_an_admin_revokes_a_certificate_and_verifiers_see_it(env: Env) -> None:
    cred = _issue(env)
    path = f"/v1/certificates/{_ref(cred)}/revoke"
    denied = env.client.post(path, json={"reason": "x"}, headers=_h(env.partner["packco"]))
    assert_problem(denied, 403, "forbidden")
    blank = env.client.post(path, json={"reason": "  "}, headers=_h(env.admin))
    assert_problem(blank, 400, "bad_request")
    r = env.client.post(path, json={"reason": "issued in error"}, headers=_h(env.admin))
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    assert r.json()["history"][-1]["recorded_by"] == "operator"
    online = _online(env, cred)
    assert online == {
        "status": "revoked",
        "reason": "issued in error",
        "superseded_by": None,
        "list": f"{PUBLIC_URL}/status/1",
    }
    report = verify_certificate(cred, issuers=[env.app.state.ltl.attest_did], status=online)
    assert report.verdict == "REVOKED" and "issued in error" in report.to_text()
    # the public page says so too
    page = env.client.get(_local(cred["id"])).text
    assert "REVOKED" in page and "issued in error" in page


def test_a_status_list_that_is_forged_or_unreachable_is_never_a_valid_status(env: Env) -> None:
    cred = _issue(env)
    url, _ = entry_of(cred) or ("", 0)
    good = env.client.get(_local(url)).json()
    # the same list with the bit cleared but re-signed by someone else's key
    forged = status_list_credential(url, [], issuer_key=KEYS["bwm"], valid_from=good["validFrom"])
    assert check_status(cred, forged).set is None
    # the operator's list, changed after signing
    changed = {**good, "validFrom": "2020-01-01T00:00:00Z"}
    assert "proof" in (check_status(cred, changed).error or "")
    # a list published at another URL
    elsewhere = status_list_credential(
        url + "0", [], issuer_key=ATTEST, issuer=good["issuer"], valid_from=good["validFrom"]
    )
    assert check_status(cred, elsewhere).set is None
    # a list must say until when it holds, and be fresh (a copy kept from before a revocation
    # cannot be replayed for longer than its validUntil, plus the clock skew)
    unsigned = {k: v for k, v in good.items() if k not in ("proof", "validUntil")}
    endless = add_proof(
        unsigned,
        ATTEST,
        verification_method=verification_method_of(good["issuer"]["id"]),
        created=good["validFrom"],
    )
    assert "no validUntil" in (check_status(cred, endless, now=NOW).error or "")
    assert check_status(cred, good, now=NOW + LIST_TTL + CLOCK_SKEW).set is False
    stale = check_status(cred, good, now=NOW + LIST_TTL + CLOCK_SKEW + timedelta(seconds=1))
    assert "not valid now" in (stale.error or "")
    # nobody answers: a warning, not VALID-with-a-clean-status
    gone = fetch_status({**cred}, transport=_Refusing())
    assert gone is not None and "error" in gone
    report = verify_certificate(cred, issuers=[env.app.state.ltl.attest_did], status=gone)
    assert report.verdict == "VALID"
    assert [c for c, _ in report.warnings] == ["status_unavailable", "not_recomputed"]


class _Refusing(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


def test_bitstring_encoding_follows_the_recommendation() -> None:
    """Index 0 is the most significant bit of the first byte; gzip, base64url, 'u' prefix;
    at least 16 KiB; a decompression bomb is refused."""
    encoded = encode_list([0, 9, LIST_BITS - 1])
    assert encoded.startswith("u") and "=" not in encoded
    raw = decode_list(encoded)
    assert len(raw) == LIST_BITS // 8
    assert raw[0] == 0x80 and raw[1] == 0x40 and raw[-1] == 0x01
    assert sum(bin(b).count("1") for b in raw) == 3
    with pytest.raises(ValueError, match="fewer"):
        decode_list(encode_list([], bits=8 * 1024))
    import base64

    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), mtime=0)
    with pytest.raises(ValueError, match="more than"):
        decode_list("u" + base64.urlsafe_b64encode(bomb).decode().rstrip("="))
    with pytest.raises(ValueError, match="outside"):
        encode_list([LIST_BITS])


def test_a_certificate_of_revision_2_still_verifies(env: Env) -> None:
    """Before revision 3 a certificate had a urn:uuid id, a bare DID issuer, no parties and no
    status entry: it verifies as it did (its status is simply not checked)."""
    from ledger.attest.credentials import issue_certificate

    current = _issue(env, NISO4)
    subject = {k: v for k, v in current["credentialSubject"].items() if k != "parties"}
    old = issue_certificate(
        subject,
        issuer_key=ATTEST,
        valid_from=current["validFrom"],
        id="urn:uuid:5d0c3a52-8f3e-4b8e-9a51-2f1c7d6e4b30",
    )
    assert isinstance(old["issuer"], str) and "credentialStatus" not in old
    bundle = env.ledger.certificate(_ref(current))[1]
    report = verify_certificate(
        old, bundle, log_keys=[env.ledger.log_signer.verifier], issuers=[old["issuer"]]
    )
    assert report.verdict == "VALID" and report.recomputed, report.to_text()
    assert report.warnings == [] and fetch_status(old) is None
