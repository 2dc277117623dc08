"""C2SP tlog-tiles math (spec §5.10): path encoding, tile widths, roots and proofs from tiles."""

from __future__ import annotations

import hashlib

import pytest

from ledger.core import merkle
from ledger.core.tiles import (
    TILE_WIDTH,
    Tile,
    TileError,
    TileReader,
    decode_entry_bundle,
    decode_index,
    encode_entry_bundle,
    encode_index,
    parse_tile_path,
    tile_width,
    tiles_for_size,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "000"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"), (5, "005")],
)
def test_index_encoding_round_trips(n: int, text: str) -> None:
    assert encode_index(n) == text
    assert decode_index(text) == n


@pytest.mark.parametrize(
    "bad", ["", "1", "0001", "x000/001", "001/002", "x001", "x001/x002", "abc", "x1/000", "-01"]
)
def test_non_canonical_indexes_are_refused(bad: str) -> None:
    with pytest.raises(TileError):
        decode_index(bad)


def test_paths() -> None:
    assert Tile(0, 1234067).path() == "tile/0/x001/x234/067"
    assert Tile(1, 0, 7).path() == "tile/1/000.p/7"
    assert Tile(-1, 1000, 255).path() == "tile/entries/x001/000.p/255"
    for t in (Tile(0, 1234067), Tile(2, 3, 1), Tile(-1, 1000, 255)):
        level, rest = t.path().removeprefix("tile/").split("/", 1)
        assert parse_tile_path(level, rest) == t
    for level, rest in [
        ("0", "000.p/0"),
        ("0", "000.p/256"),
        ("0", "000.p/07"),
        ("00", "000"),
        ("8", "000"),
        ("x", "000"),
        ("0", "000.p/"),
    ]:
        with pytest.raises(TileError):
            parse_tile_path(level, rest)


def test_widths() -> None:
    size = 70_000  # 273 full level-0 tiles and one of 112; level 1: 273 hashes; level 2: 1
    assert tile_width(0, 0, size) == TILE_WIDTH
    assert tile_width(0, 273, size) == 70_000 - 273 * 256
    assert tile_width(0, 274, size) == 0
    assert tile_width(1, 0, size) == TILE_WIDTH
    assert tile_width(1, 1, size) == 273 - 256
    assert tile_width(2, 0, size) == 1
    assert tile_width(3, 0, size) == 0
    got = list(tiles_for_size(size))
    assert [t for t in got if t.level == 1] == [Tile(1, 0), Tile(1, 1, 17)]
    assert [t for t in got if t.level == 2] == [Tile(2, 0, 1)]
    assert len([t for t in got if t.entries]) == 274
    assert list(tiles_for_size(0)) == []
    assert list(tiles_for_size(256)) == [Tile(0, 0), Tile(1, 0, 1), Tile(-1, 0)]


def test_entry_bundles() -> None:
    entries = [hashlib.sha256(bytes([i])).digest() for i in range(3)] + [b""]
    data = encode_entry_bundle(entries)
    assert data[:2] == b"\x00\x20" and len(data) == 3 * 34 + 2
    assert decode_entry_bundle(data) == entries
    with pytest.raises(TileError):
        decode_entry_bundle(data[:-1] + b"\x00\x05")


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 1000, 65_536, 65_536 + 256 * 3 + 7])
def test_roots_and_proofs_from_tiles_alone(size: int) -> None:
    entries = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    nodes, cr = merkle.MemoryNodes.from_leaf_hashes(merkle.leaf_hash(e) for e in entries)
    fetched: list[Tile] = []

    def fetch(tile: Tile) -> bytes:  # what a server makes of its stored nodes
        fetched.append(tile)
        got = nodes.get_nodes(tile.node_keys())
        return b"".join(got[k] for k in tile.node_keys())

    reader = TileReader(size, fetch)
    assert merkle.root_at(size, reader) == cr.root()
    assert len(fetched) <= 6  # a handful of tiles, not the log
    for index in sorted({0, size // 3, size - 1}):
        proof = merkle.inclusion_proof(index, size, reader)
        leaf = reader.tile(0, index // TILE_WIDTH)[index % TILE_WIDTH]
        assert leaf == merkle.leaf_hash(entries[index])
        merkle.verify_inclusion(leaf, index, size, proof, cr.root())
    # any smaller tree is readable from the same tiles (partial widths of older sizes)
    small = min(size, size // 2 + 3)
    assert merkle.root_at(small, TileReader(small, fetch)) == merkle.root_at(small, nodes)


def test_a_tile_of_the_wrong_length_is_refused() -> None:
    reader = TileReader(10, lambda tile: b"\x00" * 32 * (tile.width + 1))
    with pytest.raises(TileError):
        merkle.root_at(10, reader)
