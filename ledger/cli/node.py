"""Operator commands: keys, the database and its genesis, the server, fsck, tokens, the demo."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..client import save_private_key
from ..core import events
from ..core.checkpoint import Signer, Verifier
from ..core.keys import b64url_encode, generate, key_object, kid_of, public_raw
from ..core.values import HASH_RE, format_time
from ..errors import LedgerError
from ._common import UrlOpt, api_call, client, fail, read_vkey

if TYPE_CHECKING:
    from ..service.settings import Settings
    from ..store.sql import SqlStore
    from .demo_network import DemoWitness

# The database stack (SQLAlchemy, Alembic, psycopg), the web stack and the demo are imported
# inside the commands that use them, so `ledger verify` and the partner commands start fast.

DEMO_ISSUER_NAME = "LTL demo ledger (example keys)"

__all__ = [
    "demo",
    "fsck",
    "init",
    "keygen",
    "log_app",
    "serve",
    "tiles_app",
    "token_app",
]

log_app = typer.Typer(help="The log's state and its witnesses (spec §5.9).", no_args_is_help=True)
tiles_app = typer.Typer(
    help="The log as C2SP tlog-tiles static files (spec §5.10).", no_args_is_help=True
)
token_app = typer.Typer(
    help="API tokens (stored hashed in the ledger database).", no_args_is_help=True
)


def keygen(
    out: Annotated[Path, typer.Argument(help="where to write the PEM PKCS#8 private key")],
    log_name: Annotated[
        str | None, typer.Option("--log-name", help="also print the C2SP vkey for this log name")
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Make an Ed25519 key: writes OUT (mode 0600), prints kid and public key."""
    if out.exists() and not force:
        raise fail(f"{out} exists; pass --force to overwrite it")
    key = generate()
    save_private_key(key, out)
    pub = public_raw(key)
    typer.echo(f"kid {kid_of(pub)}")
    typer.echo(f"pub {b64url_encode(pub)}")
    if log_name:
        typer.echo(f"vkey {Signer(log_name, key).verifier.vkey}")


def init(
    operator_id: Annotated[str, typer.Option(help="party id of the operator")] = "operator",
    name: Annotated[str, typer.Option(help="operator's legal name")] = "Ledger operator",
    country: Annotated[str, typer.Option(help="operator's country (ISO 3166-1 alpha-2)")] = "US",
) -> None:
    """Create keys (if missing), the database, and the genesis event; print the log vkey."""
    from ..service.settings import open_ledger

    settings = _settings()
    for key_name in ("operator", "log", "attest"):
        path = settings.key_path(key_name)
        if not path.exists():
            save_private_key(generate(), path)
            typer.echo(f"created {path}")
    try:
        ledger = open_ledger(settings)
    except LedgerError as e:
        raise fail(str(e)) from e
    with ledger:
        if ledger.size() == 0:
            op_key = settings.load_key("operator")
            body = {
                "party": {
                    "id": operator_id,
                    "name": name,
                    "country": country,
                    "roles": ["operator"],
                    "feoc": False,
                },
                "keys": [key_object(op_key)],
            }
            now = format_time(datetime.now(UTC).replace(microsecond=0))
            ev = events.sign(
                type="party.register", actor=operator_id, key=op_key, body=body, time=now
            )
            receipt = ledger.append(ev)
            typer.echo(f"genesis event {receipt.hash} at seq {receipt.seq}")
        else:
            typer.echo(f"ledger already initialized ({ledger.size()} events)")
        ledger.checkpoint()
        typer.echo(f"database {settings.database_url}")
        _echo_anchors(ledger.log_signer.verifier.vkey, _issuer_of(settings))


def fsck(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Re-derive the tree and all state from the stored events and compare (exit 1 on problems)."""
    from ..service.settings import open_ledger

    try:
        ledger = open_ledger(_settings())
    except LedgerError as e:
        raise fail(str(e)) from e
    with ledger:
        report = ledger.fsck()
    typer.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_text())
    raise typer.Exit(0 if report.ok else 1)


@tiles_app.command("export")
def tiles_export(
    directory: Annotated[Path, typer.Argument(help="where to write checkpoint and tile/…")],
) -> None:
    """Write the latest checkpoint and its tiles as static files any web server can serve.

    Idempotent: full tiles already written are kept; partial tiles and the checkpoint are
    rewritten.
    """
    from ..service.settings import open_ledger

    try:
        ledger = open_ledger(_settings())
    except LedgerError as e:
        raise fail(str(e)) from e
    with ledger:
        try:
            done = ledger.export_tiles(directory)
        except (LedgerError, OSError) as e:
            raise fail(str(e)) from e
    typer.echo(
        f"tree size {done.size}: wrote {done.written} file(s), kept {done.kept} full tile(s) "
        f"in {directory}"
    )


@token_app.command("create")
def token_create(
    party: Annotated[str, typer.Option(help="the party the token speaks for")],
    role: Annotated[str, typer.Option(help="partner | auditor | admin")],
) -> None:
    """Issue a token; the token alone is printed on the last line (shown once)."""
    from ..service.tokens import check_token_request, create_token

    try:
        check_token_request(party, role)
    except LedgerError as e:
        raise fail(str(e)) from e
    store = _ledger_store()
    try:
        token = create_token(store, party, role)
    except LedgerError as e:
        raise fail(str(e)) from e
    finally:
        store.close()
    typer.echo(f"token for {party} ({role}); store it now, it is not shown again:")
    typer.echo(token)


@token_app.command("list")
def token_list() -> None:
    """Every token issued: id (SHA-256 of the token), party, role, created, revoked."""
    store = _ledger_store()
    for t in store.tokens():
        state = "revoked" if t.revoked else "live"
        typer.echo(f"{t.hash}  {t.party:12s} {t.role:8s} {t.created_at}  {state}")
    store.close()


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="the token, or its id (SHA-256) from `token list`")],
) -> None:
    """Revoke a token (servers stop accepting it within 30 s; at once when revoked over HTTP)."""
    from ..service.tokens import hash_token

    token_id = token if HASH_RE.fullmatch(token) else hash_token(token)
    store = _ledger_store()
    done = store.revoke_token(token_id)
    store.close()
    if not done:
        raise fail(f"no live token {token_id[:16]}…", 1)
    typer.echo(f"revoked {token_id}")


def _ledger_store() -> SqlStore:
    """The configured database, which must already hold a ledger (see ``open_existing``)."""
    from ..store.sql import open_existing

    try:
        return open_existing(_settings().database_url)
    except LedgerError as e:
        raise fail(str(e)) from e


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="HTTP worker processes (parsing, auth, signature checks); one sequencer "
            "process orders and commits for all of them",
        ),
    ] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="seed the Korean–US scenario with the published example keys (demo mode)"
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (uvicorn; SQLite at ./ledger.db unless LEDGER_DATABASE_URL is set).

    Several nodes may serve one PostgreSQL database (or one SQLite file on one machine): each
    node's sequencer takes the writers' lock per group commit, so the log stays one sequence.
    """

    from api import create_app

    from ..core.gc import freeze_heap
    from ..service.settings import open_ledger
    from .serving import sequencer_process, serve_one, serve_workers

    if demo:
        # the certificates of a demo point at this very server unless told otherwise; set in
        # the environment, which the sequencer and the workers read
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        os.environ["LEDGER_PUBLIC_URL"] = (
            os.environ.get("LEDGER_PUBLIC_URL") or f"http://{shown}:{port}"
        )
        os.environ["LEDGER_DEMO"] = "true"
    settings = _settings()  # a bad LEDGER_* value is a usage error before any process starts
    with sequencer_process() as node:
        settings = settings.model_copy(update={"sequencer": node.path})
        try:
            ledger = open_ledger(settings)
        except LedgerError as e:
            raise fail(str(e)) from e
        with ledger:
            if demo:
                from .demo import seed_demo

                tokens = seed_demo(ledger)
                typer.echo("demo data seeded; tokens (EXAMPLE, demo only):")
                for party, token in tokens.items():
                    typer.echo(f"  {party:8s} {token}")
        app_ = create_app(settings)
        _echo_anchors(ledger.log_signer.verifier.vkey, app_.state.ltl.attest_did)
        if settings.public_url:
            typer.echo(f"public URL {settings.public_url} (certificate pages /c/…, status lists)")
        elif not settings.demo:
            typer.echo(
                "public URL unset: certificates are refused (public_url_unset) until "
                "LEDGER_PUBLIC_URL names where strangers reach this server"
            )
        if workers == 1:
            freeze_heap()
            serve_one(app_, node, host=host, port=port)
        else:
            app_.state.ltl.ledger.close()  # each worker opens its own (api.app.app_from_env)
            serve_workers(
                "api.app:app_from_env", factory=True, workers=workers, host=host, port=port
            )


def _settings(**overrides: Any) -> Settings:
    """The settings from the environment; a bad ``LEDGER_*`` value is a usage error."""
    from pydantic import ValidationError

    from ..service.settings import Settings

    # LEDGER_SEQUENCER is for the workers `ledger serve` starts: every other command writes
    # through a writer of its own, whatever the shell exported
    overrides.setdefault("sequencer", None)
    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = "; ".join(
            # a rule across settings (no loc) names its variables in its message
            f"LEDGER_{'_'.join(str(x) for x in err['loc']).upper()}: {err['msg']}"
            if err["loc"]
            else str(err["msg"]).removeprefix("Value error, ")
            for err in e.errors()
        )
        raise fail(f"bad setting: {problems}") from e


def _issuer_of(settings: Settings) -> str | None:
    """The attestation did:key of the configured ``attest`` key, if there is one."""
    from ..attest.credentials import did_key

    if not settings.key_path("attest").exists():
        return None
    return did_key(public_raw(settings.load_key("attest")))


def _echo_anchors(vkey: str, issuer: str | None) -> None:
    """The trust anchors to pin and announce (also served at /.well-known/ltl-trust)."""
    typer.echo(f"log vkey {vkey}")
    typer.echo(f"attestation issuer {issuer or '(none: no attest key, no certificates)'}")


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
            raise fail("--url needs --token (admin) and --log-key (the log vkey)")
        target = HttpTarget(url, {"operator": token, "auditor": token})
        target.set_vkey(read_vkey(log_key).vkey)
        try:
            result = run_demo(target, workdir, echo=typer.echo)
        finally:
            target.close()
        raise typer.Exit(0 if result.ok else 1)
    from .demo_network import MONITORED_PARTY, monitor_once, wait_cosigned

    with _demo_server(workdir) as net:
        witnessed = ", ".join(f"{w.name} ({w.party}) at {w.url}" for w in net.witnesses)
        typer.echo(
            f"LTL demo — server at {net.url}, SQLite at {workdir / 'ledger.db'} "
            "(EXAMPLE KEYS: demo only)"
        )
        typer.echo(f"witnesses (both must cosign): {witnessed}")
        journal = workdir / f"{MONITORED_PARTY}.journal"
        journal.unlink(missing_ok=True)
        target = HttpTarget(net.url, net.tokens, journals={MONITORED_PARTY: journal})
        target.set_vkey(net.vkey)
        log = Verifier.parse(net.vkey)
        try:
            result = run_demo(
                target,
                workdir,
                echo=typer.echo,
                settle=lambda: wait_cosigned(
                    target.reader,
                    log,
                    net.witnesses,
                    workdir / "checkpoint-cosigned.txt",
                    typer.echo,
                ),
                witness_keys=[w.vkey_path for w in net.witnesses],
            )
            anchors = target.reader.trust()
        finally:
            target.close()
        typer.echo("")
        typer.echo(f"5. {MONITORED_PARTY} runs one pass of its log monitor against its journal")
        clean, said = monitor_once(
            net.url,
            net.env,
            net.tokens[MONITORED_PARTY],
            result.vkey_path,
            workdir,
            journal,
        )
        typer.echo(f"   monitor: {'clean' if clean else 'FINDINGS'} ({said})")
        result.ok = result.ok and clean
    cert = workdir / "certificate-ALUS-ENC-2025-0042"
    from ..service.settings import DEMO_PUBLIC_URL

    public = os.environ.get("LEDGER_PUBLIC_URL") or DEMO_PUBLIC_URL
    typer.echo("")
    typer.echo(
        f"the certificates' QR codes lead to {public}/c/…; to open them, serve this "
        f"database: LEDGER_DEMO=1 LEDGER_DATABASE_URL=sqlite:///{workdir / 'ledger.db'} "
        f"LEDGER_ORIGIN=demo.ltl.example/log LEDGER_PUBLIC_URL={public} ledger serve"
    )
    typer.echo("trust anchors of this ledger (pin them; also at /.well-known/ltl-trust):")
    _echo_anchors(anchors.log_vkey, anchors.issuer)
    typer.echo(
        f"verify a certificate: ledger certificate verify {cert}.json "
        f"--bundle {cert}.bundle.json --log-key {workdir / 'log.vkey'} "
        f"--issuer {anchors.issuer}"
    )
    w = net.witnesses[0]
    typer.echo(f"run your own witness and monitor (e.g. as {w.party}, with your token):")
    typer.echo(
        f"  ledger witness keygen {w.party}-witness.key --name {w.name}  # prints its vkey; then"
    )
    typer.echo(
        f"  ledger witness serve --key {w.party}-witness.key "
        f"--log {log.name}={workdir / 'log.vkey'} --db sqlite:///{w.party}-witness.db --port 8090"
    )
    typer.echo(
        f"  LEDGER_TOKEN=<your token> ledger monitor --url {public} "
        f"--log-key {workdir / 'log.vkey'} --state monitor.json --party {w.party} "
        f"--journal {w.party}.journal --once"
    )
    typer.echo("")
    typer.echo(
        f"web console: serve this database (the command above), open {public}/ and sign in "
        "as the auditor with this token (a demo token: this database only):"
    )
    typer.echo(f"  {net.tokens['auditor']}")
    raise typer.Exit(0 if result.ok else 1)


def _refuse_unless_demo(db: Path) -> None:
    """``ledger demo`` replaces its database: only one that demo mode made (or an empty one)."""
    from ..service.identity import DEMO, DemoRefused
    from ..store.sql import SqlStore

    try:
        store = SqlStore(f"sqlite:///{db}")
        try:
            ours = DEMO in store.log_meta() or store.is_empty()
        finally:
            store.close()
    except LedgerError as e:
        raise fail(
            f"{DemoRefused.code}: {db} cannot be read as a ledger database ({e}), and "
            "`ledger demo` would delete it; choose another --workdir"
        ) from e
    if not ours:
        raise fail(
            f"{DemoRefused.code}: {db} holds a ledger that demo mode did not make, and "
            "`ledger demo` would delete it; choose another --workdir"
        )


@dataclass(frozen=True)
class _DemoNet:
    """The demo's running processes: the ledger server and the partners' witnesses."""

    url: str
    tokens: dict[str, str]
    vkey: str
    witnesses: list[DemoWitness]
    env: dict[str, str]


@contextmanager
def _demo_server(workdir: Path) -> Iterator[_DemoNet]:
    """A fresh demo database with tokens, two fresh witnesses, and the server and the witnesses
    as processes on free ports (the server requires both witnesses' cosignatures)."""
    from ..service.settings import DEMO_PUBLIC_URL, Settings, open_ledger
    from .demo import demo_tokens
    from .demo_network import WITNESS_INTERVAL, free_port, make_witnesses, processes

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "ledger.db"
    if db.exists():
        _refuse_unless_demo(db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    witnesses = make_witnesses(workdir)
    base = dict(os.environ)
    env = {
        **base,
        "LEDGER_DATABASE_URL": f"sqlite:///{db}",
        "LEDGER_DEMO": "1",
        "LEDGER_ORIGIN": "demo.ltl.example/log",
        # the certificates' pages and status lists: where `ledger serve` listens by default,
        # so that they open once the demo database is served (the demo's own server is gone)
        "LEDGER_PUBLIC_URL": os.environ.get("LEDGER_PUBLIC_URL") or DEMO_PUBLIC_URL,
        "LEDGER_ISSUER_NAME": os.environ.get("LEDGER_ISSUER_NAME") or DEMO_ISSUER_NAME,
        "LEDGER_WITNESSES": " ".join(f"{w.vkey}={w.url}" for w in witnesses),
        "LEDGER_WITNESS_QUORUM": str(len(witnesses)),
        "LEDGER_WITNESS_INTERVAL": str(WITNESS_INTERVAL),
    }
    settings = Settings(
        database_url=env["LEDGER_DATABASE_URL"], demo=True, origin=env["LEDGER_ORIGIN"]
    )
    try:
        ledger = open_ledger(settings)  # marks the new database as made in demo mode
    except LedgerError as e:
        raise fail(str(e)) from e
    with ledger:
        tokens = demo_tokens(ledger.create_token)
    log = settings.log_signer().verifier
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    commands = [(f"witness of {w.party}", w.command(log), base, w.url + "/") for w in witnesses]
    commands.append(("demo server", ["serve", "--port", str(port)], env, f"{url}/healthz"))
    with processes(commands):
        yield _DemoNet(url, tokens, log.vkey, witnesses, base)


@log_app.command("status")
def log_status(url: UrlOpt = "http://127.0.0.1:8000") -> None:
    """The log size, latest checkpoint size, cosigned size and each witness's state (from the
    server's /healthz)."""
    h = api_call(lambda: client(url, None).health())

    def size(n: int | None) -> str:
        return "none" if n is None else str(n)

    typer.echo(f"log size         {h.size}")
    typer.echo(f"checkpoint size  {size(h.checkpoint_size)}")
    typer.echo(f"cosigned size    {size(h.cosigned_size)} (quorum {h.witness_quorum})")
    if not h.witnesses:
        typer.echo("witnesses        none configured (LEDGER_WITNESSES)")
    for w in h.witnesses:
        state = "ok" if w.error is None and w.last_ok else (w.error or "not asked yet")
        typer.echo(f"witness {w.name} {w.url}: size {size(w.last_size)}, {state}")
