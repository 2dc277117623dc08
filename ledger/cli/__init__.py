"""The ``ledger`` command, the demo and its scenario: the only part of ``ledger`` that may
import the HTTP API (``api``).

The command tree (``app``) is imported on first use: ``ledger verify``, run by auditors on big
bundles, starts without the imports of the other commands (the SDK, HTTP, the server).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``ledger`` script."""
    if sys.argv[1:2] == ["verify"]:
        from .audit import verify_main

        verify_main(sys.argv[2:])
        return
    from .app import main as app_main

    app_main()


def __getattr__(name: str) -> Any:
    # Only until anything imports the submodule ``ledger.cli.app``: Python then binds that
    # name to the module. Import the command tree as ``from ledger.cli.app import app``.
    if name == "app":
        from .app import app

        globals()["app"] = app  # importing the submodule bound its name here: the app wins
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
