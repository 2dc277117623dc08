"""The log's checkpoints and proofs (spec §5): signed on demand, never two inconsistent ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..core import merkle, tiles
from ..core.checkpoint import Checkpoint, Signer, sign_checkpoint
from ..core.values import format_time
from ..errors import LedgerError, NotFound, StorageError
from ..store.protocol import CheckpointRecord
from .reads import Reads

__all__ = ["Log"]


class Log:
    """Checkpoints and RFC 9162 proofs of the log in ``reads.store``.

    Args:
        log_signer: the log's checkpoint key (C2SP signed-note signer); not any party's key.
        origin: the checkpoint origin line.
        clock: returns the current UTC time (the ``signed_at`` of new checkpoints).
    """

    def __init__(
        self,
        reads: Reads,
        *,
        log_signer: Signer,
        origin: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = reads.store
        self._reads = reads
        self.signer = log_signer
        self.origin = origin
        self.clock = clock

    def checkpoint(self) -> CheckpointRecord:
        """The latest checkpoint, signing a new one first if the tree has grown (spec §5).

        Raises:
            StorageError: the stored tree is not consistent with the last signed checkpoint;
                nothing is signed (the log never signs two inconsistent checkpoints).
        """
        latest = self.store.latest_checkpoint()
        if latest is not None and latest.size == self.store.size():
            return latest
        with self.store.write() as tx:
            size = tx.size()
            latest = tx.latest_checkpoint()
            if latest is not None and latest.size == size:
                return latest
            root = merkle.root_at(size, tx)
            if latest is not None and latest.size > 0:
                try:
                    if merkle.root_at(latest.size, tx) != latest.root:
                        raise merkle.ProofError("the stored tree no longer has the signed root")
                    proof = merkle.consistency_proof(latest.size, size, tx)
                    merkle.verify_consistency(latest.size, size, proof, latest.root, root)
                except (LedgerError, KeyError) as e:
                    raise StorageError(
                        f"refusing to sign a checkpoint at size {size}: the stored tree is not "
                        f"consistent with the checkpoint signed at size {latest.size} ({e}); "
                        "run `ledger fsck` and restore the database from a trusted copy"
                    ) from e
            note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)
            record = CheckpointRecord(size, root, note, format_time(self.clock()))
            tx.insert_checkpoint(record)
            return record

    def checkpoint_at(self, size: int) -> CheckpointRecord:
        """A previously signed checkpoint. Raises NotFound."""
        rec = self.store.checkpoint_at(size)
        if rec is None:
            raise NotFound(f"no checkpoint was signed at size {size}")
        return rec

    def inclusion_proof(
        self, event_hash: str, size: int | None = None
    ) -> tuple[int, int, list[bytes]]:
        """(index, size, proof) of an event in the tree of ``size`` (default: latest checkpoint).

        Raises:
            NotFound: unknown event, or the event is not in a tree of that size.
        """
        rec = self._reads.record(event_hash)
        latest = self.checkpoint()  # spec §5: sign on demand before serving any proof
        if size is None:
            size = latest.size
        if not rec.seq < size <= self.store.size():
            raise NotFound(f"event {event_hash} (seq {rec.seq}) is not in a tree of size {size}")
        return rec.seq, size, merkle.inclusion_proof(rec.seq, size, self.store)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes. Raises NotFound when out of range."""
        self.checkpoint()  # spec §5: sign on demand before serving any proof
        if not 0 < size1 <= size2 <= self.store.size():
            raise NotFound(f"no consistency proof from size {size1} to {size2}")
        return merkle.consistency_proof(size1, size2, self.store)

    def tile(self, tile: tiles.Tile) -> bytes:
        """The bytes of a C2SP tlog-tiles hash tile or entry bundle (spec §5.10).

        Served from the stored complete nodes (hash tiles) and event hashes (entry bundles) of
        the tree of the latest checkpoint, signed on demand first: a full tile once all 256 of
        its hashes exist, a partial tile of width ``W`` once at least ``W`` exist.

        Raises:
            NotFound: the tile is not (yet) in the tree of the latest checkpoint.
            StorageError: a stored node is missing.
        """
        size = self.checkpoint().size
        if tile.width > tiles.tile_width(max(tile.level, 0), tile.index, size):
            raise NotFound(f"{tile.path()} is not in the tree of size {size}")
        if tile.entries:
            first = tile.index * tiles.TILE_WIDTH
            records = self.store.events_by_seqs(range(first, first + tile.width))
            if [r.seq for r in records] != list(range(first, first + tile.width)):
                raise StorageError(f"events missing from storage for {tile.path()}")
            return tiles.encode_entry_bundle([r.hash for r in records])
        keys = tile.node_keys()
        got = self.store.get_nodes(keys)
        if any(len(got.get(k, b"")) != merkle.HASH_SIZE for k in keys):
            raise StorageError(f"Merkle nodes missing from storage for {tile.path()}")
        return b"".join(got[k] for k in keys)
