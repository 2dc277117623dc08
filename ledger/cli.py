"""The ``ledger`` command line (SPEC §10).

Exit codes of ``verify``/``fsck``: 0 valid/clean, 1 invalid/problems, 2 usage or input error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from . import canonical, events
from .checkpoint import Verifier
from .errors import LedgerError
from .keys import (
    b64url_encode,
    generate,
    kid_of,
    load_private_key,
    public_raw,
    save_private_key,
)
from .settings import Settings, open_ledger

if TYPE_CHECKING:
    from .client import LedgerClient

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
    for key_name in ("operator", "log", "attest"):
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


def _read_text(value: str) -> str:
    """An option given inline or as a file holding it."""
    path = Path(value)
    return path.read_text().strip() if path.exists() else value.strip()


def _read_vkey(value: str) -> Verifier:
    return Verifier.parse(_read_text(value))


@app.command()
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
        str, typer.Option(help="the server's element-mass tolerance (SPEC §4)")
    ] = "0.005",
) -> None:
    """Verify an audit bundle offline. Exit 0 valid, 1 invalid, 2 usage or input error."""
    from decimal import Decimal, InvalidOperation

    from .checkpoint import Witness
    from .rules import RuleConfig
    from .verify import verify_bundle

    try:
        verifier = _read_vkey(log_key)
        witnesses = [Witness.parse(_read_text(w)) for w in witness or []]
        config = RuleConfig(tolerance=Decimal(tolerance))
        trusted = [p.read_text() for p in checkpoint or []]
    except (LedgerError, OSError, InvalidOperation) as e:
        raise _fail(f"bad option: {e}") from e
    if quorum > len(witnesses):
        raise _fail(f"--quorum {quorum} needs at least {quorum} --witness keys")
    try:
        raw = sys.stdin.buffer.read() if str(bundle) == "-" else bundle.read_bytes()
        doc = canonical.loads(raw, max_bytes=None)
    except OSError as e:
        raise _fail(f"cannot read {bundle}: {e.strerror}") from e
    except LedgerError as e:
        raise _fail(f"{bundle} is not a strict JSON document: {e.message}") from e
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


event_app = typer.Typer(
    help="Sign and post events (partner side, through the SDK).", no_args_is_help=True
)
lot_app = typer.Typer(
    help="Read lots from a ledger server (through the SDK).", no_args_is_help=True
)
app.add_typer(event_app, name="event")
app.add_typer(lot_app, name="lot")

UrlOpt = Annotated[str, typer.Option(envvar="LEDGER_URL", help="ledger server URL")]
TokenOpt = Annotated[str, typer.Option(envvar="LEDGER_TOKEN", help="API bearer token")]


def _client(url: str, token: str | None, **kw: Any) -> LedgerClient:
    from .client import LedgerClient

    return LedgerClient(url, token, **kw)


def _api_call(fn: Callable[[], Any]) -> Any:
    from .client import ApiError

    try:
        return fn()
    except ApiError as e:
        raise _fail(f"{e.status} {e.code}: {e.detail}", 1) from e
    except httpx.HTTPError as e:
        raise _fail(f"cannot reach the ledger: {e}") from e


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
            with _client(url, token) as client:
                prev_obj = _api_call(lambda: client.heads(events.touched_lots(type_, body_obj)))
        ev = events.sign(
            type=type_, actor=actor, key=load_private_key(key), body=body_obj, prev=prev_obj or {}
        )
    except LedgerError as e:
        raise _fail(e.message) from e
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
        raise _fail(e.message) from e
    with _client(url, token) as client:
        receipt = _api_call(lambda: client.post(ev))
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
    with _client(url, token) as client:
        typer.echo(json.dumps(_api_call(lambda: client.lot(lot)), indent=2))


@lot_app.command("events")
def lot_events(lot: str, url: UrlOpt, token: TokenOpt) -> None:
    """The lot's chain, one line per event."""
    with _client(url, token) as client:
        for item in _api_call(lambda: client.lot_events(lot)):
            ev = item["event"]
            typer.echo(
                f"{item['seq']:>8}  {ev['time']}  {ev['type']:15s} {ev['actor']:10s} "
                f"{item['hash'][:16]}…"
            )


@lot_app.command("bundle")
def lot_bundle(
    lot: str,
    url: UrlOpt,
    token: TokenOpt,
    out: Annotated[Path, typer.Option(help="where to write the bundle")] = Path("bundle.json"),
) -> None:
    """Download the lot's audit bundle (verify it with `ledger verify`)."""
    with _client(url, token) as client:
        bundle = _api_call(lambda: client.bundle(lot))
    out.write_text(json.dumps(bundle, indent=1))
    typer.echo(f"wrote {out} ({len(bundle['entries'])} entries)")


certificate_app = typer.Typer(help="Recycled-content certificates (W3C VC).", no_args_is_help=True)
app.add_typer(certificate_app, name="certificate")


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
    from .certificates import verify_certificate

    try:
        credential = canonical.loads(cert.read_bytes(), allow_floats=True, max_bytes=None)
        doc = None if bundle is None else canonical.loads(bundle.read_bytes(), max_bytes=None)
        keys_ = [] if log_key is None else [_read_vkey(log_key)]
    except OSError as e:
        raise _fail(f"cannot read {e.filename}: {e.strerror}") from e
    except LedgerError as e:
        raise _fail(e.message) from e
    report = verify_certificate(credential, doc, log_keys=keys_, issuers=issuer or [])
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())
    raise typer.Exit(0 if report.ok else 1)


token_app = typer.Typer(
    help="API tokens (stored hashed in the ledger database).", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    party: Annotated[str, typer.Option(help="the party the token speaks for")],
    role: Annotated[str, typer.Option(help="partner | auditor | admin")],
) -> None:
    """Issue a token; the token alone is printed on the last line (shown once)."""
    from .store.sql import SqlStore
    from .tokens import create_token

    settings = Settings()
    try:
        store = SqlStore(settings.database_url)
        token = create_token(store, party, role)
    except LedgerError as e:
        raise _fail(e.message) from e
    store.close()
    typer.echo(f"token for {party} ({role}); store it now, it is not shown again:")
    typer.echo(token)


@token_app.command("list")
def token_list() -> None:
    """Every token issued: id (SHA-256 of the token), party, role, created, revoked."""
    from .store.sql import SqlStore

    store = SqlStore(Settings().database_url)
    for h, party, role, created, revoked in store.tokens():
        typer.echo(f"{h}  {party:12s} {role:8s} {created}  {'revoked' if revoked else 'live'}")
    store.close()


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="the token, or its id (SHA-256) from `token list`")],
) -> None:
    """Revoke a token (servers stop accepting it within 30 s; at once when revoked over HTTP)."""
    import re

    from .store.sql import SqlStore
    from .tokens import hash_token

    token_id = token if re.fullmatch("[0-9a-f]{64}", token) else hash_token(token)
    store = SqlStore(Settings().database_url)
    done = store.revoke_token(token_id)
    store.close()
    if not done:
        raise _fail(f"no live token {token_id[:16]}…", 1)
    typer.echo(f"revoked {token_id}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="seed the Korean–US scenario with the published example keys (demo mode)"
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (uvicorn; SQLite at ./ledger.db unless LEDGER_DATABASE_URL is set)."""
    import uvicorn

    from api import create_app

    settings = Settings(demo=True) if demo else Settings()
    try:
        app_ = create_app(settings)
    except LedgerError as e:
        raise _fail(e.message) from e
    if demo:
        from .demo import seed_demo

        state = app_.state.ltl
        tokens = seed_demo(state.ledger, settings)
        typer.echo("demo data seeded; tokens (EXAMPLE, demo only):")
        for party, token in tokens.items():
            typer.echo(f"  {party:8s} {token}")
    typer.echo(f"log vkey {app_.state.ltl.ledger.log_signer.verifier.vkey}")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option(help="where the demo database, bundle and vkey go")
    ] = Path("demo"),
    url: Annotated[
        str | None, typer.Option(help="use this running server instead of starting one")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="with --url: an admin token (relays every party's events)")
    ] = None,
    log_key: Annotated[
        str | None, typer.Option("--log-key", help="with --url: the server's log vkey")
    ] = None,
) -> None:
    """Run the Korean–US scenario end to end over real HTTP (starts a server on SQLite)."""
    from .demo import HttpTarget, run_demo

    if url is not None:
        if not token or not log_key:
            raise _fail("--url needs --token (admin) and --log-key (the log vkey)")
        target = HttpTarget(url, {"operator": token, "auditor": token})
        target.set_vkey(_read_vkey(log_key).vkey)
        try:
            result = run_demo(target, workdir, echo=typer.echo)
        finally:
            target.close()
        raise typer.Exit(0 if result.ok else 1)
    with _demo_server(workdir) as (server_url, tokens, vkey):
        typer.echo(
            f"LTL demo — server at {server_url}, SQLite at {workdir / 'ledger.db'} "
            "(EXAMPLE KEYS: demo only)"
        )
        target = HttpTarget(server_url, tokens)
        target.set_vkey(vkey)
        try:
            result = run_demo(target, workdir, echo=typer.echo)
        finally:
            target.close()
    raise typer.Exit(0 if result.ok else 1)


@contextmanager
def _demo_server(workdir: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """A fresh demo database with tokens, and a real server process on a free port."""
    import os
    import socket
    import subprocess
    import time

    from .demo import demo_tokens
    from .store.sql import SqlStore

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{db}",
        "LEDGER_DEMO": "1",
        "LEDGER_ORIGIN": "demo.ltl.example/log",
    }
    settings = Settings(
        database_url=env["LEDGER_DATABASE_URL"], demo=True, origin=env["LEDGER_ORIGIN"]
    )
    store = SqlStore(settings.database_url)
    tokens = demo_tokens(store)
    store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                err = server.stderr.read().decode() if server.stderr else ""
                raise _fail(f"the demo server did not start: {err[-2000:]}")
            time.sleep(0.1)
        yield url, tokens, settings.log_signer().verifier.vkey
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if server.stderr:
            server.stderr.close()


def main() -> None:
    """Entry point of the ``ledger`` script."""
    app()
