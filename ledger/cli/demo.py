"""``ledger demo``: the Korean–US scenario end to end, with the published example keys.

Every party signs its own events with its key from ``keys.example/``; the operator registers the
parties; an auditor then downloads the enclosure lot's audit bundle and verifies it offline with
nothing but the log's public key. The demo talks to a ``DemoTarget``: the in-process library, or
a ledger server over HTTP.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from api.convert import lot_out

from ..attest.certificates import verify_certificate
from ..audit.verify import VerificationReport, verify_bundle
from ..client import LedgerClient, load_private_key
from ..client.models import LotOut
from ..core import events
from ..core.checkpoint import Verifier, Witness
from ..core.keys import Ed25519PrivateKey, key_object, kid_of, public_raw
from ..core.schema import touched_lots
from ..core.values import format_time
from ..service import Ledger
from ..service.settings import EXAMPLE_KEY_DIR
from . import scenario

__all__ = [
    "DemoResult",
    "DemoTarget",
    "HttpTarget",
    "LibraryTarget",
    "demo_tokens",
    "example_keys",
    "run_demo",
    "seed_demo",
]


class DemoTarget(Protocol):
    """Where the demo posts events and fetches the bundle."""

    def post(self, event: events.SignedEvent) -> Mapping[str, str]:
        """Append one event; returns the new head of each lot it touched."""
        ...

    def bundle(self, lot: str) -> dict[str, Any]: ...

    def log_vkey(self) -> str: ...

    def lot(self, lot: str) -> LotOut: ...

    def epcis(self, lot: str) -> dict[str, Any]:
        """The lot's visible history as an EPCIS 2.0 document (spec §13.2)."""
        ...

    def battery_pass(self, lot: str) -> dict[str, Any]:
        """The lot's Battery Pass Circularity ``recycledContent`` (spec §13.3)."""
        ...

    #: whether the target issues certificates (a server does; in-process seeding does not)
    certifies: bool

    def certify(self, lot: str) -> tuple[dict[str, Any], bytes]:
        """(credential, its PDF) of a certificate issued for ``lot``."""
        ...


class LibraryTarget:
    """The demo against an in-process :class:`ledger.service.Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def post(self, event: events.SignedEvent) -> Mapping[str, str]:
        return dict(self.ledger.append(event).lots)

    def bundle(self, lot: str) -> dict[str, Any]:
        return dict(self.ledger.bundle(lot))

    def log_vkey(self) -> str:
        return str(self.ledger.log_signer.verifier.vkey)

    def lot(self, lot: str) -> LotOut:
        return lot_out(self.ledger.lot(lot))

    def epcis(self, lot: str) -> dict[str, Any]:
        return self.ledger.epcis_document(lot)

    def battery_pass(self, lot: str) -> dict[str, Any]:
        return self.ledger.battery_pass(lot)

    certifies = False  # seeding a server: certificates are issued over HTTP, later

    def certify(self, lot: str) -> tuple[dict[str, Any], bytes]:
        raise NotImplementedError("in-process seeding issues no certificates")


class HttpTarget:
    """The demo over real HTTP: each party posts its own events with its own token."""

    certifies = True

    def __init__(
        self,
        url: str,
        tokens: Mapping[str, str],
        *,
        reader: str = "auditor",
        journals: Mapping[str, Path] | None = None,
    ) -> None:
        journals = journals or {}
        self.clients = {
            party: LedgerClient(url, token, journal=journals.get(party))
            for party, token in tokens.items()
        }
        self.reader = self.clients[reader]

    def post(self, event: events.SignedEvent) -> Mapping[str, str]:
        client = self.clients.get(event.actor) or self.clients["operator"]
        return client.post(event).lots

    def bundle(self, lot: str) -> dict[str, Any]:
        return self.reader.bundle(lot).model_dump()

    def log_vkey(self) -> str:
        return self._vkey

    def set_vkey(self, vkey: str) -> None:
        self._vkey = vkey

    def certify(self, lot: str) -> tuple[dict[str, Any], bytes]:
        """(credential, its PDF) for a certificate the auditor has issued."""
        credential = self.reader.issue_certificate(lot)
        return credential, self.reader.certificate_pdf(credential["id"])

    def lot(self, lot: str) -> LotOut:
        return self.reader.lot(lot)

    def epcis(self, lot: str) -> dict[str, Any]:
        return self.reader.epcis_document(lot)

    def battery_pass(self, lot: str) -> dict[str, Any]:
        return self.reader.battery_pass(lot)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def demo_tokens(create: Callable[[str, str], str]) -> dict[str, str]:
    """The demo's tokens, made with ``create(party, role)``: admin for the operator, auditor for
    the auditor, partner for the others."""
    roles = {"operator": "admin", "auditor": "auditor"}
    return {p: create(p, roles.get(p, "partner")) for p in scenario.PARTIES}


def seed_demo(ledger: Ledger) -> dict[str, str]:
    """Seed the scenario into an empty ledger (in-process) and return fresh demo tokens."""
    if ledger.size() == 0:
        with tempfile.TemporaryDirectory() as scratch:
            run_demo(LibraryTarget(ledger), Path(scratch), echo=lambda _: None)
    return demo_tokens(ledger.create_token)


def example_keys(folder: Path = EXAMPLE_KEY_DIR) -> dict[str, Ed25519PrivateKey]:
    """The published example keys (demo only) by party id."""
    return {p: load_private_key(folder / f"{p}.pem") for p in scenario.PARTIES}


@dataclass
class DemoResult:
    """What the demo produced."""

    report: VerificationReport
    bundle_path: Path
    vkey_path: Path
    events: int
    ok: bool = True


def _now() -> str:
    return format_time(datetime.now(UTC).replace(microsecond=0))


def run_demo(
    target: DemoTarget,
    workdir: Path,
    *,
    keys: Mapping[str, Ed25519PrivateKey] | None = None,
    echo: Callable[[str], None] = print,
    settle: Callable[[], None] | None = None,
    witness_keys: Sequence[Path] = (),
) -> DemoResult:
    """Register the parties, play every scenario step, then verify the enclosure's bundle.

    ``settle``, when given, runs before the bundle is fetched (the demo waits there for the
    witnesses' cosignatures); the bundle must then be cosigned by every witness whose vkey is in
    ``witness_keys``."""
    keys = dict(keys or example_keys())
    heads: dict[str, str] = {}
    hashes: dict[str, str] = {}
    count = 0

    def post(actor: str, type_: str, body: Mapping[str, Any]) -> str:
        nonlocal count
        prev = {lot: heads[lot] for lot in touched_lots(type_, body) if lot in heads}
        ev = events.sign(
            type=type_, actor=actor, key=keys[actor], body=body, prev=prev, time=_now()
        )
        heads.update(target.post(ev))
        count += 1
        return ev.hash

    echo("1. registering the parties (the operator signs each registration)")
    for party, (name, country, roles) in scenario.PARTIES.items():
        pub = public_raw(keys[party])
        body = {
            "party": {"id": party, "name": name, "country": country, "roles": roles, "feoc": False},
            "keys": [key_object(keys[party])],
        }
        post("operator", "party.register", body)
        echo(f"   {party:8s} {name} ({country}; {', '.join(roles)}) key {kid_of(pub)}")
    echo("2. the supply chain, each event signed by the party that did it")
    for step in scenario.STEPS:
        hashes[step.name] = post(step.actor, step.type, step.resolve(hashes))
        echo(f"   {step.type:15s} {step.say}")
    workdir.mkdir(parents=True, exist_ok=True)
    if settle is not None:
        echo("   waiting for the witnesses to cosign the final checkpoint")
        settle()
    echo("3. the auditor downloads the enclosure lot's audit bundle and verifies it offline")
    bundle = target.bundle(scenario.ENCLOSURE)
    bundle_path = workdir / "bundle-enclosure.json"
    bundle_path.write_text(json.dumps(bundle, indent=1))
    vkey = target.log_vkey()
    vkey_path = workdir / "log.vkey"
    vkey_path.write_text(vkey + "\n")
    witnesses = [Witness.parse(p.read_text().strip()) for p in witness_keys]
    report = verify_bundle(
        bundle_path.read_bytes(), Verifier.parse(vkey), witnesses=witnesses, quorum=len(witnesses)
    )
    echo("")
    for line in report.to_text().splitlines():
        echo("   " + line)
    lot = target.lot(scenario.ENCLOSURE)
    shares = lot.shares.model_dump(exclude={"virgin", "recycled"})
    echo("")
    echo("Summary")
    echo(f"   events posted:        {count}")
    echo(
        f"   enclosure lot:        {scenario.ENCLOSURE}, {lot.mass_kg} kg, held by {lot.custodian}"
    )
    echo("   recycled (mass):      " + ", ".join(f"{k} {_pct(v)}" for k, v in shares.items()))
    echo(f"   audit bundle:         {bundle_path} ({len(bundle['entries'])} entries)")
    cosigners = "".join(f" --witness {p}" for p in witness_keys)
    if witness_keys:
        cosigners += f" --quorum {len(witness_keys)}"
    echo(f"   verify it yourself:   ledger verify {bundle_path} --log-key {vkey_path}{cosigners}")
    by = f" (log key, and cosigned by {len(witnesses)} of {len(witnesses)} witnesses)"
    echo(f"   offline verification: {'VALID' if report.ok else 'INVALID'}{by if witnesses else ''}")
    enc = scenario.ENCLOSURE  # a lot id that needs no escaping in a path
    epcis_doc, passport = target.epcis(enc), target.battery_pass(enc)
    epcis_path = workdir / f"epcis-{enc}.jsonld"
    passport_path = workdir / f"battery-pass-{enc}.json"
    epcis_path.write_text(json.dumps(epcis_doc, indent=2, ensure_ascii=False) + "\n")
    passport_path.write_text(json.dumps(passport, indent=2, ensure_ascii=False) + "\n")
    n_events = len(epcis_doc["epcisBody"]["eventList"])
    echo(
        f"   EPCIS 2.0 history:    {epcis_path} ({n_events} events, each with its CBV 2.0 eventID)"
    )
    echo(f"                         GET /v1/lots/{enc}/epcis  (ledger epcis export {enc})")
    entries = passport["recycledContent"]
    what = f"{len(entries)} entries" if entries else "none of Co, Ni, Li, Pb in aluminium"
    echo(f"   Battery Pass data:    {passport_path} (recycledContent: {what})")
    echo(
        f"                         GET /v1/lots/{enc}/battery-pass/circularity  "
        f"(ledger battery-pass {enc})"
    )
    ok = report.ok
    if target.certifies:
        ok = _certificates(target, workdir, vkey, echo) and ok
    return DemoResult(report, bundle_path, vkey_path, count, ok)


def _certificates(
    target: DemoTarget,
    workdir: Path,
    vkey: str,
    echo: Callable[[str], None],
) -> bool:
    """Issue and verify certificates for the enclosures (recycled aluminium) and the nickel
    sulfate made from the black mass; write their JSON and PDF."""
    echo("")
    echo("4. recycled-content certificates, verified offline against their bundles")
    ok = True
    for lot, what in (
        (scenario.ENCLOSURE, "enclosures (aluminium)"),
        (scenario.NISO4, "nickel sulfate from black mass"),
    ):
        credential, pdf = target.certify(lot)
        bundle = target.bundle(lot)
        stem = workdir / f"certificate-{lot}"
        Path(f"{stem}.json").write_text(json.dumps(credential, indent=1))
        Path(f"{stem}.pdf").write_bytes(pdf)
        Path(f"{stem}.bundle.json").write_text(json.dumps(bundle, indent=1))
        result = verify_certificate(credential, bundle, log_keys=[Verifier.parse(vkey)])
        ok = ok and result.ok
        report = credential["credentialSubject"]["recycled_content"]
        shares = ", ".join(
            f"{el} {_pct(s['recycled'])} recycled" for el, s in report["elements"].items() if s
        )
        echo(f"   {what:32s} {lot}: {_pct(report['mass']['recycled'])} recycled by mass; {shares}")
        echo(
            f"   {'':32s} certificate {'VALID' if result.ok else 'INVALID'} "
            f"(figures recomputed from the bundle); PDF: {stem}.pdf"
        )
    return ok


def _pct(fraction: str) -> str:
    return f"{float(Fraction(fraction)) * 100:.1f} %"
