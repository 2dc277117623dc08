"""The one settings class (pydantic-settings, env prefix ``LEDGER_``) and ledger opening.

Example keys (``keys.example/``) are refused unless ``LEDGER_DEMO`` is true; opening checks what
the database is (``identity``: its pinned log key, and demo mode only on a demo database).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..core import rules
from ..core.checkpoint import CheckpointError, Signer, Witness
from ..core.keys import Ed25519PrivateKey, KeyFormatError, kid_of, private_key_from_pem, public_raw
from ..core.values import COMPROMISE_MARGIN_SECONDS, FORBIDDEN_TEXT_RE
from ..errors import LedgerError
from ..store.sql import SqlStore, read_replica_refusal
from .ledger import Ledger
from .witnessing import WitnessTarget

__all__ = [
    "DEMO_PUBLIC_URL",
    "EXAMPLE_KEY_DIR",
    "EXAMPLE_KIDS",
    "ExampleKeyRefused",
    "Settings",
    "open_ledger",
    "parse_witnesses",
]

EXAMPLE_KEY_DIR = Path(__file__).resolve().parents[2] / "keys.example"
#: demo mode's public URL when LEDGER_PUBLIC_URL is unset: `ledger serve`'s default address
DEMO_PUBLIC_URL = "http://127.0.0.1:8000"

#: Key ids of the published example keys in ``keys.example/``: refused outside demo mode.
EXAMPLE_KIDS = frozenset(
    {
        "9a38c4e544ea2ce6",  # operator
        "625bbbafe081a75c",  # log
        "782d85c5cd9d031b",  # bwm
        "1df7e95b0b267d1c",  # alus
        "82ee8320c4dec88b",  # lab
        "92d8ee89266c1ea6",  # auditor
        "670f3006f63018ec",  # packco
        "97867574417a9d5b",  # carrier
        "b9d2bf1a5773a8ef",  # attest
    }
)


class ExampleKeyRefused(LedgerError):
    """A published example key was configured outside demo mode."""

    code = "example_key_refused"


class Settings(BaseSettings):
    """Ledger settings, from ``LEDGER_*`` environment variables.

    Attributes:
        database_url: SQLAlchemy URL; SQLite file ``./ledger.db`` by default.
        read_database_url: a streaming replica of a PostgreSQL ``database_url``: Merkle nodes
            (inclusion and consistency proofs, hash tiles) are read from it, and a node it does
            not have yet from the primary (README, "Running at scale").
        key_dir: folder of PEM keys (``log.pem``, ``operator.pem``, ``attest.pem``).
        origin: the checkpoint origin line (and the log key's name).
        demo: demo mode: example keys allowed (and used when ``key_dir`` has none).
        tolerance: element-mass tolerance of the conservation rule (spec §4).
        max_batch_events, max_batch_bytes: limits of ``POST /v1/events/batch``.
        write_rate, write_burst: token-bucket rate limit of writes, per token.
        auth_failures_per_minute: failed authentications allowed per client address.
        public_url: where this server is published for people without a token (spec §8.2,
            §8.9): certificates point at ``<public_url>/c/<uuid>`` and their status lists at
            ``<public_url>/status/<n>``; none are issued without it outside demo mode.
        issuer_name: the certificates' issuer name (``issuer.name``), e.g. the operator's
            legal name.
        witnesses: the log's C2SP tlog-witnesses (spec §5.9), whitespace-separated
            ``VKEY=URL`` entries: each witness's verifier key and its base URL (the server
            that answers ``POST <URL>/add-checkpoint``).
        witness_quorum: how many of them must have cosigned the checkpoint served at
            ``/v1/log/checkpoint`` and carried in bundles (0: serve the latest checkpoint).
        witness_interval: seconds between two rounds of submissions to the witnesses.
    """

    model_config = SettingsConfigDict(
        env_prefix="LEDGER_", extra="ignore", env_parse_none_str="null"
    )

    database_url: str = "sqlite:///ledger.db"
    read_database_url: str | None = None
    key_dir: Path = Path("keys")
    origin: str = "ltl.example/log"
    demo: bool = False
    tolerance: Decimal = Decimal("0.005")
    max_future_seconds: int = 300
    #: events dated more than this before the ledger clock are refused (spec §3.8): 0 to 86400
    #: (the protocol's compromise margin, spec §4.6); None (``LEDGER_MAX_PAST_SECONDS=null``)
    #: only to import signed history into a new ledger
    max_past_seconds: int | None = Field(
        default=COMPROMISE_MARGIN_SECONDS, ge=0, le=COMPROMISE_MARGIN_SECONDS
    )
    # HTTP API limits
    max_batch_events: int = 1000
    max_batch_bytes: int = 16 * 1024 * 1024
    write_rate: float = 500.0  # sustained writes per second per token
    write_burst: int = 1000
    auth_failures_per_minute: int = 30  # per client address
    # certificates for people without a token
    public_url: str | None = None
    issuer_name: str | None = Field(default=None, min_length=1, max_length=200)
    # witnesses (spec §5.9)
    witnesses: str = ""
    witness_quorum: int = Field(default=0, ge=0)
    witness_interval: float = Field(default=2.0, gt=0, le=3600)
    #: the Unix socket of this node's sequencer process (set by ``ledger serve`` for its
    #: workers; unset: the process appends through a writer thread of its own)
    sequencer: str | None = None

    @field_validator("witnesses")
    @classmethod
    def _witnesses(cls, v: str) -> str:
        parse_witnesses(v)
        return v

    @model_validator(mode="after")
    def _quorum(self) -> Settings:
        count = len(parse_witnesses(self.witnesses))
        if self.witness_quorum > count:
            raise ValueError(
                f"LEDGER_WITNESS_QUORUM={self.witness_quorum} exceeds the {count} witnesses "
                "of LEDGER_WITNESSES"
            )
        return self

    @model_validator(mode="after")
    def _read_replica(self) -> Settings:
        if self.read_database_url == "":
            self.read_database_url = None
        refusal = read_replica_refusal(self.database_url, self.read_database_url)
        if refusal is not None:
            raise ValueError(refusal)
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(
                f"LEDGER_PUBLIC_URL={v!r} is not an absolute http(s) URL; give the address "
                "where people reach this server, e.g. https://ledger.example.com"
            )
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError(
                f"LEDGER_PUBLIC_URL={v!r} has a query, fragment or credentials; give only "
                "scheme, host, port and path"
            )
        return v.rstrip("/")

    @field_validator("issuer_name")
    @classmethod
    def _issuer_name(cls, v: str | None) -> str | None:
        if v is not None and (FORBIDDEN_TEXT_RE.search(v) or not v.strip()):
            raise ValueError("LEDGER_ISSUER_NAME is printable text, not blank")
        return v

    def key_path(self, name: str) -> Path:
        """Path of ``<name>.pem``: in ``key_dir``, or in keys.example/ in demo mode."""
        path = self.key_dir / f"{name}.pem"
        if self.demo and not path.exists():
            return EXAMPLE_KEY_DIR / f"{name}.pem"
        return path

    def load_key(self, name: str) -> Ed25519PrivateKey:
        """Load a configured key, refusing published example keys outside demo mode.

        Raises:
            ExampleKeyRefused: an example key outside demo mode.
            LedgerError: the key file is missing or unreadable.
        """
        path = self.key_path(name)
        try:
            key = private_key_from_pem(path.read_bytes())
        except OSError as e:
            raise KeyFormatError(f"cannot read key file {path}: {e.strerror}") from e
        if kid_of(public_raw(key)) in EXAMPLE_KIDS and not self.demo:
            raise ExampleKeyRefused(
                f"{path} is a published example key (keys.example/): anyone can sign with it. "
                "Run `ledger keygen` / `ledger init` to make real keys, or set LEDGER_DEMO=1 "
                "for a demo"
            )
        return key

    def log_signer(self) -> Signer:
        """The checkpoint signer (log key named after the origin)."""
        return Signer(self.origin, self.load_key("log"))

    def witness_targets(self) -> list[WitnessTarget]:
        """The configured witnesses (``LEDGER_WITNESSES``)."""
        return parse_witnesses(self.witnesses)

    def rule_config(self) -> rules.RuleConfig:
        return rules.RuleConfig(
            tolerance=self.tolerance,
            max_future_seconds=self.max_future_seconds,
            max_past_seconds=self.max_past_seconds,
        )


def parse_witnesses(value: str) -> list[WitnessTarget]:
    """``LEDGER_WITNESSES``: whitespace-separated ``VKEY=URL`` entries.

    Raises:
        ValueError: an entry is not ``VKEY=URL``, its key is not a witness verifier key, its
            URL is not an absolute http(s) URL, or a witness is named twice (the message names
            the entry).
    """
    targets: list[WitnessTarget] = []
    for entry in value.split():
        vkey, sep, url = entry.partition("=http")
        url = "http" + url
        parts = urlsplit(url)
        if not sep or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"LEDGER_WITNESSES entry {entry!r} is not VKEY=URL (a witness verifier key, "
                "`=`, and the witness's http(s) base URL)"
            )
        try:
            witness = Witness.parse(vkey)
        except CheckpointError as e:
            raise ValueError(
                f"LEDGER_WITNESSES entry {entry!r}: {vkey!r} is not a witness verifier key: {e}"
            ) from e
        if any(t.witness.vkey == witness.vkey for t in targets):
            raise ValueError(f"LEDGER_WITNESSES names the witness {vkey!r} twice")
        targets.append(WitnessTarget(witness, url.rstrip("/")))
    return targets


def open_ledger(settings: Settings) -> Ledger:
    """Open the configured database (migrating its schema) as a :class:`Ledger`.

    Raises:
        ExampleKeyRefused: example keys configured outside demo mode.
        LogKeyMismatch: the database's log is signed with another log key or origin.
        DemoRefused, DemoDatabase: demo mode on a database demo mode did not make, or a
            database demo mode made outside demo mode.
        LedgerError: a key is missing or unreadable; StorageError: the database.
    """
    log_signer = settings.log_signer()
    store = SqlStore(settings.database_url, read_url=settings.read_database_url)
    try:
        return Ledger(
            store,
            log_signer=log_signer,
            origin=settings.origin,
            config=settings.rule_config(),
            demo=settings.demo,
            witnesses=settings.witness_targets(),
            witness_quorum=settings.witness_quorum,
            witness_interval=settings.witness_interval,
            sequencer=settings.sequencer,
        )
    except BaseException:
        store.close()
        raise
