"""RFC 6962 / RFC 9162 Merkle tree primitives: hashing, a compact frontier, proofs and their checks.

Pure functions over 32-byte SHA-256 hashes; no storage, no I/O. The log that uses them keeps:

- a ``Frontier`` (the roots of the perfect subtrees that make up the tree so far), stored in the same
  SQLite transaction as each append, so the current root is O(log n) to get and to update;
- the hashes of completed subtrees at levels 8, 16, 24, ... (what ``Frontier.append`` reports): those
  are exactly the hashes of C2SP tlog-tiles at tile levels 1, 2, 3, ..., and level-0 hashes are
  recomputed from the entries, so a proof needs O(log n) small range reads instead of O(n) leaf reads.

Coordinates: node (level, index) is the perfect subtree over leaves [index << level, (index+1) << level).

Proofs are built from a ``NodeReader`` (batch: one call per proof, so a store can answer in one query)
and checked with the RFC 9162 algorithms (sections 2.1.3.2 and 2.1.4.2), the ones every other verifier
(CT, Go's sumdb/tlog, transparency-dev) agrees with.

Hand-written rather than taken from PyPI: pymerkle owns its storage (its own SQLite connection and
schema, 1-based leaves, its own proof encoding), which cannot share our append transaction; the
C2SP-specific packages there are new single-author projects. The algorithms are short, are checked
against the Certificate Transparency vectors, exhaustively for every pair of sizes up to 64, and in a
test against Go's golang.org/x/mod/sumdb/tlog.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ledger.errors import LedgerError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) in RFC 6962 2.1 (Go's tlog uses zeros instead)
MAX_SIZE = (1 << 63) - 1  # what Go (int64) and C2SP checkpoints can carry
TILE_HEIGHT = 8  # C2SP tlog-tiles: a tile is a subtree of height 8, 256 hashes wide
TILE_WIDTH = 1 << TILE_HEIGHT

NodeId = tuple[int, int]  # (level, index)
NodeReader = Callable[[Sequence[NodeId]], Sequence[bytes]]
LevelReader = Callable[[int, int, int], Sequence[bytes]]  # (level, start, end) -> hashes [start, end)

_sha256 = hashlib.sha256


class MerkleError(LedgerError):
    """A Merkle proof did not check out, or the inputs to build or check one were impossible."""


_HINT = "the log or the proof may have been altered; fetch a fresh proof and checkpoint from the station"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the 0x00 prefix keeps a leaf from passing for an interior node."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _check_hash(h: object, what: str) -> None:
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        raise MerkleError(f"{what} is not a 32-byte SHA-256 hash", _HINT)


def _check_size(size: object, what: str = "tree size") -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        raise MerkleError(f"{what} {size!r} is not between 0 and 2^63-1", _HINT)


def _largest_pow2_below(n: int) -> int:
    """k in RFC 6962: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees, left to right, whose fold is MTH(D[start:end]).

    Only ranges that occur in the tree are valid: start must be aligned to the largest power of two
    not above end - start (as every range in RFC 6962's recursion is).
    """
    nodes: list[NodeId] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"[{start}, {end}) is not a subtree range")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from its ``range_nodes`` hashes: right to left, as RFC 6962's split goes."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    sha = _sha256
    for h in reversed(hashes[:-1]):
        acc = sha(b"\x01" + h + acc).digest()  # node_hash, inline: this runs on every append
    return acc


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree from its 2^k bottom hashes (e.g. a full tile's 256 leaf hashes)."""
    level = list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise ValueError(f"{len(level)} hashes do not make a perfect subtree")
    sha = _sha256
    while len(level) > 1:
        level = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


@dataclass(frozen=True)
class Node:
    """A completed perfect subtree: (level, index) and its hash."""

    level: int
    index: int
    hash: bytes


@dataclass(frozen=True)
class Frontier:
    """The compact range [0, size): one hash per set bit of size, largest subtree first.

    Immutable: ``append`` returns the next frontier, so a failed transaction cannot leave a
    half-updated one behind in memory.
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _check_size(self.size)
        if len(self.hashes) != self.size.bit_count():
            raise MerkleError(
                f"a frontier of size {self.size} needs {self.size.bit_count()} hashes, "
                f"not {len(self.hashes)}",
                _HINT,
            )
        for h in self.hashes:
            _check_hash(h, "frontier hash")

    def append(self, leaf: bytes) -> tuple[Frontier, tuple[Node, ...]]:
        """Add a leaf hash. Returns the new frontier and every subtree this leaf completed
        (level 0 is the leaf itself), so a store can keep those at the levels it wants."""
        _check_hash(leaf, "leaf hash")
        if self.size == MAX_SIZE:
            raise MerkleError("the tree is full (2^63-1 leaves)", "start a new log")
        stack = list(self.hashes)
        index, level, h = self.size, 0, leaf
        completed = [Node(0, index, h)]
        sha = _sha256
        while index & 1:  # each trailing 1 bit of the old size is a sibling waiting for this leaf
            h = sha(b"\x01" + stack.pop() + h).digest()  # node_hash, inline: this runs on every append
            index >>= 1
            level += 1
            completed.append(Node(level, index, h))
        stack.append(h)
        return _checked_frontier(self.size + 1, tuple(stack)), tuple(completed)

    def root(self) -> bytes:
        return fold(self.hashes)

    def nodes(self) -> tuple[Node, ...]:
        """The frontier as rows (level, index, hash)."""
        ids = range_nodes(0, self.size)
        return tuple(Node(lv, ix, h) for (lv, ix), h in zip(ids, self.hashes, strict=True))

    def to_bytes(self) -> bytes:
        """8-byte big-endian size, then the hashes: a single BLOB column."""
        return struct.pack(">Q", self.size) + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        if not isinstance(data, bytes) or len(data) < 8 or (len(data) - 8) % HASH_SIZE:
            raise MerkleError("the stored frontier is not a size and whole hashes", _HINT)
        (size,) = struct.unpack(">Q", data[:8])
        body = data[8:]
        return cls(size, tuple(body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)))


def _checked_frontier(size: int, hashes: tuple[bytes, ...]) -> Frontier:
    """A Frontier built by ``append`` from a valid one and a checked leaf: its size is in range and
    its hashes are 32-byte digests by construction, so ``__post_init__``'s checks are skipped (they
    cost more than the append itself)."""
    frontier = object.__new__(Frontier)
    object.__setattr__(frontier, "size", size)
    object.__setattr__(frontier, "hashes", hashes)
    return frontier


def root_from_leaf_hashes(leaves: Iterable[bytes]) -> bytes:
    """MTH over a stream of leaf hashes in O(log n) memory."""
    frontier = Frontier()
    for leaf in leaves:
        frontier, _ = frontier.append(leaf)
    return frontier.root()


# --- proof generation -------------------------------------------------------------------------


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1 as sibling ranges, leaf's sibling first."""
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_pow2_below(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    return out[::-1]


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[n], true) of RFC 9162 2.1.4.1 as ranges, in proof order."""
    out: list[tuple[int, int]] = []
    lo, hi, whole = 0, new, True
    while old != hi:
        k = _largest_pow2_below(hi - lo)
        if old <= lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, whole = lo + k, False
    if not whole:  # the old tree's last subtree is not known to the verifier
        out.append((lo, hi))
    return out[::-1]


def _range_hashes(ranges: list[tuple[int, int]], read: NodeReader) -> list[bytes]:
    per_range = [range_nodes(lo, hi) for lo, hi in ranges]
    wanted = sorted({n for nodes in per_range for n in nodes})
    got = list(read(wanted))
    if len(got) != len(wanted):
        raise MerkleError(f"the node store returned {len(got)} hashes for {len(wanted)} nodes", _HINT)
    for h in got:
        _check_hash(h, "stored node hash")
    table = dict(zip(wanted, got, strict=True))
    return [fold([table[n] for n in nodes]) for nodes in per_range]


def subtree_hash(start: int, end: int, read: NodeReader) -> bytes:
    """MTH(D[start:end]) from the store, e.g. the root of an older tree size (start=0)."""
    if start == end:
        return EMPTY_ROOT
    return _range_hashes([(start, end)], read)[0]


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """The audit path for leaf ``index`` in the tree of ``size`` leaves, leaf's sibling first."""
    _check_size(size)
    if not isinstance(index, int) or not 0 <= index < size:
        raise MerkleError(
            f"entry {index} is not in a tree of {size} entries", "ask for an entry below the tree size"
        )
    return _range_hashes(_inclusion_ranges(index, size), read)


def consistency_proof(old_size: int, new_size: int, read: NodeReader) -> list[bytes]:
    """The proof that the tree of ``old_size`` is a prefix of the tree of ``new_size``.

    Empty when old_size is 0 or equal to new_size (nothing to prove; RFC 9162 2.1.4.1)."""
    _check_size(new_size)
    if not isinstance(old_size, int) or not 0 <= old_size <= new_size:
        raise MerkleError(
            f"cannot prove tree size {old_size} is a prefix of size {new_size}",
            "the older size must not exceed the newer one",
        )
    if old_size in (0, new_size):
        return []
    return _range_hashes(_consistency_ranges(old_size, new_size), read)


def tiled_reader(read_level: LevelReader, stride: int = TILE_HEIGHT) -> NodeReader:
    """A NodeReader over a store that keeps only levels 0, stride, 2*stride, ...

    ``read_level(level, start, end)`` returns the stored hashes of that level for indexes
    [start, end) (one range query). A node between stored levels is folded from at most
    2^(stride-1) stored hashes below it: stride 8 means tiles of 256, as in C2SP tlog-tiles.
    """
    if stride < 1:
        raise ValueError("stride must be at least 1")

    def read(ids: Sequence[NodeId]) -> list[bytes]:
        out = []
        for level, index in ids:
            base = level - level % stride
            span = level - base
            got = read_level(base, index << span, (index + 1) << span)
            if len(got) != 1 << span:
                raise MerkleError(f"node ({level}, {index}) is not complete in the store", _HINT)
            out.append(perfect_root(got))
        return out

    return read


def reader_from_leaves(leaves: Sequence[bytes]) -> NodeReader:
    """A NodeReader straight from all leaf hashes: O(2^level) per node, for tests and small trees."""
    return tiled_reader(lambda _level, start, end: leaves[start:end], stride=64)


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------------------------


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf`` at ``index``; raises if the proof is malformed."""
    _check_size(size)
    _check_hash(leaf, "leaf hash")
    if not isinstance(index, int) or not 0 <= index < size:
        raise MerkleError(f"entry {index} cannot be in a tree of {size} entries", _HINT)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "inclusion proof hash")
        if sn == 0:
            raise MerkleError(f"the inclusion proof is too long for entry {index} of {size}", _HINT)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:  # skip levels where this leaf's subtree has no right sibling
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise MerkleError(f"the inclusion proof is too short for entry {index} of {size}", _HINT)
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ``MerkleError`` unless ``proof`` shows ``leaf`` at ``index`` in the tree ``root``."""
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise MerkleError(
            f"the inclusion proof for entry {index} does not lead to the tree head of size {size}", _HINT
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ``MerkleError`` unless ``proof`` shows tree ``old_root`` is a prefix of ``new_root``."""
    _check_size(new_size)
    _check_size(old_size)
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    for p in proof:
        _check_hash(p, "consistency proof hash")
    if old_size > new_size:
        raise MerkleError(f"tree size {old_size} cannot be a prefix of size {new_size}", _HINT)
    if old_size in (0, new_size):
        # Nothing to prove: the empty tree precedes every tree; equal sizes must have equal roots.
        if proof:
            raise MerkleError(f"a consistency proof from size {old_size} to {new_size} must be empty", _HINT)
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise MerkleError("the old tree head of size 0 is not the empty-tree hash", _HINT)
        if old_size == new_size and old_root != new_root:
            raise MerkleError(f"two different tree heads for the same size {new_size}", _HINT)
        return
    span = f"from size {old_size} to {new_size}"
    if not proof:
        raise MerkleError(f"the consistency proof {span} is empty", _HINT)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is one perfect subtree: its root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleError(f"the consistency proof {span} is too long", _HINT)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise MerkleError(f"the consistency proof {span} is too short", _HINT)
    for got, want, which, size in ((fr, old_root, "old", old_size), (sr, new_root, "new", new_size)):
        if got != want:
            raise MerkleError(
                f"the consistency proof does not lead to the {which} tree head of size {size}", _HINT
            )
