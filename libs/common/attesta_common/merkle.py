"""Merkle trees with RFC 9162 (Certificate Transparency v2) hashing.

Leaves are record hashes (32 bytes each). `inclusion_proof` is PATH(m, D[n]) of
RFC 9162 section 2.1.3.1 and `verify_inclusion` is the verifier of section 2.1.3.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """Largest power of two strictly smaller than size (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    level = list(hashes)
    if not level:
        return hashlib.sha256(b"").digest()
    # Bottom-up pairing gives the same tree as RFC 9162's recursive split: an odd node
    # is carried up unchanged until it meets a subtree of its own size.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    return _root_of_hashes([leaf_hash(leaf) for leaf in leaves])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} outside a tree of {len(leaves)}")
    return _path(index, [leaf_hash(leaf) for leaf in leaves])


def _path(index: int, hashes: list[bytes]) -> list[bytes]:
    size = len(hashes)
    if size <= 1:
        return []
    k = _split(size)
    if index < k:
        return [*_path(index, hashes[:k]), _root_of_hashes(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _root_of_hashes(hashes[:k])]


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` place `leaf` at `index` in the tree with `root`?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
