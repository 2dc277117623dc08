"""``ledger witness``: make a witness key, run a C2SP tlog-witness (spec §5 "Witnesses")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ..core.checkpoint import CheckpointError, Verifier, WitnessSigner
from ._common import fail, read_vkey

__all__ = ["keygen", "serve", "witness_app"]

witness_app = typer.Typer(
    help="A C2SP tlog-witness: cosigns checkpoints consistent with those it saw before.",
    no_args_is_help=True,
)


@witness_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Argument(help="where to write the witness signer key (mode 0600)")],
    name: Annotated[str, typer.Option(help="the witness's key name")] = "witness.example",
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Make a witness key (type 0x04): writes OUT, prints its verifier key (vkey)."""
    if out.exists() and not force:
        raise fail(f"{out} exists; pass --force to overwrite it")
    try:
        signer = WitnessSigner.generate(name)
    except CheckpointError as e:
        raise fail(str(e)) from e
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.skey + "\n")
    out.chmod(0o600)
    typer.echo(signer.witness.vkey)


def _logs(specs: list[str]) -> dict[str, list[Verifier]]:
    logs: dict[str, list[Verifier]] = {}
    for spec in specs:
        origin, sep, vkey = spec.partition("=")
        if not sep or not origin or not vkey:
            raise fail(f"--log {spec!r}: want ORIGIN=VKEY (VKEY inline or a file)")
        try:
            logs.setdefault(origin, []).append(read_vkey(vkey))
        except CheckpointError as e:
            raise fail(f"--log {origin}: {e}") from e
    return logs


@witness_app.command("serve")
def serve(
    key: Annotated[Path, typer.Option(help="the witness signer key file (ledger witness keygen)")],
    log: Annotated[list[str], typer.Option(help="a log it witnesses: ORIGIN=VKEY (repeatable)")],
    db: Annotated[str, typer.Option(help="SQLAlchemy URL of its state")] = "sqlite:///witness.db",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8090,
) -> None:
    """Run the witness: POST /add-checkpoint, GET / (health)."""
    import uvicorn

    from ..witness.app import create_app
    from ..witness.store import WitnessStore
    from ..witness.witness import WitnessService

    try:
        signer = WitnessSigner.parse(key.read_text())
    except (OSError, CheckpointError) as e:
        raise fail(f"--key {key}: {e}") from e
    logs = _logs(log)
    service = WitnessService(signer, logs, WitnessStore(db))
    typer.echo(f"witness {signer.witness.vkey} for {', '.join(sorted(logs))}", err=True)
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")
