"""RFC 9162 Merkle trees: known roots, every inclusion proof, and tampering."""

from __future__ import annotations

import hashlib

import pytest
from attesta_common.merkle import (
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)

# The eight leaves of the Certificate Transparency test vectors (RFC 6962 / 9162 hashing).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def _recursive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's definition, written the slow way, as an oracle."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_recursive_root(leaves[:k]), _recursive_root(leaves[k:]))


@pytest.mark.parametrize("size", sorted(CT_ROOTS))
def test_root_matches_certificate_transparency_vectors(size: int) -> None:
    assert merkle_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert merkle_root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 33])
def test_every_leaf_proves_inclusion_and_nothing_else_does(size: int) -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(size)]
    root = merkle_root(leaves)
    assert root == _recursive_root(leaves)
    for index, leaf in enumerate(leaves):
        proof = inclusion_proof(leaves, index)
        assert verify_inclusion(leaf, index, size, proof, root)
        assert not verify_inclusion(b"forged", index, size, proof, root)
        if size > 1:
            assert not verify_inclusion(leaf, (index + 1) % size, size, proof, root)
            tampered = [bytes(32), *proof[1:]]
            assert not verify_inclusion(leaf, index, size, tampered, root)


def test_proof_index_outside_tree_is_refused() -> None:
    with pytest.raises(IndexError):
        inclusion_proof([b"a"], 1)
    assert not verify_inclusion(b"a", 1, 1, [], merkle_root([b"a"]))
