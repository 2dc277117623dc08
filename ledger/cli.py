"""The ``ledger`` command line (SPEC §10).

Exit codes of ``verify``/``fsck``: 0 valid/clean, 1 invalid/problems, 2 usage or input error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import canonical, events
from .checkpoint import Verifier
from .errors import LedgerError
from .keys import b64url_encode, generate, kid_of, public_raw, save_private_key
from .settings import Settings, open_ledger

__all__ = ["app", "main"]

app = typer.Typer(
    name="ledger",
    help="LTL/1 lot traceability ledger: signed custody events, Merkle log, audit bundles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def keygen(
    out: Annotated[Path, typer.Argument(help="where to write the PEM PKCS#8 private key")],
    log_name: Annotated[
        str | None, typer.Option("--log-name", help="also print the C2SP vkey for this log name")
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Make an Ed25519 key: writes OUT (mode 0600), prints kid and public key."""
    if out.exists() and not force:
        raise _fail(f"{out} exists; pass --force to overwrite it")
    key = generate()
    save_private_key(key, out)
    pub = public_raw(key)
    typer.echo(f"kid {kid_of(pub)}")
    typer.echo(f"pub {b64url_encode(pub)}")
    if log_name:
        from .checkpoint import Signer

        typer.echo(f"vkey {Signer(log_name, key).verifier.vkey}")


@app.command()
def init(
    operator_id: Annotated[str, typer.Option(help="party id of the operator")] = "operator",
    name: Annotated[str, typer.Option(help="operator's legal name")] = "Ledger operator",
    country: Annotated[str, typer.Option(help="operator's country (ISO 3166-1 alpha-2)")] = "US",
) -> None:
    """Create keys (if missing), the database, and the genesis event; print the log vkey."""
    settings = Settings()
    for key_name in ("operator", "log"):
        path = settings.key_path(key_name)
        if not path.exists():
            save_private_key(generate(), path)
            typer.echo(f"created {path}")
    try:
        ledger = open_ledger(settings)
    except LedgerError as e:
        raise _fail(e.message) from e
    with ledger:
        if ledger.size() == 0:
            op_key = settings.load_key("operator")
            pub = public_raw(op_key)
            body = {
                "party": {
                    "id": operator_id,
                    "name": name,
                    "country": country,
                    "roles": ["operator"],
                    "feoc": False,
                },
                "keys": [{"kid": kid_of(pub), "alg": "Ed25519", "pub": b64url_encode(pub)}],
            }
            ev = events.sign(type="party.register", actor=operator_id, key=op_key, body=body)
            receipt = ledger.append(ev)
            typer.echo(f"genesis event {receipt.hash} at seq {receipt.seq}")
        else:
            typer.echo(f"ledger already initialized ({ledger.size()} events)")
        ledger.checkpoint()
        typer.echo(f"database {settings.database_url}")
        typer.echo(f"log vkey {ledger.log_signer.verifier.vkey}")


def _read_vkey(value: str) -> Verifier:
    path = Path(value)
    text = path.read_text().strip() if path.exists() else value.strip()
    return Verifier.parse(text)


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="audit bundle JSON file ('-' for stdin)")],
    log_key: Annotated[str, typer.Option("--log-key", help="log vkey, or a file holding it")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--trusted-checkpoint", help="checkpoint note seen before (split-view check)"),
    ] = None,
) -> None:
    """Verify an audit bundle offline. Exit 0 valid, 1 invalid, 2 usage or input error."""
    from .verify import verify_bundle

    try:
        verifier = _read_vkey(log_key)
    except (LedgerError, OSError) as e:
        raise _fail(f"bad --log-key: {e}") from e
    try:
        raw = sys.stdin.buffer.read() if str(bundle) == "-" else bundle.read_bytes()
        doc = canonical.loads(raw, max_bytes=None)
    except OSError as e:
        raise _fail(f"cannot read {bundle}: {e.strerror}") from e
    except LedgerError as e:
        raise _fail(f"{bundle} is not a strict JSON document: {e.message}") from e
    trusted = [p.read_text() for p in checkpoint or []]
    report = verify_bundle(doc, verifier, trusted_checkpoints=trusted)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(report.to_text())
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def fsck(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Re-derive the tree and all state from the stored events and compare (exit 1 on problems)."""
    from .fsck import fsck as run_fsck

    try:
        ledger = open_ledger(Settings())
    except LedgerError as e:
        raise _fail(e.message) from e
    with ledger:
        report = run_fsck(ledger)
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())
    raise typer.Exit(0 if report.ok else 1)


def main() -> None:
    """Entry point of the ``ledger`` script."""
    app()
