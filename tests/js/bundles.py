"""Audit bundles made by the Python code, with the Python verdict, for the JavaScript verifier.

``write_cases(directory, db_url)`` writes one JSON file per case: the honest bundle of every lot
of the scenario ledger, and the bundle of ``ENCLOSURE`` tampered by every case of the tamper
suite (tests/audit/test_tamper.py) plus rule tampers re-signed with the signers' own keys (so
only the rules can catch them). Each file holds the bundle, the log vkey and what
``verify_bundle`` says: ``ok`` and the errors' codes and seqs in report order.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.audit.verify import verify_bundle
from ledger.core.checkpoint import Checkpoint, Signer, sign_checkpoint
from ledger.core.events import sign
from tests.audit.test_tamper import CASES, _entry, _reprove
from tests.support.ledgers import ORIGIN, scenario_ledger
from tests.support.scenario import ENCLOSURE, KEYS, SCRAP

Bundle = dict[str, Any]


def _resign(b: Bundle, i: int, log: Signer, **body: Any) -> None:
    """Change entry ``i``'s body, re-sign it with its actor's key, and rebuild a log over it."""
    ev = b["entries"][i]["event"]
    new = sign(
        type=ev["type"],
        actor=ev["actor"],
        key=KEYS[ev["actor"]],
        body={**ev["body"], **body},
        prev=ev["prev"],
        time=ev["time"],
        id=ev["id"],
    )
    b["entries"][i]["event"] = new.envelope
    # later events of the lot still name the old head: the verifier reports chain_gap there
    tree = _reprove(b, log)
    b["checkpoint"] = sign_checkpoint(Checkpoint(ORIGIN, tree["size"], tree["root"]), log)  # type: ignore[arg-type]


def receive_more_than_shipped(b: Bundle, log: Signer) -> None:
    _resign(b, _entry(b, "lot.receive", SCRAP), log, mass_kg="99999")


def receive_less(b: Bundle, log: Signer) -> None:
    i = _entry(b, "lot.receive", SCRAP)
    _resign(b, i, log, mass_kg="1")  # valid alone; the later events still name the old head


def transform_makes_mass(b: Bundle, log: Signer) -> None:
    i = _entry(b, "lot.transform")
    outs = copy.deepcopy(b["entries"][i]["event"]["body"]["outputs"])
    outs[0]["mass_kg"] = "999999"
    _resign(b, i, log, outputs=outs)


def drop_genesis(b: Bundle, log: Signer) -> None:
    del b["entries"][0]


def bad_proof_hash(b: Bundle, log: Signer) -> None:
    e = b["entries"][len(b["entries"]) // 2]
    e["proof"][-1] = "A" * 43 + "="


def wrong_format(b: Bundle, log: Signer) -> None:
    b["format"] = "ltl-bundle/2"


EXTRA: list[tuple[str, Callable[[Bundle, Signer], None]]] = [
    ("receive-more-than-shipped", receive_more_than_shipped),
    ("receive-less-than-shipped", receive_less),
    ("transform-makes-mass", transform_makes_mass),
    ("no-genesis", drop_genesis),
    ("bad-proof-hash", bad_proof_hash),
    ("wrong-format", wrong_format),
]


def _case(name: str, bundle: Bundle, log: Signer) -> dict[str, Any]:
    report = verify_bundle(bundle, log.verifier)
    return {
        "name": name,
        "bundle": bundle,
        "vkey": log.verifier.vkey,
        "python": {
            "ok": report.ok,
            "errors": [{"code": f.code, "seq": f.seq} for f in report.errors],
            "warnings": [{"code": f.code, "seq": f.seq} for f in report.warnings],
        },
    }


def write_cases(directory: Path, db_url: str) -> list[str]:
    """Write every case into ``directory``; returns their names."""
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    with scenario_ledger(db_url) as led:
        led.checkpoint()
        log = led.log_signer
        cases = []
        lots = [lot.lot for lot in led.list_lots(limit=1000)]
        for lot in lots:
            cases.append(_case(f"honest-{lot}", led.bundle(lot), log))
        base = led.bundle(ENCLOSURE)
        for name, mutate, _ in CASES:
            if name == "second-history":
                continue
            forged = copy.deepcopy(base)
            mutate(forged, log)
            cases.append(_case(f"tamper-{name}", forged, log))
        for name, mutate in EXTRA:
            forged = copy.deepcopy(base)
            mutate(forged, log)
            cases.append(_case(f"rule-{name}", forged, log))
    for i, case in enumerate(cases):
        path = directory / f"{i:03d}.json"
        path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
        names.append(case["name"])
    return names
