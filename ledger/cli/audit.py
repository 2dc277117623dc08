"""Auditor commands: verify an audit bundle or a certificate offline."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from ..attest.certificates import verify_certificate
from ..audit.verify import verify_bundle
from ..core import canonical
from ..core.checkpoint import Witness
from ..core.rules import RuleConfig
from ..errors import LedgerError
from ._common import fail, read_text, read_vkey

__all__ = ["certificate_app", "certificate_verify", "verify"]

certificate_app = typer.Typer(help="Recycled-content certificates (W3C VC).", no_args_is_help=True)


def verify(
    bundle: Annotated[Path, typer.Argument(help="audit bundle JSON file ('-' for stdin)")],
    log_key: Annotated[str, typer.Option("--log-key", help="log vkey, or a file holding it")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--trusted-checkpoint", help="checkpoint note seen before (split-view check)"),
    ] = None,
    witness: Annotated[
        list[str] | None, typer.Option("--witness", help="witness vkey (or a file holding it)")
    ] = None,
    quorum: Annotated[int, typer.Option(help="cosignatures required from --witness keys")] = 0,
    tolerance: Annotated[
        str, typer.Option(help="the server's element-mass tolerance (spec §4)")
    ] = "0.005",
) -> None:
    """Verify an audit bundle offline. Exit 0 valid, 1 invalid, 2 usage or input error."""
    try:
        verifier = read_vkey(log_key)
        witnesses = [Witness.parse(read_text(w)) for w in witness or []]
        config = RuleConfig(tolerance=Decimal(tolerance))
        trusted = [p.read_text() for p in checkpoint or []]
    except (LedgerError, OSError, InvalidOperation) as e:
        raise fail(f"bad option: {e}") from e
    if quorum > len(witnesses):
        raise fail(f"--quorum {quorum} needs at least {quorum} --witness keys")
    try:
        raw = sys.stdin.buffer.read() if str(bundle) == "-" else bundle.read_bytes()
        doc = canonical.loads(raw, max_bytes=None)
    except OSError as e:
        raise fail(f"cannot read {bundle}: {e.strerror}") from e
    except LedgerError as e:
        raise fail(f"{bundle} is not a strict JSON document: {e.message}") from e
    report = verify_bundle(
        doc,
        verifier,
        config=config,
        trusted_checkpoints=trusted,
        witnesses=witnesses,
        quorum=quorum,
    )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(report.to_text())
    raise typer.Exit(0 if report.ok else 1)


@certificate_app.command("verify")
def certificate_verify(
    cert: Annotated[Path, typer.Argument(help="the certificate (credential JSON)")],
    bundle: Annotated[
        Path | None, typer.Option(help="the audit bundle named in its evidence")
    ] = None,
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="log vkey: verify the bundle in full too")
    ] = None,
    issuer: Annotated[
        list[str] | None, typer.Option(help="trusted issuer did:key (repeatable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Check the proof and recompute every figure from the bundle. Exit 0/1/2."""
    try:
        credential = canonical.loads(cert.read_bytes(), allow_floats=True, max_bytes=None)
        doc = None if bundle is None else canonical.loads(bundle.read_bytes(), max_bytes=None)
        keys_ = [] if log_key is None else [read_vkey(log_key)]
    except OSError as e:
        raise fail(f"cannot read {e.filename}: {e.strerror}") from e
    except LedgerError as e:
        raise fail(e.message) from e
    report = verify_certificate(credential, doc, log_keys=keys_, issuers=issuer or [])
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())
    raise typer.Exit(0 if report.ok else 1)
