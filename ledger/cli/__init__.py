"""The ``ledger`` command, the demo and its scenario: the only part of ``ledger`` that may
import the HTTP API (``api``)."""

from .app import app, main

__all__ = ["app", "main"]
