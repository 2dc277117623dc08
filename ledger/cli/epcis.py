"""``ledger epcis``: a lot's history as a GS1 EPCIS 2.0 document, an EPCIS document imported
as signed LTL events (spec §13.2), and the CBV 2.0 event hash of a document's events (§13.1);
``ledger battery-pass``: the Battery Pass Circularity ``recycledContent`` of a lot (spec
§13.3). Through the SDK: the key that signs an import stays with the partner."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..client import LedgerClient, load_private_key
from ..client.errors import ApiError
from ..core import events
from ..core.keys import Ed25519PrivateKey
from ..errors import LedgerError
from ..interop import epcis_import
from ..interop.epcis_hash import EpcisError, document_hashes, document_prehashes
from ._common import TokenOpt, UrlOpt, api_call, client, fail

__all__ = [
    "battery_pass",
    "epcis_app",
    "hash_command",
    "import_with",
    "stored_events",
    "transit_ship_of",
]

epcis_app = typer.Typer(
    help="GS1 EPCIS 2.0: export a lot's history, import an EPCIS document as signed events.",
    no_args_is_help=True,
)

LotArg = Annotated[str, typer.Argument(help="the lot id")]


def _dump(doc: Any, out: Path | None) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        typer.echo(f"wrote {out}")


@epcis_app.command("export")
def epcis_export(
    lot: LotArg,
    url: UrlOpt,
    token: TokenOpt,
    out: Annotated[Path | None, typer.Option(help="write the document here")] = None,
) -> None:
    """Print the lot's visible history as an EPCIS 2.0 JSON-LD document."""
    with client(url, token) as sdk:
        doc = api_call(lambda: sdk.epcis_document(lot))
    _dump(doc, out)


def transit_ship_of(sdk: LedgerClient, lot: str) -> str | None:
    """The pending ship of a lot on the ledger (None: not in transit or not visible)."""
    try:
        return sdk.lot(lot).transit_ship
    except ApiError as e:
        if e.code == "not_found":
            return None
        raise


def import_with(
    sdk: LedgerClient, document: epcis_import.Document, signers: dict[str, Ed25519PrivateKey]
) -> list[Any]:
    """Map, sign (locally, with ``signers``) and post an EPCIS document through the SDK,
    reading heads from the ledger as it goes: the receipts, in order. ``document``: parsed
    JSON-LD, or the bytes of a JSON-LD or EPCIS 2.0 XML document.

    Raises:
        EpcisError: the document cannot be mapped (nothing was posted).
        ClientError: the ledger refused an event (those before it stay posted).
    """
    return epcis_import.import_document(
        document,
        signers,
        heads=sdk.heads,
        transit_ship=lambda lot: transit_ship_of(sdk, lot),
        post=sdk.post,
        stored=lambda lot: stored_events(sdk, lot),
    )


def stored_events(sdk: LedgerClient, lot: str) -> list[events.SignedEvent]:
    """The events of a lot's chain as the token sees them (none when it sees no such lot)."""
    try:
        chain = sdk.lot_events(lot)
    except ApiError as e:
        if e.status == 404:
            return []
        raise
    return [events.event_from_json(item.event) for item in chain]


@epcis_app.command("import")
def epcis_import_cmd(
    document: Annotated[Path, typer.Argument(help="the EPCIS 2.0 document, JSON-LD or XML")],
    actor: Annotated[list[str], typer.Option(help="the party that signs (repeat with --key)")],
    key: Annotated[list[Path], typer.Option(help="its PEM PKCS#8 private key")],
    url: UrlOpt,
    token: TokenOpt,
) -> None:
    """Import an EPCIS 2.0 document (JSON-LD or XML, sniffed): each event mapped to an LTL
    event, signed here, posted in order. A document with an event the ledger cannot map is
    refused whole."""
    if len(actor) != len(key):
        raise fail("give one --key per --actor")
    try:
        raw = document.read_bytes()
        signers = {a: load_private_key(k) for a, k in zip(actor, key, strict=True)}
    except (OSError, ValueError, LedgerError) as e:
        raise fail(f"{document}: {getattr(e, 'message', e)}") from e
    with client(url, token) as sdk:
        try:  # the bytes, so an XML event's epcis_event is its hash as written
            receipts = api_call(lambda: import_with(sdk, raw, signers))
        except LedgerError as e:
            raise fail(e.message) from e
    for r in receipts:
        typer.echo(f"{r.seq}\t{r.hash}\t{'posted' if r.created else 'already there'}")
    typer.echo(f"imported {len(receipts)} events")


def battery_pass(lot: LotArg, url: UrlOpt, token: TokenOpt) -> None:
    """Print the Battery Pass Circularity 1.2.0 recycledContent of a lot (JSON)."""
    with client(url, token) as sdk:
        data = api_call(lambda: sdk.battery_pass(lot))
    _dump(data, None)


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
