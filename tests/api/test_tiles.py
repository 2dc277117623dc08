"""The log as C2SP tlog-tiles over HTTP (spec §5.10): a client recomputes the checkpoint's root
and builds inclusion proofs from ``/checkpoint`` and ``/tile/…`` alone; ``ledger tiles export``
writes the same bytes; entry bundles hold event hashes, never event bodies."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.tiles import FULL_CACHE
from ledger.core import events, merkle
from ledger.core.checkpoint import verify_checkpoint
from ledger.core.tiles import (
    TILE_WIDTH,
    Tile,
    TileReader,
    decode_entry_bundle,
    tile_hashes,
    tile_width,
    tiles_for_size,
)
from ledger.service import Ledger
from ledger.service.settings import Settings
from tests.api.test_api import assert_problem
from tests.support.ledgers import ORIGIN, scenario_ledger
from tests.support.scenario import private_key, scrap_body

GENERATED = 2300  # 9 full level-0 tiles and a partial one; a partial level-1 tile


def _creates(n: int) -> list[bytes]:
    key = private_key("bwm")
    return [
        events.sign(
            type="lot.create",
            actor="bwm",
            key=key,
            body=scrap_body(f"TILES-{i:06d}"),
            time="2025-12-01T00:00:00Z",
            id=str(uuid.UUID(int=i + 1, version=4)),
        ).canonical
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, TestClient]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('tiles')}/ledger.db"
    with scenario_ledger(url) as led:
        for result in led.append_many(_creates(GENERATED)):
            assert not isinstance(result, Exception), result
        app = create_app(Settings(database_url=url), ledger=led)
        yield led, TestClient(app)


def _fetch(client: TestClient) -> tuple[list[Tile], Callable[[Tile], bytes]]:
    seen: list[Tile] = []

    def fetch(tile: Tile) -> bytes:
        seen.append(tile)
        resp = client.get("/" + tile.path())
        assert resp.status_code == 200, (tile.path(), resp.text)
        assert resp.headers["content-type"] == "application/octet-stream"
        cache = resp.headers["cache-control"]
        assert (cache == FULL_CACHE) == tile.full, (tile, cache)
        return resp.content

    return seen, fetch


def test_a_client_recomputes_the_root_and_proofs_from_tiles(
    big: tuple[Ledger, TestClient],
) -> None:
    led, client = big
    resp = client.get("/checkpoint")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert resp.text == client.get("/v1/log/checkpoint").text
    cp = verify_checkpoint(resp.text, led.log_signer.verifier, origin=ORIGIN)
    assert cp.size == led.size() > 2 * TILE_WIDTH * 4
    seen, fetch = _fetch(client)
    reader = TileReader(cp.size, fetch)
    assert merkle.root_at(cp.size, reader) == cp.root
    assert {t.level for t in seen} == {0, 1}
    for index in (0, 1, 255, 256, 1000, cp.size // 2, cp.size - 1):
        proof = merkle.inclusion_proof(index, cp.size, reader)
        n = index // TILE_WIDTH
        bundle = client.get("/" + Tile(-1, n, tile_width(0, n, cp.size)).path())
        entry = decode_entry_bundle(bundle.content)[index % TILE_WIDTH]
        ((_, ev),) = led.events([index])
        assert entry == bytes.fromhex(ev.hash)
        merkle.verify_inclusion(merkle.leaf_hash(entry), index, cp.size, proof, cp.root)
        # the same proof the API serves
        assert proof == led.inclusion_proof(ev.hash, cp.size)[2]


def test_entry_bundles_hold_event_hashes_never_bodies(big: tuple[Ledger, TestClient]) -> None:
    led, client = big
    size = led.checkpoint().size
    entries: list[bytes] = []
    for tile in (t for t in tiles_for_size(size) if t.entries):
        data = client.get("/" + tile.path()).content
        got = decode_entry_bundle(data)
        assert len(got) == tile.width and all(len(e) == 32 for e in got)
        assert len(data) == 34 * tile.width
        assert b"lot.create" not in data and b'"body"' not in data
        entries.extend(got)
    for tile in (t for t in tiles_for_size(size) if t.level == 0):
        hashes = tile_hashes(client.get("/" + tile.path()).content, tile.width)
        first = tile.index * TILE_WIDTH
        assert hashes == [merkle.leaf_hash(e) for e in entries[first : first + tile.width]]
    assert entries == [bytes.fromhex(ev.hash) for _, ev in led.events(range(size))]


def test_tiles_not_yet_there_or_malformed_are_404(big: tuple[Ledger, TestClient]) -> None:
    led, client = big
    size = led.checkpoint().size
    last = size // TILE_WIDTH
    width = size % TILE_WIDTH
    assert client.get(f"/tile/0/{last:03d}.p/{width}").status_code == 200
    # an older, narrower partial tile is a prefix of the current one
    older = client.get(f"/tile/0/{last:03d}.p/{width - 1}")
    newer = client.get(f"/tile/0/{last:03d}.p/{width}")
    assert older.content == newer.content[:-32]
    assert older.headers["cache-control"] != FULL_CACHE
    # a partial tile of a tile that is now full is served too
    assert client.get("/tile/0/000.p/5").content == client.get("/tile/0/000").content[: 5 * 32]
    for path in (
        f"/tile/0/{last:03d}",  # not full yet
        f"/tile/0/{last:03d}.p/{width + 1}",
        f"/tile/entries/{last:03d}",
        f"/tile/0/{last + 1:03d}.p/1",
        "/tile/1/000",
        "/tile/2/000.p/1",
        "/tile/0/0",
        "/tile/0/x000/001",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/9/000",
        "/tile/abc/000",
        "/tile/entries/000.p/x",
    ):
        assert_problem(client.get(path), 404, "not_found")


def test_export_writes_the_bytes_the_routes_serve(
    big: tuple[Ledger, TestClient], tmp_path: Path
) -> None:
    led, client = big
    first = led.export_tiles(tmp_path)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert first.written == len(files) and first.kept == 0
    assert (tmp_path / "checkpoint").read_text() == client.get("/checkpoint").text
    for path in files:
        rel = path.relative_to(tmp_path).as_posix()
        resp = client.get("/" + rel)
        assert resp.status_code == 200, rel
        assert resp.content == path.read_bytes(), rel
    again = led.export_tiles(tmp_path)
    assert again.kept == sum(1 for t in tiles_for_size(first.size) if t.full) > 0
    assert again.written == len(files) - again.kept
