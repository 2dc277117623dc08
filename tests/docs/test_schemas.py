"""docs/schemas/ holds exactly what ``scripts/schemas.py`` generates (and the server serves)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_schemas_are_current() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/schemas.py", "--check"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
