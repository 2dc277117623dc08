"""The Ledger facade: one object over one database, each job delegated to its own part.

* :class:`~ledger.service.writer.Writer`: append (atomic, durable, group-committed);
* :class:`~ledger.service.reads.Reads`: lots, parties, keys, chains, events;
* :class:`~ledger.service.log.Log`: checkpoints signed on demand, inclusion and consistency proofs;
* ``bundles``, ``provenance``, ``sources``: audit bundles, upstream graphs and partner views,
  recycled-content reports; ``fsck``: re-derivation; ``tokens``: API tokens; ``sessions``: the
  console's sign-in sessions (``ledger.sessions``).

The HTTP API and the command line talk to this facade only, never to the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..attest.recycled import recycled_content
from ..core import rules, tiles
from ..core.checkpoint import Signer
from ..core.events import SignedEvent
from ..core.gc import gc_paused
from ..core.keys import Ed25519PrivateKey
from ..core.receipt import Receipt
from ..core.values import format_time
from ..errors import LedgerError, NotFound
from ..interop import batterypass, epcis_export
from ..store.protocol import ALL_LOTS, CheckpointRecord, LotFilter, Store, TokenRecord
from . import bundles, provenance, tokens
from .certificates import CertificateBook
from .fsck import FsckReport, fsck
from .identity import claim_database
from .log import Log
from .reads import Reads
from .reindex import needs_reindex, reindex
from .sequencer import RemoteWriter
from .sessions import SessionBook
from .sources import source_for
from .submit import Submitter
from .tiles import TilesExport, export_tiles
from .witnessing import Witnessing, WitnessTarget
from .writer import Writer

__all__ = ["Ledger"]


class Ledger:
    """One ledger over one database.

    Args:
        store: the storage (``ledger.store.sql.SqlStore``).
        log_signer: the log's checkpoint key (C2SP signed-note signer); not any party's key.
        origin: the checkpoint origin line, e.g. ``ltl.example.org/log``.
        config: rule configuration (mass tolerance, clock skew).
        clock: returns the current UTC time (tests pass a fixed clock).
        max_batch: most events committed in one group.
        demo: demo mode (the database must be empty or made in demo mode; see ``identity``).
        witnesses, witness_quorum, witness_interval: the log's tlog-witnesses, how many must
            have cosigned the served checkpoint, and the seconds between rounds of submissions
            (spec §5.9; the rounds run once :meth:`start_witnessing` is called).
        sequencer: the Unix socket of the node's sequencer process (``ledger serve``): appends
            are checked here and ordered and committed there (``ledger.service.sequencer``).

    Raises:
        LogKeyMismatch: the database's log is pinned to another log key or origin.
        DemoRefused, DemoDatabase: demo mode on a database demo mode did not make, or the
            reverse.
        StorageError: the database failed.
    """

    def __init__(
        self,
        store: Store,
        *,
        log_signer: Signer,
        origin: str,
        config: rules.RuleConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        max_batch: int = 2000,
        demo: bool = False,
        witnesses: Sequence[WitnessTarget] = (),
        witness_quorum: int = 0,
        witness_interval: float = 2.0,
        sequencer: str | None = None,
    ) -> None:
        claim_database(store, log_signer.verifier, demo=demo)
        self.store = store
        self.log_signer = log_signer
        self.origin = origin
        self.config = config or rules.RuleConfig()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.reads = Reads(store)
        self.log = Log(self.reads, log_signer=log_signer, origin=origin, clock=self.clock)
        self.witnessing = Witnessing(
            store,
            self.log,
            witnesses,
            quorum=witness_quorum,
            interval=witness_interval,
            clock=self.clock,
        )
        if needs_reindex(store):
            reindex(store, self.config)
        self.writer = _writer(store, self.config, self.clock, max_batch, sequencer)
        self.certificates = CertificateBook(
            store,
            bundle=self.bundle,
            report=lambda lot, as_of: self.recycled_content(lot, as_of=as_of),
            size=self.size,
            config=self.config,
            clock=self.clock,
        )
        self.sessions = SessionBook(store)
        self._closed = False

    def close(self) -> None:
        """Stop the writer (after the queued appends) and close the database."""
        if not self._closed:
            self._closed = True
            self.witnessing.stop()
            self.writer.close()
            self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ append (Writer)
    def append(self, event: bytes | SignedEvent) -> Receipt:
        """Append one signed event; returns once it is durably committed.

        Raises:
            RuleViolation: the event was refused (``code`` says why).
            StorageError: the database failed; nothing was written.
        """
        return self.writer.append(event)

    def submit(self, event: bytes | SignedEvent) -> Future[Receipt]:
        """Parse, verify and queue one event without waiting; the future resolves once the
        event is committed durably (or fails with the ``LedgerError`` that refused it). Raises
        RuleViolation when refused before queueing (bad JSON, schema, signature)."""
        return self.writer.submit(event)

    def submit_async(self, event: bytes | SignedEvent) -> asyncio.Future[Receipt]:
        """:meth:`submit` for a caller on an event loop (the HTTP API): await the receipt."""
        return self.writer.submit_async(event)

    def append_many(self, events: Iterable[bytes | SignedEvent]) -> list[Receipt | LedgerError]:
        """Append events in order, each accepted or refused on its own: per event its
        ``Receipt`` or the ``LedgerError`` that refused it."""
        return self.writer.append_many(events)

    # ------------------------------------------------------------------ reads (Reads)
    def size(self) -> int:
        """Number of events in the log."""
        return self.reads.size()

    def lot(self, lot_id: str) -> rules.Lot:
        """The current state of one lot. Raises NotFound."""
        return self.reads.lot(lot_id)

    def lots(self, lot_ids: Sequence[str]) -> dict[str, rules.Lot]:
        """The current state of the lots that exist among ``lot_ids``."""
        return self.reads.lots(lot_ids)

    def party(self, party_id: str) -> rules.Party:
        """A registered party. Raises NotFound."""
        return self.reads.party(party_id)

    def party_keys(self, party_id: str) -> list[rules.Key]:
        """Every key the party ever had, in registration order."""
        return self.reads.party_keys(party_id)

    def list_lots(
        self,
        *,
        after: str | None = None,
        limit: int = 100,
        where: LotFilter = ALL_LOTS,
    ) -> list[rules.Lot]:
        """Lots in id order after the cursor ``after``, optionally filtered."""
        return self.reads.list_lots(after=after, limit=limit, where=where)

    def list_parties(self, *, after: str | None = None, limit: int = 100) -> list[rules.Party]:
        """Parties in id order after the cursor ``after``."""
        return self.reads.list_parties(after=after, limit=limit)

    def events(self, seqs: Sequence[int]) -> list[tuple[int, SignedEvent]]:
        """Parsed events at these log indexes, in log order."""
        return self.reads.events(seqs)

    def chain(self, lot_id: str) -> list[tuple[int, SignedEvent]]:
        """The lot's chain: its creating event, then every event that named it. Raises
        NotFound."""
        return self.reads.chain(lot_id)

    def event(self, event_hash: str) -> tuple[int, SignedEvent]:
        """An event by its hex hash. Raises NotFound."""
        return self.reads.event(event_hash)

    # ------------------------------------------------------------------ checkpoints (Log)
    def checkpoint(self) -> CheckpointRecord:
        """The latest checkpoint, signed first if the tree has grown (see ``Log.checkpoint``)."""
        return self.log.checkpoint()

    def checkpoint_at(self, size: int) -> CheckpointRecord:
        """A previously signed checkpoint. Raises NotFound."""
        return self.log.checkpoint_at(size)

    def cosigned_checkpoint(self) -> CheckpointRecord:
        """The checkpoint to publish, with its witness cosignatures (see ``Witnessing``)."""
        return self.witnessing.served_checkpoint()

    def start_witnessing(self) -> None:
        """Submit checkpoints to the configured witnesses in the background (until close)."""
        self.witnessing.start()

    def log_status(self) -> dict[str, Any]:
        """Checkpoint size, cosigned size and each witness's state (``/healthz``)."""
        return self.witnessing.status(self.writer.witness_states())

    def inclusion_proof(
        self, event_hash: str, size: int | None = None
    ) -> tuple[int, int, list[bytes]]:
        """(index, size, proof) of an event in the tree of ``size`` (default: latest)."""
        return self.log.inclusion_proof(event_hash, size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes. Raises NotFound."""
        return self.log.consistency_proof(size1, size2)

    def tile(self, tile: tiles.Tile) -> bytes:
        """A C2SP tlog-tiles hash tile or entry bundle of the latest checkpoint's tree.
        Raises NotFound."""
        return self.log.tile(tile)

    def export_tiles(self, directory: Path) -> TilesExport:
        """Write the latest checkpoint and its tiles under ``directory`` (``ledger tiles
        export``); full tiles already there are kept."""
        return export_tiles(self.log, directory)

    # ------------------------------------------------------------------ bundles, provenance
    def bundle(self, lot_id: str, *, upto: int | None = None) -> dict[str, Any]:
        """The audit bundle of a lot (spec §6), its history up to ``upto`` (a partner's
        cut-off) when given. Raises NotFound."""
        served = self.witnessing.served_checkpoint()
        try:
            return bundles.build_bundle(self.store, self.log, lot_id, upto=upto, checkpoint=served)
        except NotFound:
            # a lot younger than the quorum-cosigned checkpoint: the latest checkpoint
            latest = self.witnessing.with_cosignatures(self.log.checkpoint())
            if latest.size == served.size:
                raise
            return bundles.build_bundle(self.store, self.log, lot_id, upto=upto, checkpoint=latest)

    def partner_view(self, party: str) -> provenance.PartnerView:
        """What a partner may read (spec §9.4): lot -> the last log index it may see (None:
        all), looked up lazily in the visibility index."""
        return provenance.partner_view(self.reads, party)

    def visible_lots(
        self,
        party: str,
        *,
        after: str | None = None,
        limit: int = 100,
        where: LotFilter = ALL_LOTS,
    ) -> list[tuple[rules.Lot, int | None]]:
        """The lots a partner may see in id order after ``after``, each as it may see it (with
        its cut-off), filtered on that state (spec §9.4): one bounded query."""
        return self.store.visible_lots(party, after=after, limit=limit, where=where)

    def lots_as_of(self, cutoffs: Mapping[str, int]) -> dict[str, rules.Lot]:
        """The state of each lot as it was right after log index ``cutoffs[lot]``."""
        return provenance.lots_as_of(self.reads, self.config, cutoffs)

    def provenance(
        self, lot_id: str, view: Mapping[str, int | None] | None = None
    ) -> dict[str, Any]:
        """The upstream graph of a lot, as a partner's ``view`` shows it. Raises NotFound."""
        return provenance.provenance(self.reads, self.config, lot_id, view)

    def recycled_content(
        self, lot_id: str, *, as_of: date, upto: int | None = None
    ) -> dict[str, Any]:
        """The spec §7 report of a lot (up to a partner's cut-off ``upto``). Raises NotFound."""
        with gc_paused():  # reading thousands of lots and events is allocation-heavy too
            source = source_for(self.reads, self.config, lot_id, upto=upto)
            return recycled_content(source, lot_id, as_of=as_of)

    # ------------------------------------------------------------------ interoperability
    def epcis_document(self, lot_id: str, *, upto: int | None = None) -> dict[str, Any]:
        """The lot's history as an EPCIS 2.0 document (spec §13.2): the lot events of its
        provenance closure (the bundle's, up to a partner's cut-off ``upto``), in log order.
        Raises NotFound."""
        if not self.store.lot_seqs(lot_id):
            raise NotFound(f"no lot {lot_id!r} in this ledger")
        size = self.size() if upto is None else min(self.size(), upto + 1)
        closure = bundles.closure_seqs(self.store, lot_id, size)
        return epcis_export.epcis_document(
            sorted(closure.items()),
            created=format_time(self.clock().replace(microsecond=0)),
        )

    def battery_pass(self, lot_id: str, *, upto: int | None = None) -> dict[str, Any]:
        """The Battery Pass Circularity ``recycledContent`` of the lot (spec §13.3), read off
        its recycled-content report (up to a partner's cut-off ``upto``). Raises NotFound."""
        report = self.recycled_content(lot_id, as_of=self.clock().date(), upto=upto)
        return batterypass.recycled_content(report)

    def fsck(self) -> FsckReport:
        """Re-derive the tree and all derived state from the stored events and compare."""
        verifier = self.log_signer.verifier
        return fsck(self.store, config=self.config, verifier=verifier, origin=self.origin)

    # ------------------------------------------------------------------ certificates
    def issue_certificate(
        self, lot_id: str, *, issuer_key: Ed25519PrivateKey, **options: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Issue a certificate of the lot: :meth:`CertificateBook.issue` (``public_url``,
        ``issuer_name``, ``as_of``, ``model``)."""
        return self.certificates.issue(lot_id, issuer_key=issuer_key, **options)

    def certificate(self, cert_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(credential, bundle) of an issued certificate. Raises NotFound."""
        return self.certificates.get(cert_id)

    # ------------------------------------------------------------------ API tokens
    def create_token(self, party: str, role: str) -> str:
        """Issue an API token (shown once; stored as its SHA-256). Raises TokenError."""
        return tokens.create_token(self.store, party, role)

    def principal(self, token: str, *, hashed: bool = False) -> tokens.Principal | None:
        """Who a live token (``hashed``: its SHA-256) speaks for (None: unknown or revoked)."""
        return tokens.lookup_token(self.store, token, hashed=hashed)

    def tokens(self) -> list[TokenRecord]:
        """Every token ever issued (hashes only), oldest first."""
        return self.store.tokens()

    def revoke_token(self, token_hash: str) -> bool:
        """Revoke a live token by its SHA-256; False when there is none."""
        return self.store.revoke_token(token_hash)


def _writer(
    store: Store,
    config: rules.RuleConfig,
    clock: Callable[[], datetime],
    max_batch: int,
    sequencer: str | None,
) -> Submitter:
    """The ledger's own writer thread, or its line to the node's sequencer process."""
    if sequencer:
        return RemoteWriter(store, sequencer)
    return Writer(store, config, clock, max_batch)
