"""RFC 9162 section 2.1 Merkle proofs, against a straightforward recursive reference.

The reference below is the RFC's definitions transcribed on Python lists (slices and all), with
no sharing with `casefile.audit.merkle`; every tree size up to 300 is checked, every leaf index
and every pair of sizes m <= n, plus the verifier refusing altered proofs."""

import functools
import hashlib

import pytest

from casefile.audit import merkle

MAX_SIZE = 300
DATA = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(MAX_SIZE)]


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def ref_mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) by 2.1.1 (cached per range only to keep 45,000 proofs quick)."""
    d = DATA[start:end]
    if len(d) == 0:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + ref_mth(start, start + k) + ref_mth(start + k, end))


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) by 2.1.3.1."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, start, start + k) + [ref_mth(start + k, end)]
    return ref_path(m - k, start + k, end) + [ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b) by 2.1.4.1."""
    n = end - start
    if m == n:
        return [] if b else [ref_mth(start, end)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, start, start + k, b) + [ref_mth(start + k, end)]
    return ref_subproof(m - k, start + k, end, False) + [ref_mth(start, start + k)]


LEAVES = [merkle.leaf_hash(d) for d in DATA]


def tree(size: int) -> merkle.Subtree:
    return merkle.list_subtree(LEAVES[:size])


def test_hashing_follows_the_rfc_domain_separation():
    assert merkle.leaf_hash(b"x") == _h(b"\x00x")
    assert merkle.node_hash(b"a", b"b") == _h(b"\x01ab")
    assert merkle.root_of([]) == _h(b"")
    assert merkle.entry_leaf("ab" * 32) == _h(b"\x00" + bytes.fromhex("ab" * 32))


def test_roots_for_every_size():
    for n in range(1, MAX_SIZE + 1):
        assert merkle.root_of(LEAVES[:n]) == ref_mth(0, n), n


def test_inclusion_proofs_for_every_index_of_every_size():
    for n in range(1, MAX_SIZE + 1):
        root, subtree = ref_mth(0, n), tree(n)
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, subtree)
            assert proof == ref_path(m, 0, n), (m, n)
            assert merkle.verify_inclusion(m, n, LEAVES[m], proof, root), (m, n)


def test_consistency_proofs_for_every_pair_of_sizes():
    for n in range(1, MAX_SIZE + 1):
        second, subtree = ref_mth(0, n), tree(n)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, subtree)
            assert proof == (ref_subproof(m, 0, n, True) if m < n else []), (m, n)
            assert merkle.verify_consistency(m, n, ref_mth(0, m), second, proof), (m, n)


def test_chunked_tree_matches_the_reference_across_chunk_boundaries():
    chunk = 8
    for n in range(1, 80):
        chunked = merkle.ChunkedTree(
            n, chunk_root=lambda i: merkle.perfect_root(LEAVES[i * chunk:(i + 1) * chunk]),
            chunk_leaves=lambda i, n=n: LEAVES[i * chunk:min((i + 1) * chunk, n)], chunk=chunk)
        assert chunked.root() == ref_mth(0, n)
        for m in range(n):
            assert chunked.inclusion_proof(m) == ref_path(m, 0, n)
        for m in range(1, n):
            assert chunked.consistency_proof(m) == ref_subproof(m, 0, n, True)


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 100, 255, 256, 257, 300])
def test_tampered_inclusion_proofs_are_refused(n):
    root, subtree = ref_mth(0, n), tree(n)
    for m in range(n):
        proof = merkle.inclusion_proof(m, n, subtree)
        other = (m + 1) % n
        assert not merkle.verify_inclusion(m, n, _flip(LEAVES[m]), proof, root)
        assert not merkle.verify_inclusion(m, n, LEAVES[m], proof, _flip(root))
        if n < MAX_SIZE:  # the root binds the size: not a proof for the next tree
            assert not merkle.verify_inclusion(m, n + 1, LEAVES[m], proof, ref_mth(0, n + 1))
        assert not merkle.verify_inclusion(n, n, LEAVES[m], proof, root)  # index out of range
        assert not merkle.verify_inclusion(m, n, LEAVES[m], [*proof, LEAVES[0]], root)
        if other != m:
            assert not merkle.verify_inclusion(other, n, LEAVES[m], proof, root)
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = _flip(bad[i])
            assert not merkle.verify_inclusion(m, n, LEAVES[m], bad, root)
            assert not merkle.verify_inclusion(m, n, LEAVES[m], proof[:i], root)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 64, 100, 255, 256, 257, 300])
def test_tampered_consistency_proofs_are_refused(n):
    second, subtree = ref_mth(0, n), tree(n)
    for m in range(1, n):
        first = ref_mth(0, m)
        proof = merkle.consistency_proof(m, n, subtree)
        assert not merkle.verify_consistency(m, n, _flip(first), second, proof)
        assert not merkle.verify_consistency(m, n, first, _flip(second), proof)
        assert not merkle.verify_consistency(m, n, first, second, [])
        assert not merkle.verify_consistency(m, n, first, second, [*proof, LEAVES[0]])
        assert not merkle.verify_consistency(n, m, second, first, proof)
        if m + 1 < n:
            assert not merkle.verify_consistency(m + 1, n, first, second, proof)
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = _flip(bad[i])
            assert not merkle.verify_consistency(m, n, first, second, bad)
            assert not merkle.verify_consistency(m, n, first, second, proof[:i])


def test_equal_sizes_are_consistent_only_with_equal_roots_and_no_proof():
    root = ref_mth(0, 7)
    assert merkle.verify_consistency(7, 7, root, root, [])
    assert not merkle.verify_consistency(7, 7, root, _flip(root), [])
    assert not merkle.verify_consistency(7, 7, root, root, [root])
    assert not merkle.verify_consistency(0, 7, root, root, [])
