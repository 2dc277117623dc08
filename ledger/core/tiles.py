"""The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles; spec §5.10). Pure: no I/O.

A tile of level ``L`` and index ``N`` lists the hashes of the complete tree nodes at height
``8·L`` with indexes ``256·N …``: a full tile holds 256 of them, a partial one the ``W < 256``
that exist at a given tree size. Level-0 tiles hold the RFC 9162 leaf hashes. Entry bundles hold
the log entries themselves, each as a big-endian uint16 length and the entry bytes; in the ledger
an entry is the 32 raw bytes of an event hash (spec §3.4), never the event body, so that the leaf
hash of entry ``e`` is :func:`merkle.leaf_hash(e) <ledger.core.merkle.leaf_hash>`.

:class:`TileReader` is the client side: a :class:`merkle.NodeReader` over tiles fetched through a
callback, so that :func:`merkle.root_at` and :func:`merkle.inclusion_proof` work from tiles alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..errors import NotFound
from . import merkle

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileError",
    "TileReader",
    "decode_entry_bundle",
    "decode_index",
    "encode_entry_bundle",
    "encode_index",
    "parse_tile_path",
    "tile_hashes",
    "tile_width",
    "tiles_for_size",
]

#: Tree levels one tile spans (fixed by tlog-tiles).
TILE_HEIGHT = 8
#: Hashes in a full tile, entries in a full entry bundle.
TILE_WIDTH = 1 << TILE_HEIGHT
#: Highest tile level that can hold a node of a tree of fewer than 2**64 leaves.
MAX_LEVEL = 63 // TILE_HEIGHT

_GROUP = re.compile(r"^(x)?([0-9]{3})$")


class TileError(NotFound):
    """A tile path is malformed, or a tile that is not (yet) in the tree was asked for."""

    code = "not_found"


@dataclass(frozen=True, slots=True)
class Tile:
    """A tile coordinate: ``level`` (``-1`` for an entry bundle), ``index`` and ``width``."""

    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        """True for a full (immutable) tile."""
        return self.width == TILE_WIDTH

    @property
    def entries(self) -> bool:
        """True for an entry bundle."""
        return self.level < 0

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``, or ``tile/entries/<N>[.p/<W>]`` for an entry bundle."""
        level = "entries" if self.entries else str(self.level)
        tail = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{tail}"

    def node_keys(self) -> list[merkle.NodeKey]:
        """The ``(level, index)`` keys of the tree nodes a hash tile lists, in order."""
        first = self.index * TILE_WIDTH
        return [(self.level * TILE_HEIGHT, first + i) for i in range(self.width)]


def encode_index(n: int) -> str:
    """A tile index as tlog-tiles path elements: 1234067 → ``x001/x234/067``.

    Raises:
        TileError: ``n`` is negative.
    """
    if n < 0:
        raise TileError(f"a tile index is non-negative, got {n}")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if not n:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + groups[-1:])


def decode_index(text: str) -> int:
    """The inverse of :func:`encode_index`; refuses every other spelling.

    Raises:
        TileError: not the canonical encoding of an index.
    """
    parts = text.split("/")
    n = 0
    for i, part in enumerate(parts):
        m = _GROUP.match(part)
        if m is None or bool(m.group(1)) != (i < len(parts) - 1):
            raise TileError(f"malformed tile index {text!r}")
        n = n * 1000 + int(m.group(2))
    if encode_index(n) != text:
        raise TileError(f"tile index {text!r} is not canonical (want {encode_index(n)!r})")
    return n


def parse_tile_path(level: str, rest: str) -> Tile:
    """The tile of the path ``tile/<level>/<rest>`` (``level`` is a number or ``entries``).

    Raises:
        TileError: a malformed or non-canonical path.
    """
    if level == "entries":
        lvl = -1
    elif re.fullmatch(r"0|[1-9][0-9]?", level) and int(level) <= MAX_LEVEL:
        lvl = int(level)
    else:
        raise TileError(f"malformed tile level {level!r}")
    width = TILE_WIDTH
    index_text, sep, w = rest.partition(".p/")
    if sep:
        if not re.fullmatch(r"[1-9][0-9]{0,2}", w) or int(w) >= TILE_WIDTH:
            raise TileError(f"malformed partial tile width {w!r} (1 to {TILE_WIDTH - 1})")
        width = int(w)
    return Tile(lvl, decode_index(index_text), width)


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile ``(level, index)`` lists in the tree of ``size`` leaves (0: none).

    For an entry bundle pass ``level = 0`` (bundles are as wide as level-0 tiles).
    """
    count = size >> (TILE_HEIGHT * max(level, 0))
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def tiles_for_size(size: int) -> Iterator[Tile]:
    """Every hash tile of the tree of ``size`` leaves (level by level, the partial one last),
    then every entry bundle."""
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        for index in range(-(-count // TILE_WIDTH)):
            yield Tile(level, index, tile_width(level, index, size))
        level += 1
    for index in range(-(-size // TILE_WIDTH)):
        yield Tile(-1, index, tile_width(0, index, size))


def tile_hashes(data: bytes, width: int) -> list[bytes]:
    """The hashes of a hash tile's bytes.

    Raises:
        TileError: the data is not ``width`` hashes of 32 bytes.
    """
    if len(data) != width * merkle.HASH_SIZE:
        raise TileError(f"a tile of width {width} has {width * 32} bytes, got {len(data)}")
    return [data[i : i + merkle.HASH_SIZE] for i in range(0, len(data), merkle.HASH_SIZE)]


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a tlog-tiles entry bundle: each a big-endian uint16 length, then the bytes.

    Raises:
        TileError: an entry longer than 65535 bytes, or more than 256 entries.
    """
    if len(entries) > TILE_WIDTH:
        raise TileError(f"an entry bundle holds at most {TILE_WIDTH} entries")
    out = bytearray()
    for e in entries:
        if len(e) > 0xFFFF:
            raise TileError("an entry is at most 65535 bytes")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle.

    Raises:
        TileError: truncated data.
    """
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise TileError("entry bundle truncated in a length prefix")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise TileError("entry bundle truncated in an entry")
        entries.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return entries


class TileReader(merkle.NodeReader):
    """A :class:`merkle.NodeReader` for the tree of ``size`` leaves, reading tiles on demand.

    ``fetch(tile)`` returns the bytes at ``tile.path()`` (from a server, a directory, a cache).
    A node at height ``8·L + r`` is hashed from the ``2**r`` level-``L`` tile hashes below it.
    Fetched tiles are kept; a tile of the wrong length raises :class:`TileError`.
    """

    def __init__(self, size: int, fetch: Callable[[Tile], bytes]) -> None:
        self.size = size
        self._fetch = fetch
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of tile ``(level, index)`` at this reader's size (fetched once).

        Raises:
            TileError: the tile is not in the tree, or its bytes have the wrong length.
        """
        key = (level, index)
        if key not in self._tiles:
            width = tile_width(level, index, self.size)
            if not width:
                raise TileError(f"tile {level}/{index} is not in the tree of size {self.size}")
            t = Tile(level, index, width)
            self._tiles[key] = tile_hashes(self._fetch(t), width)
        return self._tiles[key]

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> Mapping[merkle.NodeKey, bytes]:
        """The hashes of complete nodes (those beyond the tree are left out).

        Raises:
            TileError: a needed tile is malformed.
        """
        out: dict[merkle.NodeKey, bytes] = {}
        for level, index in keys:
            if level < 0 or index < 0 or (index + 1) << level > self.size:
                continue
            tlevel, r = divmod(level, TILE_HEIGHT)
            first = index << r  # first hash at height 8·tlevel under this node
            hashes = self.tile(tlevel, first // TILE_WIDTH)
            start = first % TILE_WIDTH
            row = hashes[start : start + (1 << r)]
            while len(row) > 1:
                row = [merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
            out[(level, index)] = row[0]
        return out
