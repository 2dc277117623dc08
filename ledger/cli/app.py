"""The ``ledger`` command line (spec §10): the root app and where each command lives.

Exit codes of ``verify``/``fsck``/``certificate verify``: 0 valid/clean, 1 invalid/problems,
2 usage or input error. Operator commands are in ``node.py``, auditor commands in
``audit.py``, partner commands (through the SDK) in ``partner.py``, reports for people
(``report``, ``certificate issue``) in ``reports.py``, EPCIS interop (``epcis``) in
``epcis.py``, the tlog-witness (``witness``) in ``witness.py``, the log monitor (``monitor``) in
``monitor.py``.
"""

from __future__ import annotations

import typer

from . import audit, epcis, monitor, node, partner, reports, witness

__all__ = ["app", "main"]

app = typer.Typer(
    name="ledger",
    help="LTL/1 lot traceability ledger: signed custody events, Merkle log, audit bundles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (node.keygen, node.init, audit.verify, node.fsck, node.serve, node.demo):
    app.command()(command)
app.command("report")(reports.report)
app.command("monitor")(monitor.monitor)
app.command("battery-pass")(epcis.battery_pass)
audit.certificate_app.command("issue")(reports.certificate_issue)
app.add_typer(partner.event_app, name="event")
app.add_typer(partner.lot_app, name="lot")
app.add_typer(audit.certificate_app, name="certificate")
app.add_typer(node.token_app, name="token")
app.add_typer(node.tiles_app, name="tiles")
app.add_typer(node.log_app, name="log")
app.add_typer(epcis.epcis_app, name="epcis")
app.add_typer(witness.witness_app, name="witness")


def main() -> None:
    """Entry point of the ``ledger`` script."""
    app()
