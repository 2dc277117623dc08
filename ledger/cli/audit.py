"""Auditor commands: verify an audit bundle or a certificate (offline, and its status online)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from ..audit.verify import ChunkMap, shared_entries, verify_bundle
from ..core import canonical
from ..core.checkpoint import Witness
from ..core.gc import gc_paused
from ..core.rules import RuleConfig
from ..errors import LedgerError
from ._common import client, fail, read_text, read_vkey

__all__ = ["certificate_app", "certificate_verify", "verify", "verify_main"]

#: Below this size a bundle is verified without worker processes: starting them costs more
#: than its few hundred signatures (about 1,500 entries per 2 MiB).
PARALLEL_MIN_BYTES = 2 * 1024 * 1024


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@contextmanager
def _entry_pool(jobs: int, doc: Any) -> Iterator[ChunkMap | None]:
    """A pool's ``imap`` checking ``doc``'s entries in ``jobs`` worker processes (None: serial).

    The workers are forked after the bundle is parsed and inherit its entries (copy on write):
    a task is a range of positions and its result the canonical bytes, hash and signature
    verdict of each entry, so no event is pickled. Where ``fork`` is unavailable: serial.
    """
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if jobs <= 1 or type(entries) is not list or "fork" not in mp.get_all_start_methods():
        yield None
        return
    with shared_entries(entries), mp.get_context("fork").Pool(jobs) as pool:
        yield pool.imap


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
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            help="worker processes checking the entries (schema, canonical form, hash, "
            "signature; default: one per core for a bundle over 2 MiB; 1: none, all in this "
            "process). The rules are replayed in order here; the report is the same for any value",
        ),
    ] = None,
) -> None:
    """Verify an audit bundle offline. Exit 0 valid, 1 invalid, 2 usage or input error."""
    if jobs is not None and jobs < 1:
        raise fail(f"--jobs {jobs}: give at least 1 (1 checks every signature in this process)")
    try:
        verifier = read_vkey(log_key)
        witnesses = [Witness.parse(read_text(w)) for w in witness or []]
        config = RuleConfig(tolerance=Decimal(tolerance))
        trusted = [p.read_text() for p in checkpoint or []]
    except (LedgerError, OSError, InvalidOperation) as e:
        raise fail(f"bad option: {e}") from e
    if quorum > len(witnesses):
        raise fail(f"--quorum {quorum} needs at least {quorum} --witness keys")
    stdin = str(bundle) == "-"
    if jobs is None:  # by default, worker processes only for a bundle worth their start
        try:
            small = not stdin and bundle.stat().st_size < PARALLEL_MIN_BYTES
        except OSError as e:
            raise fail(f"cannot read {bundle}: {e.strerror}") from e
        jobs = 1 if small else default_jobs()
    with gc_paused():  # a big bundle is millions of objects: no collection meanwhile
        try:
            raw = sys.stdin.buffer.read() if stdin else bundle.read_bytes()
            doc = canonical.loads(raw, max_bytes=None)
        except OSError as e:
            raise fail(f"cannot read {bundle}: {e.strerror}") from e
        except LedgerError as e:
            raise fail(f"{bundle} is not a strict JSON document: {e.message}") from e
        del raw
        with _entry_pool(jobs, doc) as chunk_map:
            report = verify_bundle(
                doc,
                verifier,
                config=config,
                trusted_checkpoints=trusted,
                witnesses=witnesses,
                quorum=quorum,
                chunk_map=chunk_map,
                shared=chunk_map is not None,
            )
        output = json.dumps(report.to_json(), indent=2) if as_json else report.to_text()
        ok = report.ok
        # freed while the collector is paused: once it resumes, its first pass scans every
        # object allocated during the pause that is still alive
        del doc, report
    typer.echo(output)
    raise typer.Exit(0 if ok else 1)


def verify_main(args: list[str]) -> None:
    """``ledger verify ARGS`` without building the whole command tree (see ``ledger.cli``)."""
    command: Callable[..., Any] = typer.main.get_command(_verify_app)
    command(args=args, prog_name="ledger verify")


_verify_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
_verify_app.command()(verify)


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
    trust: Annotated[
        Path | None,
        typer.Option(help="a file of trusted issuer did:keys, one per line ('#' comments)"),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="a ledger whose published issuer (/.well-known/ltl-trust) to trust"),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="do not fetch the certificate's status list (status unchecked)"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Check the proof and recompute every figure from the bundle. VALID only for an issuer you
    trust (--issuer, --trust or --url); a sound certificate of another issuer is UNTRUSTED.
    Online (the default), a trusted certificate's status list is fetched: SUPERSEDED when the
    ledger no longer supports its figures (with the certificate that replaces it), REVOKED
    when its issuer withdrew it. Exit 0 valid, 1 untrusted, superseded, revoked or invalid,
    2 usage."""
    from ..attest.certificates import verify_certificate
    from .certstatus import fetch_status

    try:
        credential = canonical.loads(cert.read_bytes(), allow_floats=True, max_bytes=None)
        doc = None if bundle is None else canonical.loads(bundle.read_bytes(), max_bytes=None)
        keys_ = [] if log_key is None else [read_vkey(log_key)]
        trusted = [*(issuer or []), *([] if trust is None else _trust_file(trust))]
    except OSError as e:
        raise fail(f"cannot read {e.filename}: {e.strerror}") from e
    except LedgerError as e:
        raise fail(e.message) from e
    if url is not None:
        trusted.append(_published_issuer(url, echo=not as_json))
    status = None
    if not offline and _trusted_signature(credential, trusted):
        status = fetch_status(credential)
    report = verify_certificate(credential, doc, log_keys=keys_, issuers=trusted, status=status)
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())
    if not trusted and not as_json:
        typer.echo(
            "  no issuer is trusted: pass --issuer DID, --trust FILE, or --url of the ledger "
            "that issued it (its did:key is printed by `ledger init`, `serve` and `demo`)"
        )
    raise typer.Exit(0 if report.ok else 1)


def _trusted_signature(credential: Any, trusted: list[str]) -> bool:
    """Whether the credential's proof verifies under a trusted issuer (only then are the URLs
    it names worth fetching)."""
    from ..attest.credentials import verify_proof

    proof = verify_proof(credential)
    return proof.ok and proof.controller in trusted


def _trust_file(path: Path) -> list[str]:
    """The did:keys of a trust file: one per line; blank lines and '#' comments ignored."""
    dids = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    bad = [d for d in dids if d and not d.startswith("did:key:")]
    if bad:
        raise fail(f"{path}: {bad[0]!r} is not a did:key; list one did:key per line")
    return [d for d in dids if d]


def _published_issuer(url: str, *, echo: bool) -> str:
    """The attestation did:key a ledger publishes, fetched once and printed (to be pinned)."""
    from ..client.errors import ClientError

    try:
        with client(url, None) as sdk:
            anchors = sdk.trust()
    except ClientError as e:
        raise fail(f"cannot read the trust anchors of {url}: {e}") from e
    if anchors.issuer is None:
        raise fail(f"{url} publishes no attestation key: it issues no certificates")
    if echo:
        typer.echo(f"pinned issuer {anchors.issuer} (published by {url}); pin it with --issuer")
    return anchors.issuer
