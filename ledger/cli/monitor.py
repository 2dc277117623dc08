"""``ledger monitor``: follow a log, check its checkpoints, find events made with stolen keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from ..client import ClientError, load_private_key
from ..client.journal import journaled_hashes
from ..core.checkpoint import CheckpointError, Verifier
from ..core.keys import KeyFormatError, kid_of, public_raw
from ..errors import LedgerError
from ..monitor import Monitor, Report, load_state, save_state
from ._common import UrlOpt, client, fail, read_vkey

__all__ = ["monitor"]


def _key_dir_kids(folder: Path) -> set[str]:
    """The kids of the private keys (``*.pem``) in ``folder``."""
    kids: set[str] = set()
    for pem in sorted(folder.glob("*.pem")):
        try:
            kids.add(kid_of(public_raw(load_private_key(pem))))
        except (KeyFormatError, OSError) as e:
            raise fail(f"{pem}: {e}") from e
    return kids


def _emit(report: Report) -> None:
    for finding in report.findings:
        typer.echo(json.dumps(finding.to_json(), sort_keys=True))
    typer.echo(json.dumps(report.summary, sort_keys=True))


def monitor(
    url: UrlOpt,
    log_key: Annotated[str, typer.Option(help="the log's vkey, or a file holding it")],
    token: Annotated[
        str | None, typer.Option(envvar="LEDGER_TOKEN", help="reads the events (with --party)")
    ] = None,
    party: Annotated[
        str | None, typer.Option(help="report this party's events missing from its journal")
    ] = None,
    key_dir: Annotated[
        Path | None, typer.Option(help="folder of the party's PEM keys (their kids count too)")
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(envvar="LEDGER_JOURNAL", help="the party's posting journal")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="where the last verified checkpoint is kept")
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="a checkpoint seen elsewhere (a witness's, an auditor's); repeatable"),
    ] = None,
    start: Annotated[int, typer.Option(help="log index a first scan starts at")] = 0,
    once: Annotated[bool, typer.Option(help="one pass; exit 1 if anything was found")] = False,
    interval: Annotated[float, typer.Option(help="seconds between passes")] = 60.0,
) -> None:
    """Follow the log from its last verified checkpoint and report findings as JSON lines."""
    try:
        verifier: Verifier = read_vkey(log_key)
    except CheckpointError as e:
        raise fail(f"--log-key: {e.message}") from e
    if party is not None and (token is None or journal is None):
        raise fail("--party needs --token (to read the events) and --journal")
    others: list[tuple[str, str]] = []
    for path in checkpoint or []:
        try:
            others.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as e:
            raise fail(f"cannot read {path}: {e}") from e
    kids = _key_dir_kids(key_dir) if key_dir is not None else set()
    with client(url, token) as sdk:
        try:
            if party is not None:
                kids |= {k.kid for k in sdk.party_info(party).keys}
            while True:
                known = load_state(state) if state is not None else None
                listed = journaled_hashes(journal) if journal is not None else set()
                watcher = Monitor(
                    sdk,
                    verifier,
                    party=party,
                    kids=frozenset(kids),
                    journal=frozenset(listed),
                )
                report = watcher.run(known, others, start=start)
                if state is not None and report.state is not None and report.state != known:
                    save_state(state, report.state)
                _emit(report)
                if once:
                    raise typer.Exit(1 if report.findings else 0)
                time.sleep(interval)
        except ClientError as e:
            raise fail(e.message) from e
        except LedgerError as e:
            raise fail(f"{e.code}: {e.message}") from e
