"""Partner commands, through the SDK: sign and post events, read lots and bundles."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ..client import load_private_key
from ..core import canonical, events
from ..core.schema import touched_lots
from ..core.values import format_time
from ..errors import LedgerError
from ._common import TokenOpt, UrlOpt, api_call, client, fail

__all__ = ["event_app", "lot_app"]

event_app = typer.Typer(
    help="Sign and post events (partner side, through the SDK).", no_args_is_help=True
)
lot_app = typer.Typer(
    help="Read lots from a ledger server (through the SDK).", no_args_is_help=True
)


@event_app.command("sign")
def event_sign(
    type_: Annotated[str, typer.Option("--type", help="event type, e.g. lot.ship")],
    actor: Annotated[str, typer.Option(help="your party id")],
    key: Annotated[Path, typer.Option(help="your PEM PKCS#8 private key")],
    body: Annotated[Path, typer.Option(help="the body as a JSON file ('-' for stdin)")],
    url: Annotated[
        str | None, typer.Option(envvar="LEDGER_URL", help="read the current heads from here")
    ] = None,
    token: Annotated[str | None, typer.Option(envvar="LEDGER_TOKEN")] = None,
    prev: Annotated[str | None, typer.Option(help="prev as JSON instead of reading heads")] = None,
) -> None:
    """Sign an event locally and print its canonical JSON (pipe it to curl or `event post`)."""
    raw = sys.stdin.read() if str(body) == "-" else body.read_text()
    try:
        body_obj = canonical.loads(raw)
        prev_obj = canonical.loads(prev) if prev is not None else None
        if prev_obj is None and url is not None:
            with client(url, token) as sdk:
                prev_obj = api_call(lambda: sdk.heads(touched_lots(type_, body_obj)))
        ev = events.sign(
            type=type_,
            actor=actor,
            key=load_private_key(key),
            body=body_obj,
            prev=prev_obj or {},
            time=format_time(datetime.now(UTC).replace(microsecond=0)),
        )
    except LedgerError as e:
        raise fail(e.message) from e
    sys.stdout.write(ev.canonical.decode("utf-8") + "\n")


@event_app.command("post")
def event_post(
    file: Annotated[Path, typer.Argument(help="a signed event JSON file ('-' for stdin)")],
    url: UrlOpt,
    token: TokenOpt,
) -> None:
    """Post a signed event; prints the receipt (exit 1 with the problem when refused)."""
    raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    try:
        ev = events.parse_event(raw)
    except LedgerError as e:
        raise fail(e.message) from e
    with client(url, token) as sdk:
        receipt = api_call(lambda: sdk.post(ev))
    typer.echo(
        json.dumps(
            {
                "seq": receipt.seq,
                "hash": receipt.hash,
                "lots": receipt.lots,
                "created": receipt.created,
            },
            indent=2,
        )
    )


@lot_app.command("show")
def lot_show(lot: str, url: UrlOpt, token: TokenOpt) -> None:
    """A lot's state as JSON."""
    with client(url, token) as sdk:
        found = api_call(lambda: sdk.lot(lot))
    typer.echo(json.dumps(found.model_dump(mode="json"), indent=2))


@lot_app.command("events")
def lot_events(lot: str, url: UrlOpt, token: TokenOpt) -> None:
    """The lot's chain, one line per event."""
    with client(url, token) as sdk:
        items = api_call(lambda: sdk.lot_events(lot))
    for item in items:
        ev = item.event
        typer.echo(
            f"{item.seq:>8}  {ev['time']}  {ev['type']:15s} {ev['actor']:10s} {item.hash[:16]}…"
        )


@lot_app.command("bundle")
def lot_bundle(
    lot: str,
    url: UrlOpt,
    token: TokenOpt,
    out: Annotated[Path, typer.Option(help="where to write the bundle")] = Path("bundle.json"),
) -> None:
    """Download the lot's audit bundle (verify it with `ledger verify`)."""
    with client(url, token) as sdk:
        bundle = api_call(lambda: sdk.bundle(lot))
    out.write_text(json.dumps(bundle.model_dump(), indent=1))
    typer.echo(f"wrote {out} ({len(bundle.entries)} entries)")
