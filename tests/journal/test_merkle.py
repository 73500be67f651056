"""RFC 9162 Merkle tree hashing and proofs: RFC 6962 / Certificate Transparency test vectors, a naive reference
implementation for every small tree, and mangled proofs refused."""

from __future__ import annotations

import hashlib

import pytest

from aidants.journal import merkle

# The Certificate Transparency reference leaves and tree heads (RFC 6962 test data, as published with
# transparency-dev/merkle and Google's certificate-transparency code).
CT_ENTRIES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
CT_INCLUSION = {
    (0, 8): ("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    (5, 8): ("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
}
CT_CONSISTENCY = {
    (2, 8): ("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    (6, 8): ("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    (2, 5): ("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
}
CT_LEAVES = [merkle.leaf_hash(entry) for entry in CT_ENTRIES]


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH, written from its definition (recursive, slow, obvious)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def proofs(leaves: list[bytes]):
    """Inclusion and consistency proofs computed by the module over an in-memory tree."""
    stored = {(0, i): leaf for i, leaf in enumerate(leaves)}
    level = 0
    while (1 << (level + 1)) <= len(leaves):
        level += 1
        for index in range(len(leaves) >> level):
            left, right = stored[(level - 1, 2 * index)], stored[(level - 1, 2 * index + 1)]
            stored[(level, index)] = merkle.node_hash(left, right)

    def inclusion(index: int, size: int) -> list[bytes]:
        return merkle.hashes_of(merkle.inclusion_ranges(index, size), stored.__getitem__)

    def consistency(first: int, second: int) -> list[bytes]:
        return merkle.hashes_of(merkle.consistency_ranges(first, second), stored.__getitem__)

    return inclusion, consistency


def test_roots_match_the_reference_tree_heads():
    assert merkle.root_of([]) == CT_ROOTS[0] == merkle.EMPTY_ROOT
    for size in range(1, 9):
        assert merkle.root_of(CT_LEAVES[:size]) == CT_ROOTS[size] == mth(CT_LEAVES[:size])


def test_proofs_match_the_reference_vectors():
    inclusion, consistency = proofs(CT_LEAVES)
    for (index, size), expected in CT_INCLUSION.items():
        proof = inclusion(index, size)
        assert [p.hex() for p in proof] == list(expected)
        assert merkle.verify_inclusion(CT_LEAVES[index], index, size, proof, CT_ROOTS[size])
    for (first, second), expected in CT_CONSISTENCY.items():
        proof = consistency(first, second)
        assert [p.hex() for p in proof] == list(expected)
        assert merkle.verify_consistency(first, second, CT_ROOTS[first], CT_ROOTS[second], proof)


MANY = [merkle.leaf_hash(bytes([i, i * 7 % 256])) for i in range(40)]


def test_every_proof_of_every_small_tree_verifies_and_mangled_ones_do_not():
    inclusion, consistency = proofs(MANY)
    roots = [mth(MANY[:n]) for n in range(len(MANY) + 1)]
    for size in range(1, len(MANY) + 1):
        for index in range(size):
            proof = inclusion(index, size)
            assert merkle.verify_inclusion(MANY[index], index, size, proof, roots[size])
            wrong_root = roots[size - 1] if size > 1 else MANY[1]
            assert not merkle.verify_inclusion(MANY[index], index, size, proof, wrong_root)
            if size > 1:
                assert not merkle.verify_inclusion(MANY[index], (index + 1) % size, size, proof, roots[size])
                assert not merkle.verify_inclusion(MANY[index], index, size, proof[:-1], roots[size])
                assert not merkle.verify_inclusion(MANY[index], index, size, [*proof, MANY[0]], roots[size])
                flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                assert not merkle.verify_inclusion(MANY[index], index, size, flipped, roots[size])
        for first in range(size + 1):
            proof = consistency(first, size)
            assert merkle.verify_consistency(first, size, roots[first], roots[size], proof)
            if 0 < first < size:
                assert not merkle.verify_consistency(first, size, roots[first - 1] if first > 1 else MANY[5],
                                                     roots[size], proof)
                assert not merkle.verify_consistency(first, size, roots[first], roots[size], proof[:-1])
                assert not merkle.verify_consistency(first, size, roots[first], roots[size], [*proof, MANY[0]])
                flipped = [*proof[:-1], bytes([proof[-1][0] ^ 1]) + proof[-1][1:]]
                assert not merkle.verify_consistency(first, size, roots[first], roots[size], flipped)


def test_degenerate_cases():
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, CT_ROOTS[8], [])
    assert not merkle.verify_consistency(0, 8, CT_ROOTS[1], CT_ROOTS[8], [])
    assert merkle.verify_consistency(4, 4, CT_ROOTS[4], CT_ROOTS[4], [])
    assert not merkle.verify_consistency(4, 4, CT_ROOTS[4], CT_ROOTS[5], [])
    assert not merkle.verify_consistency(5, 4, CT_ROOTS[5], CT_ROOTS[4], [])
    assert not merkle.verify_inclusion(CT_LEAVES[0], 8, 8, [], CT_ROOTS[8])
    assert not merkle.verify_inclusion(b"short", 0, 1, [], b"short")
    assert merkle.verify_inclusion(CT_LEAVES[0], 0, 1, [], CT_ROOTS[1])
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(8, 8)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(5, 3)


@pytest.mark.parametrize(("start", "count"), [(0, 4096), (0, 9000), (3, 8200), (4095, 4098), (5000, 12)])
def test_the_frontier_hashes_blocks_as_the_definition_does(start, count):
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(start + count)]
    frontier = merkle.Frontier()
    for leaf in leaves[:start]:
        frontier.append(leaf)
    completed: list[tuple[int, int, bytes]] = []
    reopened = merkle.Frontier(start, [_perfect(leaves, node) for node in merkle.Frontier.nodes_of(start)])
    frontier.extend(leaves[start:])
    assert frontier.size == start + count and frontier.root() == merkle.root_of(leaves) == mth(leaves)
    for leaf in leaves[start:start + 10]:
        reopened.append(leaf, completed)
    assert reopened.root() == merkle.root_of(leaves[:start + min(10, count)])
    for level, index, digest in completed:
        assert digest == _perfect(leaves, (level, index))


def _perfect(leaves: list[bytes], node: merkle.Node) -> bytes:
    level, index = node
    return merkle.root_of(leaves[index << level:(index + 1) << level])

