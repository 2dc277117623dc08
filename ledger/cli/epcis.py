"""GS1 EPCIS 2.0 commands (issue 10): ``ledger epcis hash`` (the CBV 2.0 event hash)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..interop.epcis_hash import EpcisError, document_hashes, document_prehashes
from ._common import fail

__all__ = ["epcis_app", "hash_command"]

epcis_app = typer.Typer(help="GS1 EPCIS 2.0 documents (JSON-LD and XML).", no_args_is_help=True)


@epcis_app.command("hash")
def hash_command(
    file: Annotated[
        Path, typer.Argument(help="EPCIS 2.0 document, JSON-LD or XML ('-' for stdin)")
    ],
    prehash: Annotated[
        bool, typer.Option("--prehash", help="print the pre-hash strings instead")
    ] = False,
) -> None:
    """Print the CBV 2.0 event hash (ni:///sha-256;…?ver=CBV2.0) of every event, one a line,
    in document order. Exit 1 on a document that cannot be parsed, 2 on an unreadable file."""
    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {file}: {e.strerror}") from e
    try:
        lines = document_prehashes(raw) if prehash else document_hashes(raw)
    except EpcisError as e:
        raise fail(str(e), 1) from e
    for line in lines:
        typer.echo(line)
