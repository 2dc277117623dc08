"""The examples of docs/spec.md are real (spec §12.2).

Every fenced block marked ``json event`` is a signed event that parses strictly, is signed by the
example key of its actor (``keys.example/<actor>.pem``) and has the hash quoted on the ``hash:``
line after it. The ``text signing-input`` and ``text canonical`` blocks are those of the event
before them. Appendix A (``jsonl events``) replays through the rules; the ``text checkpoint``
verifies under the ``text vkey`` and commits to that log; the ``json bundle`` verifies offline;
the ``json report`` is recomputed from the log; the ``json credential`` verifies and is
recomputed from the bundle. Regenerate the examples with ``scripts/spec_examples.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import pytest

from ledger.attest.certificates import verify_certificate
from ledger.attest.credentials import did_key
from ledger.attest.lineage import ReplaySource
from ledger.attest.recycled import recycled_content
from ledger.audit.verify import verify_bundle
from ledger.client.keyfile import load_private_key
from ledger.core.checkpoint import Signer, Verifier, verify_checkpoint
from ledger.core.events import SignedEvent, parse_event, verify_signature
from ledger.core.keys import kid_of, public_raw
from ledger.core.merkle import CompactRange, leaf_hash
from ledger.core.rules import MemoryState
from ledger.core.values import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
SPEC = (ROOT / "docs" / "spec.md").read_text("utf-8")
KEYS = ROOT / "keys.example"
ORIGIN = "ltl.example/log"
FENCE = re.compile(r"^```([a-z]+ [a-z-]+)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
BLOCKS = [(m.group(1), m.group(2), m.end()) for m in FENCE.finditer(SPEC)]


def blocks(kind: str) -> list[str]:
    return [body for info, body, _ in BLOCKS if info == kind]


def only(kind: str) -> str:
    found = blocks(kind)
    assert len(found) == 1, f"docs/spec.md needs exactly one `{kind}` block"
    return found[0]


def pub_of(name: str) -> bytes:
    return public_raw(load_private_key(KEYS / f"{name}.pem"))


EVENT_BLOCKS = [(body, end) for info, body, end in BLOCKS if info == "json event"]
LOG = [parse_event(line.encode()) for line in only("jsonl events").splitlines()]
VERIFIER = Verifier.parse(only("text vkey").strip())


def test_every_event_type_has_an_example() -> None:
    types = {parse_event(body.encode()).type for body, _ in EVENT_BLOCKS}
    assert types == set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("body", "end"),
    EVENT_BLOCKS,
    ids=[f"{ev.type}-{ev.actor}" for ev in (parse_event(b.encode()) for b, _ in EVENT_BLOCKS)],
)
def test_signed_event(body: str, end: int) -> None:
    ev = parse_event(body.encode())
    pub = pub_of(ev.actor)
    assert ev.kid == kid_of(pub)
    assert verify_signature(ev, pub)
    quoted = re.match(r"\s*hash: ([0-9a-f]{64})\b", SPEC[end:])
    assert quoted is not None, "a `json event` block must be followed by a `hash:` line"
    assert quoted.group(1) == ev.hash


def _event_before(kind: str) -> SignedEvent:
    """The last ``json event`` block before the (only) block of ``kind``."""
    start = next(end for info, _, end in BLOCKS if info == kind)
    before = [body for body, end in EVENT_BLOCKS if end < start]
    return parse_event(before[-1].encode())


def test_signing_input_and_canonical_form() -> None:
    ev = _event_before("text signing-input")
    assert only("text signing-input").encode() == ev.signing_input + b"\n"
    assert _event_before("text canonical").hash == ev.hash
    canonical = only("text canonical").encode()[:-1]
    assert canonical == ev.canonical
    assert hashlib.sha256(canonical).hexdigest() == ev.hash


def test_the_example_log_replays() -> None:
    MemoryState.replay(LOG)  # signatures, keys and every rule, from an empty ledger
    assert [ev.canonical.decode() for ev in LOG] == only("jsonl events").splitlines()
    hashes = {ev.hash for ev in LOG}
    assert all(parse_event(body.encode()).hash in hashes for body, _ in EVENT_BLOCKS)


def test_checkpoint_commits_to_the_log() -> None:
    assert VERIFIER.vkey == Signer(ORIGIN, load_private_key(KEYS / "log.pem")).verifier.vkey
    cp = verify_checkpoint(only("text checkpoint"), VERIFIER, origin=ORIGIN)
    tree = CompactRange()
    tree.extend(leaf_hash(ev.hash_bytes) for ev in LOG)
    assert (cp.size, cp.root) == (len(LOG), tree.root())


def test_bundle_verifies_offline() -> None:
    bundle = json.loads(only("json bundle"))
    assert bundle["checkpoint"] == only("text checkpoint")
    report = verify_bundle(only("json bundle").encode(), VERIFIER)
    assert report.ok, report.to_text()
    assert {w.code for w in report.warnings} == {"credits_unverifiable"}


def test_report_is_recomputed_from_the_log() -> None:
    claimed = json.loads(only("json report"))
    state = MemoryState.replay(LOG)
    pairs = list(enumerate(LOG))
    as_of = date.fromisoformat(claimed["as_of"])
    assert recycled_content(ReplaySource(state, pairs), claimed["lot"], as_of=as_of) == claimed


def test_credential_verifies_and_is_recomputed() -> None:
    did = only("text did").strip()
    assert did == did_key(pub_of("attest"))
    credential = json.loads(only("json credential"))
    bundle = json.loads(only("json bundle"))
    report = verify_certificate(credential, bundle, log_keys=[VERIFIER], issuers=[did])
    assert report.ok and report.recomputed, report.to_text()
