"""RFC 6962 Merkle trees: the Certificate Transparency vectors, then every pair of sizes up to 64.

The reference functions at the top follow RFC 6962 section 2.1 literally (recursive MTH, PATH and
PROOF); the module under test uses the iterative RFC 9162 algorithms, so agreement means something.
"""

import hashlib

import pytest

from ledger import merkle
from ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_root,
    reader_from_leaves,
    root_from_leaf_hashes,
    subtree_hash,
    tiled_reader,
    verify_consistency,
    verify_inclusion,
)

# The CT reference test inputs and hashes (certificate-transparency merkle tree tests).
CT_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# (leaf index, tree size, audit path)
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
# (old size, new size, consistency proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


# --- RFC 6962 section 2.1, literally ------------------------------------------------------------


def ref_mth(d):
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m, d):
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def data(n):
    return [b"entry %d" % i for i in range(n)]


def h(hexes):
    return [bytes.fromhex(x) for x in hexes]


# --- CT vectors ---------------------------------------------------------------------------------


def test_ct_leaf_hashes_and_roots():
    assert [leaf_hash(x).hex() for x in CT_INPUTS] == CT_LEAF_HASHES
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    for size in range(len(CT_INPUTS) + 1):
        leaves = [leaf_hash(x) for x in CT_INPUTS[:size]]
        assert root_from_leaf_hashes(leaves).hex() == CT_ROOTS[size]
        assert ref_mth(CT_INPUTS[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_vectors(index, size, path):
    read = reader_from_leaves([leaf_hash(x) for x in CT_INPUTS[:size]])
    assert inclusion_proof(index, size, read) == h(path)
    verify_inclusion(index, size, leaf_hash(CT_INPUTS[index]), h(path), bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_ct_consistency_vectors(old, new, proof):
    read = reader_from_leaves([leaf_hash(x) for x in CT_INPUTS[:new]])
    assert consistency_proof(old, new, read) == h(proof)
    verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), h(proof))


# --- exhaustive up to 64 ------------------------------------------------------------------------

MAX = 64
DATA = data(MAX)
LEAVES = [leaf_hash(x) for x in DATA]
READ = reader_from_leaves(LEAVES)
ROOTS = [ref_mth(DATA[:n]) for n in range(MAX + 1)]


def test_frontier_matches_rfc6962_at_every_size():
    frontier = Frontier()
    for n in range(MAX + 1):
        assert frontier.root() == ROOTS[n]
        assert Frontier.from_bytes(frontier.to_bytes()) == frontier
        assert subtree_hash(0, n, READ) == ROOTS[n]
        if n < MAX:
            frontier, completed = frontier.append(LEAVES[n])
            for node in completed:
                lo, hi = node.index << node.level, (node.index + 1) << node.level
                assert node.hash == ref_mth(DATA[lo:hi])


def test_every_inclusion_proof_up_to_64():
    for size in range(1, MAX + 1):
        for index in range(size):
            proof = inclusion_proof(index, size, READ)
            assert proof == ref_path(index, DATA[:size])
            verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size])
            with pytest.raises(MerkleError):
                verify_inclusion(index, size, LEAVES[(index + 1) % MAX], proof, ROOTS[size])
            if size > 1:
                with pytest.raises(MerkleError):
                    verify_inclusion((index + 1) % size, size, LEAVES[index], proof, ROOTS[size])
                bent = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                with pytest.raises(MerkleError):
                    verify_inclusion(index, size, LEAVES[index], bent, ROOTS[size])
                with pytest.raises(MerkleError):
                    verify_inclusion(index, size, LEAVES[index], proof[:-1], ROOTS[size])
            with pytest.raises(MerkleError):
                verify_inclusion(index, size, LEAVES[index], [*proof, ROOTS[size]], ROOTS[size])


def test_every_consistency_proof_up_to_64():
    for new in range(1, MAX + 1):
        for old in range(1, new + 1):
            proof = consistency_proof(old, new, READ)
            assert proof == (ref_subproof(old, DATA[:new], True) if old < new else [])
            verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
            if old == new:
                continue
            with pytest.raises(MerkleError):
                verify_consistency(old, new, ROOTS[old - 1] if old > 1 else ROOTS[new], ROOTS[new], proof)
            with pytest.raises(MerkleError):
                verify_consistency(old, new, ROOTS[old], ROOTS[new - 1], proof)
            for i in range(len(proof)):
                bent = list(proof)
                bent[i] = bytes([bent[i][0] ^ 1]) + bent[i][1:]
                with pytest.raises(MerkleError):
                    verify_consistency(old, new, ROOTS[old], ROOTS[new], bent)
            with pytest.raises(MerkleError):
                verify_consistency(old, new, ROOTS[old], ROOTS[new], proof[:-1])


def test_consistency_edge_cases():
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    with pytest.raises(MerkleError, match="same size"):
        verify_consistency(5, 5, ROOTS[4], ROOTS[5], [])
    with pytest.raises(MerkleError, match="must be empty"):
        verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[1]])
    with pytest.raises(MerkleError, match="cannot be a prefix"):
        verify_consistency(6, 5, ROOTS[6], ROOTS[5], [])
    with pytest.raises(MerkleError):
        consistency_proof(6, 5, READ)
    with pytest.raises(MerkleError):
        inclusion_proof(5, 5, READ)


def test_tiled_reader_matches_a_reader_over_all_leaves():
    n = 3 * 256 + 17
    leaves = [leaf_hash(b"%d" % i) for i in range(n)]
    stored = {0: leaves}
    frontier = Frontier()
    for leaf in leaves:
        frontier, completed = frontier.append(leaf)
        for node in completed:
            if node.level and node.level % 8 == 0:
                stored.setdefault(node.level, []).append(node.hash)
    tiled = tiled_reader(lambda level, lo, hi: stored.get(level, [])[lo:hi], 8)
    full = reader_from_leaves(leaves)
    for index in (0, 255, 256, 700, n - 1):
        assert inclusion_proof(index, n, tiled) == inclusion_proof(index, n, full)
    for old in (1, 255, 256, 257, 512, 600):
        assert consistency_proof(old, n, tiled) == consistency_proof(old, n, full)
    assert stored[8][1] == perfect_root(leaves[256:512]) == subtree_hash(256, 512, full)


def test_hashes_and_sizes_are_checked():
    with pytest.raises(MerkleError):
        Frontier(1, ())
    with pytest.raises(MerkleError):
        Frontier(1, (b"short",))
    with pytest.raises(MerkleError):
        Frontier.from_bytes(b"\x00" * 9)
    with pytest.raises(MerkleError):
        verify_inclusion(0, 1, b"x", [], ROOTS[1])
    with pytest.raises(ValueError):
        perfect_root([LEAVES[0]] * 3)
    assert node_hash(LEAVES[0], LEAVES[1]) == ref_mth(DATA[:2])
    assert merkle.range_nodes(0, 6) == [(2, 0), (1, 2)]
