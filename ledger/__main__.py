"""``python -m ledger``: the ``ledger`` command line."""

from .cli import main

main()
