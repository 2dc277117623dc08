"""Merkle node reads: the upper levels of the tree kept in memory, the rest in one query.

A proof at ten million leaves needs ~24 stored nodes for an inclusion proof and up to ~50 for a
consistency proof. Read one by one from a table of 20 million rows they cost a millisecond or
more; but the nodes at level 8 and up are only 1/128 of the tree (2.5 MB at ten million leaves),
and a stored node never changes (spec §5: it is the hash of a complete subtree). So the store
reads those in rows of 256 neighbours (the width of a C2SP hash tile) and keeps the rows, LRU,
up to ``MAX_ROWS``; a proof then reads only its few nodes below level 8, all from one 256-leaf
block, in one indexed statement.

Only committed data comes through here (the store's own connection, or a streaming replica of
a PostgreSQL primary; never a write transaction), so nothing kept can be rolled back. A row at
the right edge of the tree is kept as wide as it was; asking for a node past it reads the row
again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["MAX_ROWS", "ROW", "UPPER_LEVEL", "NodeCache", "NodeRange"]

#: Levels at and above this one are kept in memory.
UPPER_LEVEL = 8
#: Nodes read and kept together at an upper level (aligned: indexes ``[k*ROW, (k+1)*ROW)``).
ROW = 256
#: Rows kept at most: 4096 rows of 256 hashes = 32 MiB, the upper levels of 2^27 leaves.
MAX_ROWS = 4096

_HASH = 32

#: ``(level, first index, last index)``, inclusive: the stored nodes to read.
NodeRange = tuple[int, int, int]
#: Reads every stored node in the ranges, as ``(level, index, hash)`` rows.
RangeReader = Callable[[Sequence[NodeRange]], Iterable[tuple[int, int, bytes]]]


class NodeCache:
    """A :class:`ledger.core.merkle.NodeReader` over ``read`` that keeps the upper levels.

    ``fallback`` (e.g. the primary when ``read`` is a streaming replica) is asked for the
    nodes ``read`` did not have; what it returns is not kept (a row narrower than the primary's
    is read again when a node past it is asked for). Thread-safe; one per store.
    """

    def __init__(
        self, read: RangeReader, *, fallback: RangeReader | None = None, max_rows: int = MAX_ROWS
    ) -> None:
        self._read = read
        self._fallback = fallback
        self._max_rows = max_rows
        self._rows: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        points: list[NodeRange] = []
        rows: set[tuple[int, int]] = set()
        with self._lock:
            for level, idx in keys:
                if level < UPPER_LEVEL:
                    points.append((level, idx, idx))
                    continue
                row = self._rows.get((level, idx // ROW))
                at = (idx % ROW) * _HASH
                if row is not None and at < len(row):
                    self._rows.move_to_end((level, idx // ROW))
                    out[(level, idx)] = row[at : at + _HASH]
                else:
                    rows.add((level, idx // ROW))
        if not points and not rows:
            return out
        ranges = points + [(lv, k * ROW, k * ROW + ROW - 1) for lv, k in sorted(rows)]
        fetched: dict[tuple[int, int], dict[int, bytes]] = {(lv, k): {} for lv, k in rows}
        wanted = set(keys)
        for level, idx, h in self._read(ranges):
            h = bytes(h)
            if (level, idx) in wanted:
                out[(level, idx)] = h
            if level >= UPPER_LEVEL:
                fetched[(level, idx // ROW)][idx % ROW] = h
        missing = [(lv, i, i) for lv, i in keys if (lv, i) not in out]
        if missing and self._fallback is not None:  # a replica behind its primary
            for level, idx, h in self._fallback(missing):
                out[(level, idx)] = bytes(h)
        with self._lock:
            for key, got in fetched.items():
                width = 0  # the stored nodes of a level are contiguous from index 0
                while width in got:
                    width += 1
                if width:
                    self._rows[key] = b"".join(got[i] for i in range(width))
                    self._rows.move_to_end(key)
            while len(self._rows) > self._max_rows:
                self._rows.popitem(last=False)
        return out

    def __len__(self) -> int:
        """Rows kept."""
        return len(self._rows)
