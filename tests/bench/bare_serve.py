"""Serve the bare reference app (tests/bench/bare_app.py) with N worker processes exactly as
``ledger serve --workers N`` serves the ledger (``ledger.cli.serving.serve_workers``), so that
the two are compared on the same process model.

    python -m tests.bench.bare_serve PORT WORKERS
"""

from __future__ import annotations

import sys

from ledger.cli.serving import serve_workers

if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    serve_workers("tests.bench.bare_app:app", workers=workers, host="127.0.0.1", port=port)
