"""The README's Python snippets run as written, each in a fresh interpreter.

The library snippet builds a fresh ledger (genesis included) in an empty folder; the SDK snippet
talks to a real ``ledger serve --demo`` process with the token it printed for ``bwm``. Both
import only from the documented surface (``from ledger import ...``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ServerProcess, clean_env

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)


def _snippet(marker: str) -> str:
    (found,) = [s for s in SNIPPETS if marker in s]
    return found


def _run(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (cwd / "keys.example").symlink_to(ROOT / "keys.example")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_snippet_is_tested() -> None:
    assert len(SNIPPETS) == 2, "a new README snippet needs a test here"
    for code in SNIPPETS:
        imports = re.findall(r"^(?:from|import) (\S+)", code, re.M)
        ours = [m for m in imports if m.split(".")[0] in ("ledger", "api")]
        assert ours and all(m == "ledger" for m in ours), ours  # the documented surface only


def test_library_snippet_runs_on_a_fresh_ledger(tmp_path: Path) -> None:
    done = _run(_snippet("Ledger(SqlStore("), tmp_path, clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    seq, event_hash = done.stdout.split()
    assert seq == "2" and re.fullmatch("[0-9a-f]{64}", event_hash)
    assert (tmp_path / "example.db").exists()


@pytest.mark.slow
def test_sdk_snippet_runs_against_a_real_server(tmp_path: Path) -> None:
    server_dir = tmp_path / "server"
    env = clean_env(LEDGER_DATABASE_URL=f"sqlite:///{server_dir / 'ledger.db'}")
    process = ServerProcess(env, server_dir, args=("--demo",)).start()
    try:
        lines = process.stdout().splitlines()
        start = lines.index("demo data seeded; tokens (EXAMPLE, demo only):")
        tokens = dict(line.split() for line in lines[start + 1 :] if line.startswith("  "))
        client_dir = tmp_path / "client"
        client_dir.mkdir()
        done = _run(
            _snippet("LedgerClient("),
            client_dir,
            clean_env(LEDGER_URL=process.url, LEDGER_TOKEN=tokens["bwm"]),
        )
    finally:
        process.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    refused, shown = done.stdout.splitlines()
    assert refused.startswith("409 in_transit lot 'BWM-AL-2025-0100' is in transit to 'alus'")
    assert shown == "bwm in_transit alus"
    assert "Traceback" not in process.stderr(), process.stderr()
