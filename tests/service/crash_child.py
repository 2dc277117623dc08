"""Child process of the crash test: appends events from several threads and reports every
acknowledged one (and every checkpoint) on stdout until it is killed."""

from __future__ import annotations

import sys
import threading

from ledger.core.events import sign
from tests.support.ledgers import open_ledger
from tests.support.scenario import KEYS, registered_chain


def main(url: str, threads: int, per_thread: int) -> None:
    ledger = open_ledger(url)
    if ledger.size() == 0:
        ledger.append_many(registered_chain().events)
    out = threading.Lock()

    def say(line: str) -> None:
        with out:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def worker(t: int) -> None:
        for i in range(per_thread):
            ev = sign(
                type="lot.create",
                actor="bwm",
                key=KEYS["bwm"],
                time="2025-07-01T00:00:00Z",
                body={
                    "lot": f"CRASH-{t}-{i}",
                    "material": "black mass",
                    "mass_kg": "100",
                    "source": "post_consumer",
                    "site": {"country": "US"},
                },
            )
            r = ledger.append(ev)
            say(f"ack {r.seq} {r.hash}")
            if i % 200 == 199 and t == 0:
                cp = ledger.checkpoint()
                say(f"checkpoint {cp.size} {cp.root.hex()}")

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    say("done")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
