"""RFC 9162 / RFC 6962 Merkle tree over SHA-256: hashing, compact ranges, proofs (spec §5).

Pure: no I/O. Stored state is a set of COMPLETE subtrees, each keyed ``(level, index)`` and covering
the leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. A complete
node never changes once the tree has grown past it, so the nodes of a tree of size ``n`` serve every
smaller size too. Anything that is not complete (a right-edge range ``[a, n)``) is hashed from its
complete pieces, never stored.

Proof generation plans the node keys it needs (O(log n) of them), reads them in ONE batched
:meth:`NodeReader.get_nodes` call, then computes. Nothing here iterates over the leaves.

Verification follows transparency-dev/merkle ``proof/verify.go`` (exact proof lengths, 32-byte leaf
hash, ``index < size``) and, for consistency, additionally refuses ``size1 == 0`` as the published
test vectors require (a proof from the empty tree proves nothing). It is stricter in one respect:
every proof hash must be 32 bytes (otherwise the same concatenation could be split differently).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ..errors import LedgerError, StorageError, VerificationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MemoryNodes",
    "MerkleError",
    "NodeKey",
    "NodeReader",
    "ProofError",
    "consistency_proof",
    "frontier_keys",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "reference_root",
    "root_at",
    "root_from_inclusion",
    "verify_consistency",
    "verify_inclusion",
]

#: Size in bytes of every hash in the tree.
HASH_SIZE = 32

#: Root hash of the empty tree: SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``(level, index)`` of a complete subtree.
NodeKey = tuple[int, int]


class ProofError(VerificationError):
    """An inclusion or consistency proof does not verify (or is malformed)."""

    code = "bad_proof"


class MerkleError(LedgerError):
    """A tree operation was asked for an impossible range (index beyond size, negative size)."""

    code = "bad_range"


class NodeReader(Protocol):
    """Read access to stored complete subtree hashes."""

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """Return the hashes of the given node keys in one batched read.

        Keys that are not stored may be absent from the result; callers treat that as corruption.
        """
        ...


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash ``SHA-256(0x00 || data)``.

    In the ledger, ``data`` is the 32 raw bytes of an event hash.
    """
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def reference_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The naive recursive MTH over already-hashed leaves (RFC 9162 section 2.1.1). Tests only.

    O(n) hashing and O(log n) recursion depth; do not use on a live log.
    """
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(reference_root(leaf_hashes[:k]), reference_root(leaf_hashes[k:]))


# --------------------------------------------------------------------------- key arithmetic


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(size: int, what: str = "size") -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MerkleError(f"{what} must be a non-negative integer, got {size!r}")


def _decompose(begin: int, end: int) -> list[NodeKey]:
    """Keys of the minimal set of complete subtrees covering ``[begin, end)``, left to right."""
    keys: list[NodeKey] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def frontier_keys(size: int) -> list[NodeKey]:
    """Keys of the complete subtrees of ``size``'s binary decomposition, largest (leftmost) first.

    These are the hashes a :class:`CompactRange` of that size holds.

    Raises:
        MerkleError: ``size`` is negative.
    """
    _check_size(size)
    return _decompose(0, size)


def _range_keys(begin: int, end: int) -> list[NodeKey]:
    """Pieces of an RFC 9162 subtree range (``begin`` aligned to a power of two >= its length)."""
    return _decompose(begin, end)


def _fold(pieces: Sequence[bytes]) -> bytes:
    """MTH of an aligned range from its complete pieces (largest first): fold from the right."""
    acc = pieces[-1]
    for piece in reversed(pieces[:-1]):
        acc = node_hash(piece, acc)
    return acc


def _fetch(reader: NodeReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """Hash every RFC subtree range with one batched read of their complete pieces."""
    plan = [_range_keys(a, b) for a, b in ranges]
    wanted = list(dict.fromkeys(k for keys in plan for k in keys))
    got: Mapping[NodeKey, bytes] = reader.get_nodes(wanted) if wanted else {}
    missing = [k for k in wanted if k not in got]
    if missing:
        raise StorageError(
            f"Merkle node(s) {missing[:4]} missing from storage; the tree store is incomplete or "
            "corrupt (run `ledger fsck`)"
        )
    bad = [k for k in wanted if len(got[k]) != HASH_SIZE]
    if bad:
        raise StorageError(f"Merkle node(s) {bad[:4]} stored with a wrong hash length")
    return [_fold([got[k] for k in keys]) for keys in plan]


# --------------------------------------------------------------------------- compact range


class CompactRange:
    """The right-edge frontier of a tree of ``size`` leaves (transparency-dev's compact range).

    ``hashes`` are the roots of the complete subtrees in ``frontier_keys(size)``, largest first.
    Appending a leaf returns every complete node the append created, for the caller to store.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        """Build from a size and its frontier hashes.

        Raises:
            MerkleError: ``size`` is negative, the number of hashes is not ``popcount(size)``, or
                a hash is not 32 bytes.
        """
        _check_size(size)
        hs = [bytes(h) for h in hashes]
        if len(hs) != size.bit_count():
            raise MerkleError(
                f"a compact range of size {size} has {size.bit_count()} hashes, got {len(hs)}"
            )
        if any(len(h) != HASH_SIZE for h in hs):
            raise MerkleError("compact range hashes must be 32 bytes")
        self._size = size
        self._hashes = hs

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Frontier hashes, largest (leftmost) subtree first."""
        return tuple(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}...)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange(self._size, self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the new complete nodes ``(level, index, hash)``.

        The list starts with the leaf itself at level 0 and goes up through every subtree this
        leaf completes.

        Raises:
            MerkleError: ``leaf`` is not 32 bytes.
        """
        if len(leaf) != HASH_SIZE:
            raise MerkleError(f"a leaf hash is 32 bytes, got {len(leaf)}")
        h = bytes(leaf)
        level, index = 0, self._size
        created = [(0, index, h)]
        while index & 1:
            h = node_hash(self._hashes.pop(), h)
            level += 1
            index >>= 1
            created.append((level, index, h))
        self._hashes.append(h)
        self._size += 1
        return created

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append several leaf hashes; return all new complete nodes in creation order.

        Raises:
            MerkleError: a leaf is not 32 bytes (leaves before it stay appended).
        """
        created: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            created.extend(self.append(leaf))
        return created

    def root(self) -> bytes:
        """The tree head MTH of the covered leaves (:data:`EMPTY_ROOT` for size 0)."""
        if not self._hashes:
            return EMPTY_ROOT
        return _fold(self._hashes)

    @classmethod
    def from_reader(cls, size: int, reader: NodeReader) -> CompactRange:
        """Rebuild the frontier of ``size`` from stored nodes: one batched read of O(log n) keys.

        Raises:
            MerkleError: ``size`` is negative.
            StorageError: a needed node is missing or malformed.
        """
        keys = frontier_keys(size)
        if not keys:
            return cls()
        got = reader.get_nodes(keys)
        missing = [k for k in keys if k not in got]
        if missing:
            raise StorageError(
                f"Merkle node(s) {missing[:4]} missing from storage; cannot rebuild the tree "
                f"frontier at size {size}"
            )
        try:
            return cls(size, [got[k] for k in keys])
        except MerkleError as e:
            raise StorageError(f"stored Merkle frontier at size {size} is malformed: {e}") from e


class MemoryNodes(NodeReader):
    """A dict-backed node store (tests, the offline verifier, small in-memory logs)."""

    def __init__(self, nodes: Mapping[NodeKey, bytes] | None = None) -> None:
        self._nodes: dict[NodeKey, bytes] = dict(nodes or {})

    def put(self, level: int, index: int, value: bytes) -> None:
        """Store one complete node."""
        self._nodes[(level, index)] = value

    def put_all(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        """Store nodes as returned by :meth:`CompactRange.append` / :meth:`CompactRange.extend`."""
        for level, index, value in nodes:
            self._nodes[(level, index)] = value

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """The stored hashes among ``keys`` (absent keys are left out)."""
        return {k: self._nodes[k] for k in keys if k in self._nodes}

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, key: object) -> bool:
        return key in self._nodes

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> tuple[MemoryNodes, CompactRange]:
        """Build a store holding every complete node of the tree over ``leaf_hashes``.

        Raises:
            MerkleError: a leaf hash is not 32 bytes.
        """
        store = cls()
        cr = CompactRange()
        for leaf in leaf_hashes:
            store.put_all(cr.append(leaf))
        return store, cr


# --------------------------------------------------------------------------- proof generation


def root_at(size: int, reader: NodeReader) -> bytes:
    """The tree head of the first ``size`` leaves, from stored complete nodes (one batched read).

    Raises:
        MerkleError: ``size`` is negative.
        StorageError: a needed node is missing or malformed.
    """
    _check_size(size)
    if size == 0:
        return EMPTY_ROOT
    return _fetch(reader, [(0, size)])[0]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 section 2.1.3.1 PATH(index, D[0:size]) as leaf ranges, bottom-up."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """RFC 9162 section 2.1.4.1 SUBPROOF(size1, D[0:size2], true) as leaf ranges, in proof order."""
    siblings: list[tuple[int, int]] = []
    head: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                head.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    siblings.reverse()
    return head + siblings


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 inclusion proof (audit path) of leaf ``index`` in the tree of ``size`` leaves.

    O(log n) node keys, read in one batched call.

    Raises:
        MerkleError: not ``0 <= index < size``.
        StorageError: a needed node is missing or malformed.
    """
    _check_size(size)
    _check_size(index, "index")
    if index >= size:
        raise MerkleError(f"leaf index {index} is not in a tree of size {size}")
    ranges = _inclusion_ranges(index, size)
    return _fetch(reader, ranges) if ranges else []


def consistency_proof(size1: int, size2: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 consistency proof from the tree of ``size1`` leaves to that of ``size2``.

    Empty when ``size1 == size2``. O(log n) node keys, read in one batched call.

    Raises:
        MerkleError: not ``0 < size1 <= size2`` (a proof from the empty tree is meaningless).
        StorageError: a needed node is missing or malformed.
    """
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if size1 == 0:
        raise MerkleError("a consistency proof from the empty tree is meaningless")
    if size1 > size2:
        raise MerkleError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == size2:
        return []
    return _fetch(reader, _consistency_ranges(size1, size2))


# --------------------------------------------------------------------------- verification


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ProofError(f"proof hash {i} is not 32 bytes")


def _decomp_incl(index: int, size: int) -> tuple[int, int]:
    """Lengths of the inner (below the fork with the right border) and border proof parts."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (transparency-dev ``RootFromInclusionProof``).

    Raises:
        ProofError: ``index >= size``, a negative value, a leaf hash or proof hash that is not 32
            bytes, or a proof of the wrong length.
    """
    if index < 0 or size < 0:
        raise ProofError("index and size must be non-negative")
    if index >= size:
        raise ProofError(f"index {index} is beyond the tree size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash has {len(leaf_hash)} bytes, want {HASH_SIZE}")
    inner, border = _decomp_incl(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong inclusion proof size {len(proof)}, want {inner + border}")
    _check_hashes(proof)
    res = _chain_inner(bytes(leaf_hash), proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` sits at ``index`` in the tree of ``size`` leaves with ``root``.

    ``leaf_hash`` is the RFC 9162 leaf HASH (``leaf_hash(data)``), not the leaf data.

    Raises:
        ProofError: the proof is malformed or does not lead to ``root``.
    """
    calc = root_from_inclusion(index, size, leaf_hash, proof)
    if calc != root:
        raise ProofError(
            f"inclusion proof for leaf {index} leads to root {calc.hex()}, not {bytes(root).hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    ``size1 == 0`` is refused; ``size1 == size2`` needs an empty proof and ``root1 == root2``.

    Raises:
        ProofError: the sizes are impossible, the proof is malformed or a root does not match.
    """
    if size1 < 0 or size2 < 0:
        raise ProofError("tree sizes must be non-negative")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2, but the proof is not empty")
        if bytes(root1) != bytes(root2):
            raise ProofError(f"roots differ for the same tree size {size1}")
        return
    if not proof:
        raise ProofError("empty consistency proof")

    inner, border = _decomp_incl(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    # The proof starts with the root of the size-2^shift subtree ending at size1, unless size1 is
    # that very power of two (then the verifier knows it: it is root1).
    if size1 == 1 << shift:
        seed, rest = bytes(root1), list(proof)
        want = inner + border
    else:
        seed, rest = proof[0], list(proof[1:])
        want = 1 + inner + border
    if len(proof) != want:
        raise ProofError(f"wrong consistency proof size {len(proof)}, want {want}")
    _check_hashes(proof)
    if len(seed) != HASH_SIZE:
        raise ProofError(f"root at size {size1} does not match the proof")
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if hash1 != root1:
        raise ProofError(f"consistency proof does not match the root at size {size1}")
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if hash2 != root2:
        raise ProofError(f"consistency proof does not match the root at size {size2}")
