"""Write the JSON Schemas (2020-12) of the signed envelope and of every event body to
docs/schemas/<name>.json, from ``ledger.core.json_schema`` (the server's own checkers).

    .venv/bin/python scripts/schemas.py            # rewrite docs/schemas/
    .venv/bin/python scripts/schemas.py --check    # exit 1 if docs/schemas/ is stale

``tests/docs/test_schemas.py`` runs the check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ledger.core.json_schema import documents

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "schemas"


def rendered() -> dict[str, str]:
    """File name -> text of every schema (stable: 2-space indent, UTF-8, a final newline)."""
    return {
        f"{name}.json": json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        for name, doc in documents().items()
    }


def main(argv: list[str]) -> int:
    wanted = rendered()
    present = {p.name: p.read_text("utf-8") for p in OUT.glob("*.json")} if OUT.is_dir() else {}
    if "--check" in argv:
        if present != wanted:
            stale = sorted(set(present) ^ set(wanted)) or sorted(
                n for n in wanted if present.get(n) != wanted[n]
            )
            print(
                f"docs/schemas is stale ({', '.join(stale)}): run scripts/schemas.py",
                file=sys.stderr,
            )
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in set(present) - set(wanted):
        (OUT / name).unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
