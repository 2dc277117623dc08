"""A partner's lot list against the auditor's, on a ledger of 100,000 lots (issue 8, A2).

    .venv/bin/python -m tests.bench.bench_visibility [--lots 100000]

``bwm`` creates ``--lots`` lots and ships one lot in a thousand to ``packco`` (which receives
them), so a partner's view is a sparse 0.1 % of the ledger. Both callers page through
``GET /v1/lots`` over the ASGI app (``limit=1`` and ``limit=100`` pages, with cursors spread
over the id space); the figure is the partner's page time divided by the auditor's, measured in
the same run (target: at most 3). Before the visibility index the partner's page cost one query
per lot in the ledger.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.core import events
from ledger.service.settings import Settings
from ledger.service.tokens import create_token

from .common import (
    ORIGIN,
    RECYCLER,
    T0,
    det_key,
    register,
    seeded_ledger,
    sign_creates_parallel,
    tmp_sqlite,
)

PARTNER = det_key("packco")


def _page_ms(client: TestClient, token: str, limit: int, cursors: list[str]) -> float:
    """Median milliseconds of one list page, over every cursor, three rounds."""
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    for _ in range(3):
        for cursor in cursors:
            start = time.perf_counter()
            resp = client.get(
                f"/v1/lots?limit={limit}&after={quote(cursor, safe='')}", headers=headers
            )
            times.append(time.perf_counter() - start)
            assert resp.status_code == 200, resp.text
            assert resp.json()["items"], cursor
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ltl-bench-") as tmp:
        url = tmp_sqlite(Path(tmp), "visibility")
        ledger = seeded_ledger(url)
        ledger.append(register("packco", ["manufacturer"], PARTNER))
        print(f"creating {args.lots} lots and shipping 0.1 % to packco (set-up) ...", flush=True)
        payloads = sign_creates_parallel(args.lots, salt="vis")
        for i in range(0, len(payloads), 2000):
            results = ledger.append_many(payloads[i : i + 2000])
            assert not any(isinstance(r, Exception) for r in results)
        shipped = [events.parse_event(p) for p in payloads[::1000]]
        ships = [
            events.sign(
                type="lot.ship",
                actor="bwm",
                key=RECYCLER,
                body={"lot": ev.body["lot"], "to": "packco", "mass_kg": "1000"},
                prev={ev.body["lot"]: ev.hash},
                time=T0,
            )
            for ev in shipped
        ]
        assert not any(isinstance(r, Exception) for r in ledger.append_many(ships))
        receives = [
            events.sign(
                type="lot.receive",
                actor="packco",
                key=PARTNER,
                body={"lot": s.body["lot"], "ship": s.hash, "mass_kg": "1000"},
                prev={s.body["lot"]: s.hash},
                time=T0,
            )
            for s in ships
        ]
        assert not any(isinstance(r, Exception) for r in ledger.append_many(receives))
        partner = create_token(ledger.store, "packco", "partner")
        auditor = create_token(ledger.store, "bwm", "auditor")
        app = create_app(Settings(database_url=url, origin=ORIGIN), ledger=ledger)
        lots = sorted(ev.body["lot"] for ev in shipped)
        cursors = [lot[:-1] for lot in lots[:: max(1, len(lots) // 20)]]
        with TestClient(app) as client:
            print(f"{args.lots} lots; packco sees {len(lots)}")
            for limit in (1, 100):
                theirs = _page_ms(client, partner, limit, cursors)
                ours = _page_ms(client, auditor, limit, cursors)
                print(
                    f"list page limit={limit}: partner {theirs:.2f} ms, auditor (floor) "
                    f"{ours:.2f} ms, ratio partner/auditor {theirs / ours:.2f} (target <= 3)"
                )
        ledger.close()


if __name__ == "__main__":
    main()
