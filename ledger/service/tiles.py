"""``ledger tiles export``: the log as C2SP tlog-tiles static files (spec §5.10)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core import tiles
from .log import Log

__all__ = ["TilesExport", "export_tiles"]


@dataclass(frozen=True, slots=True)
class TilesExport:
    """What an export did: the checkpoint size, files written, full tiles already there."""

    size: int
    written: int
    kept: int


def _write(path: Path, data: bytes) -> None:
    """Write atomically (a reader never sees half a tile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_tiles(log: Log, directory: Path) -> TilesExport:
    """Write ``directory/checkpoint`` and every ``directory/tile/…`` of the latest checkpoint.

    The same bytes the routes serve. Full tiles already written are kept (they never change);
    partial tiles are (re)written. The checkpoint is written last, so the files it needs are
    there before it.

    Raises:
        StorageError: a stored node or event is missing.
        OSError: the directory cannot be written.
    """
    record = log.checkpoint()
    written = kept = 0
    for tile in tiles.tiles_for_size(record.size):
        path = directory / tile.path()
        if tile.full and path.is_file():
            kept += 1
            continue
        _write(path, log.tile(tile))
        written += 1
    _write(directory / "checkpoint", record.note.encode())
    return TilesExport(record.size, written + 1, kept)
