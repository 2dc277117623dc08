"""Run the JavaScript verifier's tests (tests/js/*.test.mjs) under node's built-in runner.

The bundles made by the Python code (tests/js/bundles.py) and the set of C2SP CCTV Ed25519
vectors Python's ``cryptography`` accepts are handed to node, which must give the same verdicts.
Without node the test is skipped locally and fails in CI (``CI`` set).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.js.bundles import write_cases

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _cctv_accepted() -> list[int]:
    vectors = json.loads((ROOT / "tests/vectors/cctv-ed25519/ed25519vectors.json").read_text())
    accepted = []
    for v in vectors:
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["key"]))
            key.verify(bytes.fromhex(v["sig"]), v["msg"].encode())
        except (InvalidSignature, ValueError):
            continue
        accepted.append(v["number"])
    return accepted


def test_node_suite(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed: the JavaScript verifier cannot be tested")
        pytest.skip("node is not installed")
    cases = tmp_path / "bundles"
    names = write_cases(cases, f"sqlite:///{tmp_path}/ledger.db")
    assert len(names) >= 15
    env = {
        **os.environ,
        "LTL_JS_BUNDLES": str(cases),
        "LTL_CCTV_ACCEPTED": json.dumps(_cctv_accepted()),
    }
    files = sorted(str(p) for p in HERE.glob("*.test.mjs"))
    run = subprocess.run(
        [node, "--test", *files], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout
