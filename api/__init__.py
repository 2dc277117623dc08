"""The LTL/1 HTTP API (spec §9): a FastAPI app factory over the ``ledger`` library."""

from .app import create_app

__all__ = ["create_app"]
