"""The ledger's Merkle tree, exactly as RFC 9162 (Certificate Transparency 2.0) section 2.1.

Leaves are the entries in seq order: leaf index = seq - 1, and the leaf *data* is the 32 raw
bytes of the entry's hex `hash` (its RFC 8785 SHA-256). So

    leaf hash  = SHA-256(0x00 || bytes.fromhex(entry.hash))
    node hash  = SHA-256(0x01 || left || right)

and MTH, inclusion proofs (PATH) and consistency proofs (PROOF) follow sections 2.1.1, 2.1.3.1
and 2.1.4.1 literally. Proof *generation* is written over a `subtree(start, end)` function giving
MTH(D[start:end]), so the same code serves an in-memory list of leaves, the verifier's running
tree and the database-backed tree (`ChunkedTree`): the ranges the RFC's recursion asks for are
always a perfect subtree or split into one, so a store of perfect-subtree roots answers them
without reading every leaf. Verification (2.1.3.2, 2.1.4.2) needs nothing but the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Subtree = Callable[[int, int], bytes]  # (start, end) -> MTH(D[start:end])

EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH() (2.1.1)


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def entry_leaf(entry_hash_hex: str) -> bytes:
    """The leaf hash of an entry: its hash's 32 raw bytes, hashed as a leaf."""
    return leaf_hash(bytes.fromhex(entry_hash_hex))


def split_point(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), as in 2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of 2^j consecutive leaf (or subtree) hashes: pairs hashed level by level."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes (2.1.1), without recursion."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return list_subtree(leaf_hashes)(0, len(leaf_hashes))


def list_subtree(leaf_hashes: Sequence[bytes]) -> Subtree:
    """`subtree(start, end)` over leaf hashes held in memory (memoised per range)."""
    memo: dict[tuple[int, int], bytes] = {}

    def subtree(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaf_hashes[start]
        found = memo.get((start, end))
        if found is None:
            k = split_point(end - start)
            found = memo[start, end] = node_hash(subtree(start, start + k),
                                                 subtree(start + k, end))
        return found

    return subtree


# --- Generation --------------------------------------------------------------------------------

def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(m, D[n]) of 2.1.3.1, for 0 <= m < n."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")

    def path(m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:  # PATH(0, {d(0)}) = {}
            return []
        k = split_point(n)
        if m < k:  # PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
            return [*path(m, start, start + k), subtree(start + k, end)]
        # PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
        return [*path(m - k, start + k, end), subtree(start, start + k)]

    return path(index, 0, size)


def consistency_proof(first: int, second: int, subtree: Subtree) -> list[bytes]:
    """PROOF(m, D[n]) of 2.1.4.1, for 0 < m <= n (empty when m == n)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to {second}")

    def subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
        n = end - start
        if m == n:  # SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
            return [] if b else [subtree(start, end)]
        k = split_point(n)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            return [*subproof(m, start, start + k, b), subtree(start + k, end)]
        # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
        return [*subproof(m - k, start + k, end, False), subtree(start, start + k)]

    return subproof(first, 0, second, True)


# --- Verification ------------------------------------------------------------------------------

def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """2.1.3.2 steps 1-4: the root the proof leads to, or None where the RFC says fail."""
    if index >= size or index < 0:  # step 1
        return None
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in proof:  # step 4
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None  # step 5, first half


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 2.1.3.2: `leaf` (a leaf *hash*) is entry `index` of the tree of `size`, `root`."""
    return root_from_inclusion(index, size, leaf, proof) == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: the tree (`second`, `second_root`) extends (`first`, `first_root`).

    The RFC states the algorithm for 0 < first < second; equal sizes are consistent exactly when
    the roots are equal and the proof is empty (PROOF(n, D[n]) = {})."""
    if first <= 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if not path:  # step 1
        return False
    if first & (first - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0  # step 7


# --- A tree kept as perfect-subtree roots of CHUNK leaves ----------------------------------------

CHUNK_LEVEL = 8
CHUNK = 1 << CHUNK_LEVEL  # leaves per stored subtree root


class ChunkedTree:
    """MTH of any range of a tree whose complete chunks (aligned runs of `chunk` leaves) are
    known by their roots, and whose leaves are read a chunk at a time only where a range cuts
    through a chunk. A root costs about size/chunk node hashes; a proof the same plus at most
    two chunks' leaves.

    `chunk_root(i)` gives the root of chunk i (complete chunks only); `chunk_leaves(i)` the leaf
    hashes of chunk i (possibly incomplete: the tail)."""

    def __init__(self, size: int, chunk_root: Callable[[int], bytes],
                 chunk_leaves: Callable[[int], Sequence[bytes]], chunk: int = CHUNK,
                 memo: dict[tuple[int, int], bytes] | None = None):
        self.size = size
        self.chunk = chunk
        self._chunk_root = chunk_root
        self._chunk_leaves = chunk_leaves
        self._leaves: dict[int, Sequence[bytes]] = {}
        # Any range of an append-only tree is immutable once complete, so a caller that grows
        # the tree (verify's walk) may share one memo between the trees of successive sizes.
        self._memo = {} if memo is None else memo

    def leaf(self, index: int) -> bytes:
        c = index // self.chunk
        leaves = self._leaves.get(c)
        if leaves is None:
            leaves = self._leaves[c] = self._chunk_leaves(c)
        return leaves[index - c * self.chunk]

    def subtree(self, start: int, end: int) -> bytes:
        if not 0 <= start < end <= self.size:
            raise ValueError(f"range {start}..{end} is outside a tree of size {self.size}")
        n = end - start
        if n == 1:
            return self.leaf(start)
        # The RFC's splits of an aligned range reach every whole chunk exactly: its root is known.
        if n == self.chunk and start % self.chunk == 0:
            return self._chunk_root(start // self.chunk)
        found = self._memo.get((start, end))
        if found is None:
            k = split_point(n)
            found = self._memo[start, end] = node_hash(self.subtree(start, start + k),
                                                       self.subtree(start + k, end))
        return found

    def root(self) -> bytes:
        return self.subtree(0, self.size) if self.size else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        return inclusion_proof(index, self.size, self.subtree)

    def consistency_proof(self, first: int) -> list[bytes]:
        return consistency_proof(first, self.size, self.subtree)
