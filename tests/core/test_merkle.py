"""RFC 9162 Merkle tree (spec §5): transparency-dev vectors (every ``wantErr``), reference
roots, proofs from stored nodes checked against a naive RFC 9162 implementation, O(log n) reads on
a million-leaf tree, and Hypothesis properties (proofs verify; any flipped bit fails)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryNodes,
    MerkleError,
    NodeKey,
    ProofError,
    consistency_proof,
    frontier_keys,
    inclusion_proof,
    leaf_hash,
    node_hash,
    reference_root,
    root_at,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)
from ledger.errors import StorageError, VerificationError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "transparency-dev-merkle"
CASES = sorted((VECTORS / "testdata").rglob("*.json"))
INCLUSION = [p for p in CASES if p.relative_to(VECTORS / "testdata").parts[0] == "inclusion"]
CONSISTENCY = [p for p in CASES if p.relative_to(VECTORS / "testdata").parts[0] == "consistency"]


def _id(p: Path) -> str:
    return str(p.relative_to(VECTORS / "testdata").with_suffix(""))


def _b64(s: str | None) -> bytes:
    return base64.b64decode(s or "", validate=True)


def _proof(items: list[str] | None) -> list[bytes]:
    return [_b64(x) for x in items or []]


# --- transparency-dev/merkle vectors -------------------------------------------------------------


def test_vector_counts() -> None:
    assert len(CASES) == 196
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98
    assert (VECTORS / "SOURCE.txt").is_file()
    happy = [p for p in CASES if not json.loads(p.read_text())["wantErr"]]
    assert len(happy) == 12


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text())
    args = (
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        _proof(case["proof"]),
        _b64(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError) as exc:
            verify_inclusion(*args)
        assert exc.value.code == "bad_proof"
        assert isinstance(exc.value, VerificationError)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text())
    args = (
        case["size1"],
        case["size2"],
        _proof(case["proof"]),
        _b64(case["root1"]),
        _b64(case["root2"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# --- reference tree --------------------------------------------------------------------------


def _reference() -> tuple[list[bytes], list[bytes]]:
    data = json.loads((VECTORS / "rfc6962_reference_tree.json").read_text())
    leaves = [leaf_hash(bytes.fromhex(x)) for x in data["leaf_inputs_hex"]]
    roots = [bytes.fromhex(x) for x in data["root_by_size_hex"]]
    return leaves, roots


def test_empty_root_and_hashing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("size", range(9))
def test_reference_tree_roots(size: int) -> None:
    leaves, roots = _reference()
    assert reference_root(leaves[:size]) == roots[size]
    store, cr = MemoryNodes.from_leaf_hashes(leaves[:size])
    assert cr.size == size
    assert cr.root() == roots[size]
    assert root_at(size, store) == roots[size]
    # the full store of 8 leaves serves every smaller size too
    full, _ = MemoryNodes.from_leaf_hashes(leaves)
    assert root_at(size, full) == roots[size]
    assert CompactRange.from_reader(size, full) == cr


def test_compact_range_append_reports_new_complete_nodes() -> None:
    leaves, _ = _reference()
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT
    assert list(cr.hashes) == []
    assert cr.append(leaves[0]) == [(0, 0, leaves[0])]
    created = cr.append(leaves[1])
    assert created == [(0, 1, leaves[1]), (1, 0, node_hash(leaves[0], leaves[1]))]
    cr.extend(leaves[2:7])
    created = cr.append(leaves[7])
    assert [(lv, ix) for lv, ix, _ in created] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert created[-1][2] == cr.root()
    assert cr.hashes == (cr.root(),)


def test_frontier_keys() -> None:
    assert frontier_keys(0) == []
    assert frontier_keys(1) == [(0, 0)]
    assert frontier_keys(6) == [(2, 0), (1, 2)]
    assert frontier_keys(7) == [(2, 0), (1, 2), (0, 6)]
    assert frontier_keys(8) == [(3, 0)]
    assert frontier_keys(1_000_000) == [
        (lv, (1_000_000 >> (lv + 1)) << 1) for lv in range(20, -1, -1) if 1_000_000 >> lv & 1
    ]


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda: CompactRange(3, [b"\x00" * 32]), MerkleError),
        (lambda: CompactRange(1, [b"\x00" * 31]), MerkleError),
        (lambda: CompactRange(-1), MerkleError),
        (lambda: CompactRange().append(b"short"), MerkleError),
        (lambda: frontier_keys(-1), MerkleError),
        (lambda: inclusion_proof(4, 4, MemoryNodes()), MerkleError),
        (lambda: inclusion_proof(-1, 4, MemoryNodes()), MerkleError),
        (lambda: consistency_proof(0, 4, MemoryNodes()), MerkleError),
        (lambda: consistency_proof(5, 4, MemoryNodes()), MerkleError),
        (lambda: root_at(4, MemoryNodes()), StorageError),
        (lambda: inclusion_proof(0, 4, MemoryNodes()), StorageError),
        (lambda: CompactRange.from_reader(3, MemoryNodes()), StorageError),
        (lambda: root_at(1, MemoryNodes({(0, 0): b"short"})), StorageError),
    ],
    ids=[
        "hash-count-mismatch",
        "short-frontier-hash",
        "negative-size",
        "short-leaf",
        "negative-frontier",
        "index-equals-size",
        "negative-index",
        "consistency-from-zero",
        "consistency-size1-gt-size2",
        "missing-node-root",
        "missing-node-proof",
        "missing-node-frontier",
        "malformed-stored-node",
    ],
)
def test_tree_refusals(call: Any, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        call()


# --- naive RFC 9162 reference proofs -------------------------------------------------------------

N_SMALL = 64
N_PROP = 300
LEAVES = [leaf_hash(i.to_bytes(4, "big") + b"leaf") for i in range(N_PROP)]
STORE, FULL = MemoryNodes.from_leaf_hashes(LEAVES)


@cache
def _mth(lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return LEAVES[lo]
    k = 1
    while k * 2 < hi - lo:
        k *= 2
    return node_hash(_mth(lo, lo + k), _mth(lo + k, hi))


def _naive_path(m: int, lo: int, hi: int) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[lo:hi]) with m relative to lo."""
    n = hi - lo
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*_naive_path(m, lo, lo + k), _mth(lo + k, hi)]
    return [*_naive_path(m - k, lo + k, hi), _mth(lo, lo + k)]


def _naive_subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF(m, D[lo:hi], b)."""
    n = hi - lo
    if m == n:
        return [] if b else [_mth(lo, hi)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_naive_subproof(m, lo, lo + k, b), _mth(lo + k, hi)]
    return [*_naive_subproof(m - k, lo + k, hi, False), _mth(lo, lo + k)]


def test_all_small_inclusion_proofs() -> None:
    count = 0
    for size in range(1, N_SMALL + 1):
        root = root_at(size, STORE)
        assert root == _mth(0, size) == reference_root(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(index, size, STORE)
            assert proof == _naive_path(index, 0, size)
            verify_inclusion(LEAVES[index], index, size, proof, root)
            count += 1
    assert count == N_SMALL * (N_SMALL + 1) // 2


def test_all_small_consistency_proofs() -> None:
    count = 0
    for size2 in range(1, N_SMALL + 1):
        root2 = root_at(size2, STORE)
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, STORE)
            expected = [] if size1 == size2 else _naive_subproof(size1, 0, size2, True)
            assert proof == expected
            verify_consistency(size1, size2, proof, root_at(size1, STORE), root2)
            count += 1
    assert count == N_SMALL * (N_SMALL + 1) // 2


def test_compact_range_matches_reference_at_every_size() -> None:
    cr = CompactRange()
    for size in range(N_SMALL + 1):
        assert cr.root() == reference_root(LEAVES[:size])
        assert CompactRange.from_reader(size, STORE) == cr
        assert cr.size == size and len(cr.hashes) == size.bit_count()
        if size < N_SMALL:
            cr.append(LEAVES[size])


def test_proof_hash_of_wrong_length_is_refused() -> None:
    # Go's verifier would hash any lengths; we refuse them (a split at another byte is malleable).
    proof = inclusion_proof(2, 5, STORE)
    root = root_at(5, STORE)
    bad = [proof[0][:31], proof[0][31:] + proof[1], *proof[2:]]
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[2], 2, 5, bad, root)
    assert root_from_inclusion(2, 5, LEAVES[2], proof) == root


# --- O(log n) reads on a million-leaf tree -------------------------------------------------------


class UniformTree:
    """A consistent fake tree whose leaves are all equal, so node (level, i) hash = H_level.

    It answers any COMPLETE node inside ``size`` and refuses anything else (an ephemeral node,
    a node beyond the tree), and counts calls and keys.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls = 0
        self.keys = 0
        self.levels = [leaf_hash(b"uniform")]
        for _ in range(64):
            self.levels.append(node_hash(self.levels[-1], self.levels[-1]))

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.calls += 1
        self.keys += len(keys)
        assert len(set(keys)) == len(keys), "duplicate keys in one read"
        for level, index in keys:
            assert level >= 0 and index >= 0
            assert (index + 1) << level <= self.size, f"node ({level},{index}) not complete"
        return {k: self.levels[k[0]] for k in keys}

    def reset(self) -> None:
        self.calls = self.keys = 0


BIG = 1_000_003
BOUND = 2 * math.log2(BIG) + 2


def test_million_leaf_root_and_frontier_reads() -> None:
    tree = UniformTree(BIG)
    root = root_at(BIG, tree)
    assert (tree.calls, tree.keys) == (1, BIG.bit_count())
    tree.reset()
    cr = CompactRange.from_reader(BIG, tree)
    assert (tree.calls, tree.keys) == (1, BIG.bit_count())
    assert cr.root() == root
    tree.reset()
    assert root_at(0, tree) == EMPTY_ROOT and tree.calls == 0


@pytest.mark.parametrize("index", [0, 1, 524_287, 524_288, 999_999, 1_000_001, BIG - 1])
def test_million_leaf_inclusion_is_log_n(index: int) -> None:
    tree = UniformTree(BIG)
    root = root_at(BIG, tree)
    tree.reset()
    proof = inclusion_proof(index, BIG, tree)
    assert tree.calls == 1
    assert tree.keys <= BOUND
    assert len(proof) <= math.ceil(math.log2(BIG))
    verify_inclusion(tree.levels[0], index, BIG, proof, root)


@pytest.mark.parametrize(
    "size1", [1, 2, 3, 524_287, 524_288, 524_289, 999_999, 1_000_000, BIG - 1, BIG]
)
def test_million_leaf_consistency_is_log_n(size1: int) -> None:
    tree = UniformTree(BIG)
    root1, root2 = root_at(size1, tree), root_at(BIG, tree)
    tree.reset()
    proof = consistency_proof(size1, BIG, tree)
    assert tree.calls == (0 if size1 == BIG else 1)
    assert tree.keys <= BOUND
    verify_consistency(size1, BIG, proof, root1, root2)


# --- Hypothesis ----------------------------------------------------------------------------------


def _flips(proof: list[bytes], data: st.DataObject) -> list[bytes]:
    i = data.draw(st.integers(0, len(proof) - 1), label="element")
    bit = data.draw(st.integers(0, 8 * len(proof[i]) - 1), label="bit")
    flipped = bytearray(proof[i])
    flipped[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:i], bytes(flipped), *proof[i + 1 :]]


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, N_PROP), data=st.data())
def test_inclusion_property(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, STORE)
    root = root_at(size, STORE)
    verify_inclusion(LEAVES[index], index, size, proof, root)
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[index], index, size, _flips(proof, data), root)
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[index], index, size, proof[:-1], root)
    if size > 1:
        other = (index + 1) % size
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[other], index, size, proof, root)


@settings(max_examples=300, deadline=None)
@given(size2=st.integers(1, N_PROP), data=st.data())
def test_consistency_property(size2: int, data: st.DataObject) -> None:
    size1 = data.draw(st.integers(1, size2), label="size1")
    proof = consistency_proof(size1, size2, STORE)
    root1, root2 = root_at(size1, STORE), root_at(size2, STORE)
    verify_consistency(size1, size2, proof, root1, root2)
    if proof:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, _flips(proof, data), root1, root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, [*proof, proof[0]], root1, root2)
    if size1 < size2:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root2, root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, root1)


@settings(max_examples=50, deadline=None)
@given(cut=st.integers(0, N_PROP))
def test_compact_range_split_extend(cut: int) -> None:
    cr = CompactRange.from_reader(cut, STORE)
    fresh = MemoryNodes()
    fresh.put_all(cr.extend(LEAVES[cut:]))
    assert cr == FULL
    assert cr.root() == reference_root(LEAVES)
    # the nodes created after the cut are exactly those of STORE that end after the cut
    for (level, index), value in fresh.get_nodes(
        [(lv, ix) for lv in range(10) for ix in range(N_PROP >> lv)]
    ).items():
        assert (index + 1) << level > cut
        assert STORE.get_nodes([(level, index)])[(level, index)] == value
