"""Generate the signed examples of docs/spec.md (LTL/1) with the published example keys.

Everything here is deterministic (fixed event ids and times, Ed25519 signatures are
deterministic), so running it twice gives the same bytes. The examples are a small ledger: the
running scenario (``ledger.cli.scenario``) played on an empty log, plus a key added and revoked
and a lot-id prefix claimed.

    .venv/bin/python scripts/spec_examples.py            # rewrite the examples in docs/spec.md
    .venv/bin/python scripts/spec_examples.py --check    # exit 1 if docs/spec.md is stale
    .venv/bin/python scripts/spec_examples.py --print    # print every example block

In docs/spec.md, each generated block sits between ``<!-- example: NAME -->`` and
``<!-- /example -->``; only the text between those markers is replaced.
``tests/docs/test_spec_examples.py`` checks the result independently.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.attest.certificates import subject_from_bundle
from ledger.attest.credentials import did_key, issue_certificate
from ledger.attest.lineage import ReplaySource
from ledger.attest.recycled import recycled_content
from ledger.attest.status import status_entry
from ledger.audit.verify import replay
from ledger.cli import scenario
from ledger.client import load_private_key
from ledger.core.checkpoint import Signer
from ledger.core.events import SignedEvent, event_from_json, sign
from ledger.core.keys import Ed25519PrivateKey, key_object, public_raw
from ledger.core.rules import RuleConfig
from ledger.core.schema import touched_lots
from ledger.core.values import format_time
from ledger.service import Ledger
from ledger.store.sql import SqlStore

ROOT = Path(__file__).resolve().parent.parent
spec = ROOT / "docs" / "spec.md"
KEY_DIR = ROOT / "keys.example"
ORIGIN = "ltl.example/log"
T0 = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)  # the ledger's clock while the examples are posted
REPORT_LOT = scenario.ENCLOSURE
REPORT_AS_OF = date(2025, 6, 20)
CERT_LOT = scenario.NISO4
CERT_AS_OF = date(2031, 8, 18)
#: the example ledger's public URL (spec §8.2): the certificate's id is its public page
PUBLIC_URL = "https://ledger.example"
CERT_ID = f"{PUBLIC_URL}/c/5d0c3a52-8f3e-4b8e-9a51-2f1c7d6e4b30"
CERT_ISSUER_NAME = "LTL example ledger operator"
CERT_STATUS_INDEX = 94567

#: the parties of the examples (scenario.PARTIES without the unused carrier); alus's name shows
#: that non-ASCII text is signed as raw UTF-8
PARTIES = {
    "operator": ("LTL Operator", "US", ["operator"]),
    "bwm": ("BWM Recycling, Bartlesville OK", "US", ["recycler"]),
    "alus": ("ALUS Aluminium, Ulsan (울산)", "KR", ["processor", "manufacturer"]),
    "lab": ("Ulsan Materials Lab", "KR", ["lab"]),
    "auditor": ("Chain-of-Custody Audit LLC", "US", ["auditor"]),
    "packco": ("PackCo Battery Packs", "US", ["manufacturer"]),
}
#: the second bwm key, added then revoked (a deterministic key: not in keys.example/)
BWM2 = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"ltl spec example key bwm-2").digest())


def event_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://ltl.example/spec/{name}"))


def build() -> dict[str, Any]:
    """Post every example event to a fresh ledger; return what the spec shows."""
    priv = {p: load_private_key(KEY_DIR / f"{p}.pem") for p in PARTIES}
    log_key = load_private_key(KEY_DIR / "log.pem")
    attest = load_private_key(KEY_DIR / "attest.pem")
    signer = Signer(ORIGIN, log_key)
    named: dict[str, SignedEvent] = {}
    heads: dict[str, str] = {}
    clock = [T0]

    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/ledger.db")
        # the examples are signed history posted at NOW: no back-dating window (spec §3.8)
        history = RuleConfig(max_past_seconds=None)
        with Ledger(
            store, log_signer=signer, origin=ORIGIN, clock=lambda: NOW, config=history
        ) as ledger:

            def post(name: str, actor: str, type_: str, body: Any, signer_key: Any = None) -> str:
                prev = {lot: heads[lot] for lot in touched_lots(type_, body)}
                ev = sign(
                    type=type_,
                    actor=actor,
                    key=signer_key or priv[actor],
                    body=body,
                    prev=prev,
                    time=format_time(clock[0]),
                    id=event_id(name),
                )
                clock[0] += timedelta(hours=1)
                heads.update(ledger.append(ev).lots)
                named[name] = ev
                return ev.hash

            for party, (name, country, roles) in PARTIES.items():
                body = {
                    "party": {
                        "id": party,
                        "name": name,
                        "country": country,
                        "roles": roles,
                        "feoc": False,
                    },
                    "keys": [key_object(priv[party])],
                }
                post(f"register-{party}", "operator", "party.register", body)
            clock[0] = T0 + timedelta(days=1)
            post("key-add", "bwm", "key.add", {"party": "bwm", "key": key_object(BWM2)})
            post(
                "key-revoke",
                "bwm",
                "key.revoke",
                {
                    "party": "bwm",
                    "kid": key_object(BWM2)["kid"],
                    "reason": "laptop stolen",
                    "compromised_since": format_time(clock[0] - timedelta(minutes=30)),
                },
            )
            clock[0] = T0 + timedelta(days=1, hours=8)
            hashes: dict[str, str] = {}
            for step in scenario.STEPS:
                hashes[step.name] = post(step.name, step.actor, step.type, step.resolve(hashes))
            claim = {"party": "alus", "prefixes": ["urn:epc:id:sgtin:8801234."]}
            post("party-claim", "operator", "party.claim", claim)

            cp = ledger.checkpoint()
            bundle = ledger.bundle(CERT_LOT)
            log = [ev for _, ev in ledger.events(list(range(ledger.size())))]
            pairs = list(enumerate(log))
            source = ReplaySource(replay(pairs, ledger.config), pairs)
            report = recycled_content(source, REPORT_LOT, as_of=REPORT_AS_OF)
            state = replay(
                [(e["seq"], event_from_json(e["event"])) for e in bundle["entries"]],
                ledger.config,
            )
            subject = subject_from_bundle(bundle, state, as_of=CERT_AS_OF)
            credential = issue_certificate(
                subject,
                issuer_key=attest,
                valid_from=format_time(NOW),
                id=CERT_ID,
                issuer_name=CERT_ISSUER_NAME,
                credential_status=status_entry(f"{PUBLIC_URL}/status/1", CERT_STATUS_INDEX),
            )
    return {
        "named": named,
        "log": log,
        "seq": {ev.hash: i for i, ev in enumerate(log)},
        "checkpoint": cp.note,
        "vkey": signer.verifier.vkey,
        "bundle": bundle,
        "report": report,
        "credential": credential,
        "did": did_key(public_raw(attest)),
    }


# --- rendering ---------------------------------------------------------------------------------


WIDTH = 100


def pretty(value: Any, indent: int = 0, column: int = 0) -> str:
    """JSON with 2-space indentation, keeping any array or object on one line when it fits."""
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or not value or column + len(flat) <= WIDTH:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            key = json.dumps(k, ensure_ascii=False) + ": "
            items.append(pad + key + pretty(v, indent + 2, len(pad) + len(key)))
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + pretty(v, indent + 2, len(pad)) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def pretty_event(ev: SignedEvent) -> str:
    """The envelope in its natural member order (any layout hashes the same)."""
    order = ["ltl", "id", "type", "actor", "kid", "time", "prev", "body", "sig"]
    return pretty({k: ev.envelope[k] for k in order})


def event_block(data: dict[str, Any], name: str) -> str:
    ev = data["named"][name]
    return (
        f"```json event\n{pretty_event(ev)}\n```\n\n"
        f"hash: {ev.hash} (log index {data['seq'][ev.hash]})\n"
    )


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def bundle_block(bundle: dict[str, Any]) -> str:
    lines = ["{"]
    lines.append(f'  "format": {compact(bundle["format"])},')
    lines.append(f'  "lot": {compact(bundle["lot"])},')
    lines.append(f'  "checkpoint": {compact(bundle["checkpoint"])},')
    lines.append('  "entries": [')
    entries = bundle["entries"]
    for i, e in enumerate(entries):
        comma = "," if i < len(entries) - 1 else ""
        lines.append(
            f'    {{"seq": {e["seq"]}, "proof": {compact(e["proof"])},\n'
            f'     "event": {compact(e["event"])}}}{comma}'
        )
    lines.append("  ]")
    lines.append("}")
    return "```json bundle\n" + "\n".join(lines) + "\n```\n"


def blocks(data: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in data["named"]:
        out[f"event:{name}"] = event_block(data, name)
    ship = data["named"]["ship-scrap"]
    out["signing-input"] = (
        "```text signing-input\n" + ship.signing_input.decode("utf-8") + "\n```\n"
    )
    out["canonical"] = "```text canonical\n" + ship.canonical.decode("utf-8") + "\n```\n"
    out["log"] = (
        "```jsonl events\n"
        + "\n".join(ev.canonical.decode("utf-8") for ev in data["log"])
        + "\n```\n"
    )
    out["checkpoint"] = "```text checkpoint\n" + data["checkpoint"] + "```\n"
    out["vkey"] = "```text vkey\n" + data["vkey"] + "\n```\n"
    out["bundle"] = bundle_block(data["bundle"])
    out["report"] = "```json report\n" + pretty(data["report"]) + "\n```\n"
    out["credential"] = "```json credential\n" + pretty(data["credential"]) + "\n```\n"
    out["did"] = "```text did\n" + data["did"] + "\n```\n"
    return out


_MARKED = re.compile(r"(<!-- example: (\S+) -->\n)(.*?)(<!-- /example -->)", re.DOTALL)


def render(text: str, generated: dict[str, str]) -> str:
    unknown: list[str] = []

    def replace(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in generated:
            unknown.append(name)
            return m.group(0)
        return m.group(1) + "\n" + generated[name] + "\n" + m.group(4)

    out = _MARKED.sub(replace, text)
    if unknown:
        raise SystemExit(f"docs/spec.md names unknown examples: {', '.join(unknown)}")
    return out


def main(argv: list[str]) -> int:
    generated = blocks(build())
    if "--print" in argv:
        for name, block in generated.items():
            print(f"<!-- example: {name} -->\n{block}")
        return 0
    text = spec.read_text("utf-8")
    new = render(text, generated)
    if "--check" in argv:
        if new != text:
            print("docs/spec.md examples are stale: run scripts/spec_examples.py", file=sys.stderr)
            return 1
        return 0
    spec.write_text(new, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
