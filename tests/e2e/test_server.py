"""End to end over real HTTP: ``ledger serve`` in a child process, the SDK, and the CLI.

Each test starts its own server (SQLite file or PostgreSQL schema) with a freshly generated log
key, issues tokens with ``ledger token create``, and drives the ledger with ``LedgerClient``.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import socket
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.convert import lot_out
from ledger.audit.verify import verify_bundle
from ledger.cli.scenario import (
    BILLET,
    BLACK_MASS,
    ENCLOSURE,
    NICKEL,
    NISO4,
    PARTIES,
    PRIMARY,
    RESIDUE,
    SCRAP,
    STEPS,
    US_SITE,
    Step,
)
from ledger.client import ApiError, LedgerClient, load_private_key
from ledger.client.models import HealthOut
from ledger.core import events
from ledger.core.checkpoint import (
    CheckpointError,
    Verifier,
    Witness,
    WitnessSigner,
    open_note,
    verify_checkpoint,
)
from ledger.core.keys import kid_of, public_raw
from ledger.core.receipt import Receipt
from ledger.core.values import format_time
from ledger.service.settings import EXAMPLE_KEY_DIR
from tests.e2e.conftest import (
    ORIGIN,
    Server,
    ServerProcess,
    clean_env,
    free_port,
    run_cli,
    stored_events,
)
from tests.interop.test_epcis_io import assert_valid_epcis, circularity_validator
from tests.support.scenario import KEYS, now_text, private_key, scenario_chain

pytestmark = pytest.mark.slow

SCENARIO_LOTS = (BLACK_MASS, SCRAP, PRIMARY, BILLET, ENCLOSURE, NICKEL, NISO4, RESIDUE)
#: token role per scenario party (carrier signs nothing in the story)
TOKEN_ROLES = {
    "operator": "admin",
    "bwm": "partner",
    "alus": "partner",
    "lab": "partner",
    "auditor": "auditor",
    "packco": "partner",
}


@contextmanager
def clients(server: Server, tokens: Mapping[str, str]) -> Iterator[dict[str, LedgerClient]]:
    """One client per party, signing with its own key (KEYS) under its own token."""
    with ExitStack() as stack:
        yield {
            party: stack.enter_context(
                LedgerClient(server.url, token, party=party, key=KEYS[party])
            )
            for party, token in tokens.items()
        }


def register(admin: LedgerClient, parties: Sequence[str]) -> list[Receipt]:
    """The operator's genesis (its own registration) then the other parties' registrations."""
    assert parties[0] == "operator"
    receipts = []
    for party in parties:
        name, country, roles = PARTIES[party]
        receipts.append(
            admin.register_party(party, name=name, country=country, roles=roles, key=KEYS[party])
        )
    return receipts


def play(
    client: LedgerClient,
    step: Step,
    hashes: Mapping[str, str],
    *,
    prev: Mapping[str, str] | None = None,
) -> Receipt:
    """One scenario step through the SDK's typed helper for its event type."""
    b: dict[str, Any] = dict(step.resolve(hashes))
    match step.type:
        case "lot.create":
            return client.create_lot(
                b["lot"],
                material=b["material"],
                mass_kg=b["mass_kg"],
                source=b["source"],
                site=b["site"],
                composition=b.get("composition"),
            )
        case "lot.ship":
            return client.ship(
                b["lot"], to=b["to"], mass_kg=b["mass_kg"], documents=b.get("documents")
            )
        case "lot.receive":
            return client.receive(b["lot"], ship=b["ship"], mass_kg=b["mass_kg"])
        case "lot.assay":
            return client.assay(
                b["lot"], composition=b["composition"], report=b.get("report"), prev=prev
            )
        case "lot.transform":
            return client.transform(
                process=b["process"],
                site=b["site"],
                inputs=b["inputs"],
                outputs=b["outputs"],
                model=b.get("model"),
            )
        case "lot.adjust":
            return client.adjust(b["lot"], mass_kg=b["mass_kg"], reason=b["reason"])
        case "lot.attest":
            return client.attest(
                b["lot"], scheme=b["scheme"], statement=b["statement"], expires=b.get("expires")
            )
        case "credit.allocate":
            return client.allocate(
                b["lot"], site=b["site"], element=b["element"], category=b["category"], kg=b["kg"]
            )
    raise AssertionError(f"no typed helper for {step.type}")


def _create_body(lot: str, mass: str = "1000") -> dict[str, Any]:
    return {
        "lot": lot,
        "material": "black mass",
        "mass_kg": mass,
        "source": "post_consumer",
        "site": US_SITE,
    }


# --------------------------------------------------------------------------- 1. the scenario
def test_sdk_plays_the_scenario_and_the_bundle_verifies(server: Server, tmp_path: Path) -> None:
    tokens = dict(zip(TOKEN_ROLES, server.tokens(TOKEN_ROLES), strict=True))
    with clients(server, tokens) as c:
        assert c["operator"].health() == HealthOut(status="ok", size=0)
        receipts = register(c["operator"], list(PARTIES))
        assert [r.seq for r in receipts] == list(range(len(PARTIES)))
        assert all(r.created and r.lots == {} for r in receipts)

        hashes: dict[str, str] = {}
        for step in STEPS:
            actor = c[step.actor]
            if step.actor == "lab":
                # A lab never holds the lot it assays, so its partner token cannot read the
                # lot's head (spec §9): the custodian hands it over.
                with pytest.raises(ApiError) as blind:
                    actor.lot(SCRAP)
                assert blind.value.code == "not_found"
                receipt = play(actor, step, hashes, prev={SCRAP: c["alus"].lot(SCRAP).head})
            else:
                receipt = play(actor, step, hashes)
            assert receipt.created, step.name
            hashes[step.name] = receipt.hash
            # the typed helper signed exactly the scenario's body, as this party
            stored = c["auditor"].event(receipt.hash)
            assert stored.event["body"] == step.resolve(hashes), step.name
            assert stored.event["actor"] == step.actor
            assert stored.seq == receipt.seq

        # the state served over HTTP is the library's state of the same story (same log
        # order, so the same seqs; only the signing times and so the hashes differ)
        expected = scenario_chain().state
        auditor = c["auditor"]
        for lot in SCENARIO_LOTS:
            want_lot = expected.lot(lot)
            assert want_lot is not None
            want = lot_out(want_lot).model_dump(mode="json")
            served = auditor.lot(lot).model_dump(mode="json")
            for k in want.keys() - {"head", "time", "transit_ship"}:
                assert served[k] == want[k], (lot, k)

        # the typed assay helper too (the custodian may assay its own lot)
        alus_assay = c["alus"].assay(BILLET, composition={"Al": "0.971", "Si": "0.009"})
        assert alus_assay.lots == {BILLET: alus_assay.hash}

        # key rotation with the typed helpers
        spare = private_key("bwm-2")
        c["bwm"].add_key(spare)
        c["bwm"].revoke_key(kid_of(public_raw(spare)), reason="rotated out")
        bwm_keys = {k.kid: k for k in c["bwm"].party_info("bwm").keys}
        assert bwm_keys[kid_of(public_raw(spare))].revoked_seq is not None
        assert bwm_keys[kid_of(public_raw(KEYS["bwm"]))].revoked_seq is None

        # an idempotent repeat answers 200 with the same receipt
        first = auditor.event(hashes["attest"]).event
        again = auditor.post(events.event_from_json(first))
        assert not again.created and again.hash == hashes["attest"]

        enclosure = auditor.lot(ENCLOSURE)
        assert (enclosure.custodian, enclosure.status) == ("packco", "held")
        # packco holds the enclosures: its partner token reads them and their provenance
        assert c["packco"].lot(ENCLOSURE).head == enclosure.head
        assert SCRAP in {n["lot"] for n in c["packco"].provenance(ENCLOSURE).nodes}

        # the auditor downloads the bundle and verifies it with nothing but the log key
        bundle = auditor.bundle(ENCLOSURE).model_dump()
        checkpoint = auditor.checkpoint()
        size = auditor.health().size
    # every accepted event is in the test's own database (SQLite file or PostgreSQL schema)
    assert size == len(PARTIES) + len(STEPS) + 3 == stored_events(server.db_url)
    assert server.verifier == Verifier.parse(server.vkey)
    assert f"log vkey {server.vkey}" in server.process.stdout()  # `ledger serve` prints it
    assert server.vkey.startswith(ORIGIN + "+")
    open_note(checkpoint, [server.verifier])  # the served checkpoint is signed by our key
    report = verify_bundle(bundle, server.verifier)
    assert report.ok, report.to_text()
    assert report.entries == len(bundle["entries"]) > len(STEPS) // 2

    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    ok = server.cli("verify", str(path), "--log-key", server.vkey)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VALID" in ok.stdout
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(server.vkey + "\n")
    as_json = server.cli("verify", str(path), "--log-key", str(vkey_file), "--json")
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["valid"] is True and doc["lot"] == ENCLOSURE and doc["entries"] == report.entries

    attests = [e["event"] for e in bundle["entries"] if e["event"]["type"] == "lot.attest"]
    assert len(attests) == 1
    attests[0]["body"]["statement"] = "forged"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bundle))
    bad = server.cli("verify", str(tampered), "--log-key", server.vkey, "--json")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert json.loads(bad.stdout)["valid"] is False


# --------------------------------------------------------------------------- 2. typed errors
def test_refusals_are_typed_api_errors(server: Server) -> None:
    admin_token, bwm_token, alus_token = server.tokens(
        [("operator", "admin"), ("bwm", "partner"), ("alus", "partner")]
    )
    with clients(server, {"operator": admin_token, "bwm": bwm_token, "alus": alus_token}) as c:
        register(c["operator"], ["operator", "bwm", "alus"])
        lot = "E2E-LOT-1"
        c["bwm"].create_lot(
            lot, material="black mass", mass_kg="1000", source="post_consumer", site=US_SITE
        )

        # stale_head: two adjustments signed against the same head; the second is refused
        first = c["bwm"].sign("lot.adjust", {"lot": lot, "mass_kg": "990", "reason": "spill"})
        second = c["bwm"].sign("lot.adjust", {"lot": lot, "mass_kg": "980", "reason": "spill"})
        assert c["bwm"].post(first).created
        with pytest.raises(ApiError) as stale:
            c["bwm"].post(second)
        assert (stale.value.status, stale.value.code) == (409, "stale_head")
        assert stale.value.problem["status"] == 409
        assert stale.value.problem["type"].endswith("/stale_head")
        assert c["bwm"].lot(lot).mass_kg == "990"
        # an idempotent repeat is not stale: 200, same receipt
        repeat = c["bwm"].post(first)
        assert not repeat.created and repeat.hash == first.hash

        # forbidden: a partner token posts only its own party's events
        alus_event = events.sign(
            type="lot.create",
            actor="alus",
            key=KEYS["alus"],
            body=_create_body("E2E-ALUS-1"),
            time=now_text(),
        )
        with pytest.raises(ApiError) as forbidden:
            c["bwm"].post(alus_event)
        assert (forbidden.value.status, forbidden.value.code) == (403, "forbidden")
        # ... the same event is fine under alus's own token, and an admin may relay
        assert c["alus"].post(alus_event).created
        relayed = events.sign(
            type="lot.create",
            actor="alus",
            key=KEYS["alus"],
            body=_create_body("E2E-ALUS-2"),
            time=now_text(),
        )
        assert c["operator"].post(relayed).created

        # a signature by another party's key is refused even under the right token
        forged = events.sign(
            type="lot.create",
            actor="bwm",
            key=KEYS["alus"],
            body=_create_body("E2E-FORGED"),
            time=now_text(),
        )
        with pytest.raises(ApiError) as unknown_key:
            c["bwm"].post(forged)
        assert (unknown_key.value.status, unknown_key.value.code) == (422, "unknown_key")

        # not_found: a partner cannot see another company's lot (nor tell it exists)
        with pytest.raises(ApiError) as hidden:
            c["alus"].lot(lot)
        assert (hidden.value.status, hidden.value.code) == (404, "not_found")
        with pytest.raises(ApiError) as nowhere:
            c["bwm"].lot("NO-SUCH-LOT")
        assert (nowhere.value.status, nowhere.value.code) == (404, "not_found")

        # only an admin issues tokens over HTTP
        with pytest.raises(ApiError) as not_admin:
            c["bwm"].create_token("bwm", "admin")
        assert (not_admin.value.status, not_admin.value.code) == (403, "forbidden")
        issued = c["operator"].create_token("packco", "partner")
        with LedgerClient(server.url, issued) as packco:
            assert packco.lots().items == []

    # unauthorized: an unknown token, and no token at all
    with LedgerClient(server.url, "ltl_" + "x" * 43, party="bwm", key=KEYS["bwm"]) as stranger:
        with pytest.raises(ApiError) as unknown:
            stranger.lot(lot)
        assert (unknown.value.status, unknown.value.code) == (401, "unauthorized")
        with pytest.raises(ApiError) as unknown_post:
            stranger.post(second)
        assert (unknown_post.value.status, unknown_post.value.code) == (401, "unauthorized")
    with LedgerClient(server.url) as anonymous:
        with pytest.raises(ApiError) as none:
            anonymous.lots()
        assert (none.value.status, none.value.code) == (401, "unauthorized")
        assert anonymous.health().status == "ok"  # health and the log are public
        assert anonymous.checkpoint().startswith(ORIGIN + "\n")
    raw = httpx.get(f"{server.url}/v1/lots", headers={"Authorization": "Bearer nope"})
    assert raw.status_code == 401
    assert raw.headers["content-type"].startswith("application/problem+json")
    assert raw.json()["code"] == "unauthorized"


# --------------------------------------------------------------------------- 3. concurrency
ROUNDS = 20


def test_two_clients_racing_on_one_lot(server: Server) -> None:
    admin_token, token_a, token_b = server.tokens(
        [("operator", "admin"), ("bwm", "partner"), ("bwm", "partner")]
    )
    lot = "E2E-RACE-1"
    with ExitStack() as stack:
        admin = stack.enter_context(
            LedgerClient(server.url, admin_token, party="operator", key=KEYS["operator"])
        )
        a, b = (
            stack.enter_context(LedgerClient(server.url, t, party="bwm", key=KEYS["bwm"]))
            for t in (token_a, token_b)
        )
        register(admin, ["operator", "bwm"])
        created = a.create_lot(
            lot, material="black mass", mass_kg="1000", source="post_consumer", site=US_SITE
        )

        barrier = threading.Barrier(2, timeout=60)
        outcome: list[list[str]] = [["", ""] for _ in range(ROUNDS)]

        def racer(client: LedgerClient, i: int) -> None:
            try:
                for r in range(ROUNDS):
                    barrier.wait()  # the previous round is settled: both read the same head
                    mass = str(1000 - 2 * r - 1 - i)
                    ev = client.sign(
                        "lot.adjust", {"lot": lot, "mass_kg": mass, "reason": f"r{r}c{i}"}
                    )
                    barrier.wait()  # both signed against it: now post at once
                    try:
                        client.post(ev)
                        outcome[r][i] = "won"
                    except ApiError as e:
                        outcome[r][i] = f"{e.status} {e.code}"
            except BaseException:
                barrier.abort()
                raise

        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(racer, client, i) for i, client in enumerate((a, b))]
            for f in futures:
                f.result()

        for r, result in enumerate(outcome):
            assert sorted(result) == ["409 stale_head", "won"], (r, result)

        chain = a.lot_events(lot)
        assert len(chain) == 1 + ROUNDS
        assert chain[0].hash == created.hash
        for before, item in itertools.pairwise(chain):
            assert item.event["prev"] == {lot: before.hash}, "the lot chain forked"
            assert item.seq > before.seq
        last = chain[-1].event["body"]
        assert a.lot(lot).head == chain[-1].hash
        assert a.lot(lot).mass_kg == last["mass_kg"]

    fsck = server.cli("fsck", "--json")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert json.loads(fsck.stdout)["ok"] is True


def test_stale_head_is_retried_for_assay_but_not_for_adjust(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_token, bwm_token, other_token = server.tokens(
        [("operator", "admin"), ("bwm", "partner"), ("bwm", "partner")]
    )
    lot = "E2E-RETRY-1"
    with ExitStack() as stack:
        admin = stack.enter_context(
            LedgerClient(server.url, admin_token, party="operator", key=KEYS["operator"])
        )
        client, other = (
            stack.enter_context(LedgerClient(server.url, t, party="bwm", key=KEYS["bwm"]))
            for t in (bwm_token, other_token)
        )
        register(admin, ["operator", "bwm"])
        client.create_lot(
            lot, material="black mass", mass_kg="1000", source="post_consumer", site=US_SITE
        )
        masses = iter(range(990, 0, -10))
        posted: list[str] = []

        def interfere(times: int) -> None:
            """After each of the next ``times`` head reads, ``other`` moves the lot on."""
            real_heads = functools.partial(LedgerClient.heads, client)
            real_post = functools.partial(LedgerClient.post, client)
            left = [times]

            def heads(lots: Sequence[str]) -> dict[str, str]:
                found = real_heads(lots)
                if left[0] > 0:
                    left[0] -= 1
                    other.adjust(lot, mass_kg=str(next(masses)), reason="interloper")
                return found

            def post(ev: events.SignedEvent) -> Receipt:
                try:
                    receipt = real_post(ev)
                except ApiError as e:
                    posted.append(e.code)
                    raise
                posted.append("ok")
                return receipt

            monkeypatch.setattr(client, "heads", heads)
            monkeypatch.setattr(client, "post", post)

        # assay: stale once, re-read, re-signed and accepted
        interfere(1)
        receipt = client.assay(lot, composition={"Ni": "0.04", "Co": "0.02"})
        assert posted == ["stale_head", "ok"]
        state = client.lot(lot)
        assert state.head == receipt.hash
        assert state.composition == {"Ni": "0.04", "Co": "0.02"}
        assert state.mass_kg == "990"  # the interloper's adjustment stands

        # adjust: decided against a state that moved on, so the refusal goes to the caller
        posted.clear()
        interfere(1)
        with pytest.raises(ApiError) as refused:
            client.adjust(lot, mass_kg="500", reason="too late")
        assert (refused.value.status, refused.value.code) == (409, "stale_head")
        assert posted == ["stale_head"]
        assert client.lot(lot).mass_kg == "980"

        # an assay signed against heads the caller chose is not re-read and retried
        posted.clear()
        stale_prev = {lot: client.lot_events(lot)[0].hash}
        with pytest.raises(ApiError) as chosen:
            client.assay(lot, composition={"Ni": "0.05"}, prev=stale_prev)
        assert chosen.value.code == "stale_head" and posted == ["stale_head"]

        # the retries are bounded
        posted.clear()
        client.retries = 2
        interfere(10)
        with pytest.raises(ApiError) as exhausted:
            client.assay(lot, composition={"Ni": "0.05"})
        assert exhausted.value.code == "stale_head"
        assert posted == ["stale_head"] * 3

        chain = [item.event for item in other.lot_events(lot)]
        assert [ev["type"] for ev in chain] == [
            "lot.create",
            "lot.adjust",
            "lot.assay",
            "lot.adjust",
            *["lot.adjust"] * 3,
        ]


# --------------------------------------------------------------------------- 4. ledger demo
def test_ledger_demo_runs_over_http(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = run_cli(["demo", "--workdir", str(workdir)], clean_env(), tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "offline verification: VALID" in result.stdout, result.stdout
    # it ends by issuing and verifying certificates for the enclosures and the nickel sulfate
    certified = [line for line in result.stdout.splitlines() if "certificate VALID" in line]
    assert len(certified) == 2, result.stdout
    for lot in (ENCLOSURE, "BWM-NISO4-2025-0001"):
        pdf = tmp_path / "demo" / f"certificate-{lot}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF-") and str(pdf.name) in result.stdout
    # it ends with the trust anchors and a certificate verification command that works
    command = next(
        line for line in result.stdout.splitlines() if line.startswith("verify a certificate: ")
    )
    assert "attestation issuer did:key:" in result.stdout
    pinned = run_cli(command.split()[4:], clean_env(), tmp_path)
    assert pinned.returncode == 0 and ": VALID" in pinned.stdout, pinned.stdout + pinned.stderr
    bundle = workdir / "bundle-enclosure.json"
    vkey = workdir / "log.vkey"
    assert bundle.exists() and vkey.exists()
    # where a partner finds the enclosure's EPCIS history and Battery Pass data (issue 10)
    epcis_file = workdir / f"epcis-{ENCLOSURE}.jsonld"
    passport_file = workdir / f"battery-pass-{ENCLOSURE}.json"
    assert str(epcis_file) in result.stdout and str(passport_file) in result.stdout
    assert_valid_epcis(json.loads(epcis_file.read_text()))
    hashes = run_cli(["epcis", "hash", str(epcis_file)], clean_env(), tmp_path)
    events = json.loads(epcis_file.read_text())["epcisBody"]["eventList"]
    assert hashes.stdout.split() == [e["eventID"] for e in events]
    circularity_validator().validate(json.loads(passport_file.read_text()))
    verified = run_cli(
        ["verify", str(bundle), "--log-key", str(vkey), "--json"], clean_env(), tmp_path
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["lot"] == ENCLOSURE
    assert_demo_witnessed(workdir, result.stdout, tmp_path)

    # usage and input errors exit 2
    def verify(path: Path, vkey_arg: str) -> subprocess.CompletedProcess[str]:
        return run_cli(["verify", str(path), "--log-key", vkey_arg], clean_env(), tmp_path)

    missing = verify(tmp_path / "no-such.json", str(vkey))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json at all {")
    assert verify(garbage, str(vkey)).returncode == 2
    assert verify(bundle, "not-a-vkey").returncode == 2


def assert_demo_witnessed(workdir: Path, stdout: str, tmp_path: Path) -> None:
    """Issue 11: the demo's two partner witnesses cosigned its final checkpoint, the bundle
    carries both cosignatures, packco's monitor pass is clean, and every process is gone."""
    lines = stdout.splitlines()
    size = int(next(line for line in lines if "events posted:" in line).split()[-1])
    cosigned = next(line for line in lines if line.strip().startswith("cosigned checkpoint:"))
    checkpoint_file = workdir / "checkpoint-cosigned.txt"
    assert f"size {size}," in cosigned and str(checkpoint_file) in cosigned, cosigned
    assert "witness.alus.example (alus)" in cosigned and "witness.bwm.example (bwm)" in cosigned
    log = Verifier.parse((workdir / "log.vkey").read_text().strip())
    keys = [workdir / f"{party}-witness.vkey" for party in ("alus", "bwm")]
    witnesses = [Witness.parse(k.read_text().strip()) for k in keys]
    note = checkpoint_file.read_text()
    assert verify_checkpoint(note, log, witnesses=witnesses, quorum=2).size == size
    for one in witnesses:  # each partner's witness signed: neither alone makes a quorum of 2
        with pytest.raises(CheckpointError):
            verify_checkpoint(note, log, witnesses=[one], quorum=2)
    assert "cosigned by 2 of 2 witnesses" in stdout
    bundle = workdir / "bundle-enclosure.json"
    args = ["verify", str(bundle), "--log-key", str(workdir / "log.vkey"), "--quorum", "2"]
    for k in keys:
        args += ["--witness", str(k)]
    verified = run_cli(args, clean_env(), tmp_path)
    assert verified.returncode == 0 and "VALID" in verified.stdout, verified.stdout
    other = Witness.parse(WitnessSigner.generate("witness.other.example").witness.vkey)
    assert not verify_bundle(bundle.read_bytes(), log, witnesses=[other], quorum=1).ok
    monitor = next(line for line in lines if line.strip().startswith("monitor:"))
    assert monitor.split()[1] == "clean" and "0 findings" in monitor, monitor
    assert '"type":"lot.receive"' in (workdir / "packco.journal").read_text()  # what it posted
    assert "ledger witness serve --key" in stdout and "ledger monitor --url" in stdout
    # no process outlives the demo: its ports are free and nothing runs with its files
    ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", lines[0] + lines[1])]
    assert len(ports) == 3, lines[:2]
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert str(workdir) not in text, text


# --------------------------------------------------------------------------- 5. example keys
def test_serve_refuses_example_keys_outside_demo_mode(tmp_path: Path) -> None:
    env = clean_env(
        LEDGER_DATABASE_URL=f"sqlite:///{tmp_path}/ledger.db", LEDGER_KEY_DIR=str(EXAMPLE_KEY_DIR)
    )
    result = run_cli(["serve", "--port", str(free_port())], env, tmp_path, timeout=60)
    assert result.returncode != 0
    assert "example key" in result.stderr and "log.pem" in result.stderr, result.stderr
    assert "LEDGER_DEMO" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_create_refuses_a_bad_role(tmp_path: Path) -> None:
    env = clean_env(LEDGER_DATABASE_URL=f"sqlite:///{tmp_path}/ledger.db")
    result = run_cli(["token", "create", "--party", "bwm", "--role", "root"], env, tmp_path)
    assert result.returncode == 2 and "role must be one of" in result.stderr


def test_serve_demo_seeds_the_scenario(db_url: str, tmp_path: Path) -> None:
    env = clean_env(LEDGER_DATABASE_URL=db_url)  # no key dir: demo mode uses keys.example/
    process = ServerProcess(env, tmp_path, args=("--demo",))
    process.start()
    try:
        lines = process.stdout().splitlines()
        start = lines.index("demo data seeded; tokens (EXAMPLE, demo only):")
        tokens = dict(line.split() for line in lines[start + 1 : start + 1 + len(PARTIES)])
        assert set(tokens) == set(PARTIES)
        vkey = next(line for line in lines if line.startswith("log vkey "))[len("log vkey ") :]
        with LedgerClient(process.url, tokens["packco"]) as packco:
            lot = packco.lot(ENCLOSURE)
            assert (lot.custodian, lot.mass_kg) == ("packco", "19500")
        with LedgerClient(process.url, tokens["auditor"]) as auditor:
            report = verify_bundle(auditor.bundle(ENCLOSURE).model_dump(), Verifier.parse(vkey))
            assert report.ok, report.to_text()
        with LedgerClient(process.url, tokens["lab"]) as lab, pytest.raises(ApiError) as e:
            lab.lot(ENCLOSURE)
        assert e.value.code == "not_found"
        # the trust anchors: printed at start, served publicly, pinned by `certificate verify`
        issuer = next(line for line in lines if line.startswith("attestation issuer "))
        issuer = issuer[len("attestation issuer ") :]
        with LedgerClient(process.url, None) as anyone:
            anchors = anyone.trust()
        assert (anchors.log_vkey, anchors.issuer) == (vkey, issuer)
        with LedgerClient(process.url, tokens["auditor"]) as auditor:
            (tmp_path / "cert.json").write_text(json.dumps(auditor.issue_certificate(ENCLOSURE)))
        pinned = run_cli(
            ["certificate", "verify", str(tmp_path / "cert.json"), "--url", process.url],
            env,
            tmp_path,
        )
        assert pinned.returncode == 0, pinned.stdout + pinned.stderr
        assert f"pinned issuer {issuer}" in pinned.stdout and ": VALID" in pinned.stdout
        alone = run_cli(["certificate", "verify", str(tmp_path / "cert.json")], env, tmp_path)
        assert alone.returncode == 1 and ": UNTRUSTED" in alone.stdout
        # reports for people, through the CLI as a process
        auth = ["--url", process.url, "--token", tokens["packco"]]
        table = run_cli(["report", ENCLOSURE, *auth], env, tmp_path)
        assert table.returncode == 0, table.stderr
        assert f"recycled-content report for lot {ENCLOSURE}" in table.stdout
        assert "by mass:  post-consumer 79.9 %" in table.stdout and "origins" in table.stdout
        raw = run_cli(["report", ENCLOSURE, *auth, "--json"], env, tmp_path)
        assert json.loads(raw.stdout)["lot"] == ENCLOSURE
        hidden = run_cli(["report", "BWM-NISO4-2025-0001", *auth], env, tmp_path)
        assert hidden.returncode == 1 and "404 not_found" in hidden.stderr
        issued = run_cli(
            [
                "certificate",
                "issue",
                ENCLOSURE,
                *auth,
                "--out",
                str(tmp_path / "out"),
                "--lang",
                "ko",
            ],
            env,
            tmp_path,
        )
        assert issued.returncode == 0, issued.stderr
        stem = tmp_path / "out" / f"certificate-{ENCLOSURE}"
        # demo mode without LEDGER_PUBLIC_URL: the certificate's public page on this server
        cert_file = stem.with_name(stem.name + ".json")
        issued_id = json.loads(cert_file.read_text())["id"]
        assert issued_id.startswith(f"{process.url}/c/"), issued_id
        page = httpx.get(issued_id)  # no token: the URL is the capability
        assert page.status_code == 200 and ": VALID" in page.text, page.text[:500]
        assert stem.with_name(stem.name + ".pdf").read_bytes().startswith(b"%PDF-")
        html_text = stem.with_name(stem.name + ".html").read_text()
        assert '<html lang="ko">' in html_text and "재활용 함량 인증서" in html_text
        # online status: valid; a later adjust supersedes it (exit 1, naming the successor)
        verify = ["certificate", "verify", str(cert_file), "--issuer", issuer]
        fresh = run_cli(verify, env, tmp_path)
        assert fresh.returncode == 0 and "status: valid" in fresh.stdout, fresh.stdout
        with LedgerClient(process.url, tokens["packco"]) as packco:
            head = packco.lot(ENCLOSURE).head
            packco.post(
                events.sign(
                    type="lot.adjust",
                    actor="packco",
                    key=load_private_key(EXAMPLE_KEY_DIR / "packco.pem"),
                    body={"lot": ENCLOSURE, "mass_kg": "19400", "reason": "scrap offcut"},
                    prev={ENCLOSURE: head},
                    time=format_time(datetime.now(UTC)),
                )
            )
        stale = run_cli(verify, env, tmp_path)
        assert stale.returncode == 1 and ": SUPERSEDED" in stale.stdout, stale.stdout
        assert "mass_kg" in stale.stdout
        offline = run_cli([*verify, "--offline"], env, tmp_path)
        assert offline.returncode == 0 and "status_unchecked" in offline.stdout
        with LedgerClient(process.url, tokens["auditor"]) as auditor:
            successor = auditor.issue_certificate(ENCLOSURE)
        named = run_cli(verify, env, tmp_path)
        assert successor["id"] in named.stdout, named.stdout
    finally:
        process.stop()
    assert "Traceback" not in process.stderr(), process.stderr()
