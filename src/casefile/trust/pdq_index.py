"""PDQ hashes near a query, without comparing the query with every hash (issue 12: a decision
must not scan a list of 100,000 hashes).

Multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming space with multi-index
hashing", 2012; what Meta's HMA does for PDQ): the 256 bits are cut into `chunks` pieces of equal
width. If two hashes differ in at most `d` bits, the pigeonhole principle says that some piece
differs in at most `d // chunks` bits. So each piece is indexed by its value; a query looks up,
for every piece, the values within that many bits of its own piece (every flip pattern), and only
the hashes found there are compared in full (XOR and a bit count). Nothing within `d` can be
missed, and nothing beyond it is returned: the answer is exactly the linear scan's.

The buckets are kept flat (for each piece, an array of offsets by piece value and an array of
hash positions sorted by piece value): 16 pieces of 16 bits over 50,000 hashes take about 7 MB,
where a dict of lists per piece would take ten times that. When a query would probe more buckets
than there are hashes (a large `d`, or a short list), the linear scan is cheaper and is used.

Pure: no Django, no I/O. Build once per list version; an index never changes.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import accumulate, combinations

BITS = 256
DEFAULT_CHUNKS = 16
_TYPECODE = {16: "H", 32: "B"}  # chunks → the array type of one piece
# Below this many hashes a scan costs about what the probes would: no index is built.
SCAN_BELOW = 2048


@cache
def _flips(width: int, radius: int) -> tuple[int, ...]:
    """Every mask of `width` bits with at most `radius` bits set, fewest bits first."""
    masks = [0]
    for ones in range(1, min(radius, width) + 1):
        for positions in combinations(range(width), ones):
            mask = 0
            for p in positions:
                mask |= 1 << p
            masks.append(mask)
    return tuple(masks)


def _probes(width: int, radius: int) -> int:
    return sum(math.comb(width, i) for i in range(min(radius, width) + 1))


class PdqIndex:
    """The hashes (256-bit ints) of one list, indexed for `any_within` and `within`."""

    def __init__(self, hashes: Iterable[int], chunks: int = DEFAULT_CHUNKS,
                 scan_below: int = SCAN_BELOW):
        if chunks not in _TYPECODE:
            raise ValueError("chunks: 16 (pieces of 16 bits) or 32 (pieces of 8 bits)")
        self.hashes: tuple[int, ...] = tuple(hashes)
        self.chunks = chunks
        self.width = BITS // chunks
        self._offsets: list[array] = []
        self._positions: list[array] = []
        if len(self.hashes) >= scan_below:
            self._build()

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def indexed(self) -> bool:
        return bool(self._offsets)

    def _build(self) -> None:
        # Per piece: the hash positions sorted by the piece's value (a stable sort, so list order
        # within a bucket), and offsets[v]..offsets[v + 1] the slice of them whose piece is v.
        width, n = self.width, len(self.hashes)
        # Every piece of every hash at once, read from the hashes' bytes (piece c of hash i is
        # pieces[i * chunks + c]): far cheaper than shifting 256-bit ints.
        pieces = array(_TYPECODE[self.chunks],
                       b"".join(h.to_bytes(BITS // 8, "little") for h in self.hashes))
        if sys.byteorder != "little":
            pieces.byteswap()
        for chunk in range(self.chunks):
            values = pieces[chunk::self.chunks]
            counts = [0] * (1 << width)
            for value, count in Counter(values).items():
                counts[value] = count
            self._offsets.append(array("I", accumulate(counts, initial=0)))
            self._positions.append(array("I", sorted(range(n), key=values.__getitem__)))

    def _scans(self, max_distance: int) -> bool:
        radius = max_distance // self.chunks
        return (not self._offsets
                or self.chunks * _probes(self.width, radius) >= len(self.hashes))

    def _candidates(self, query: int, max_distance: int) -> Iterator[int]:
        """Positions of hashes sharing some piece within `max_distance // chunks` bits of the
        query's (repeats possible)."""
        width = self.width
        mask = (1 << width) - 1
        flips = _flips(width, max_distance // self.chunks)
        for chunk in range(self.chunks):
            offsets, positions = self._offsets[chunk], self._positions[chunk]
            piece = (query >> (chunk * width)) & mask
            for flip in flips:
                value = piece ^ flip
                start, end = offsets[value], offsets[value + 1]
                if start != end:
                    yield from positions[start:end]

    def any_within(self, query: int, max_distance: int) -> bool:
        """Whether some hash differs from `query` in at most `max_distance` bits."""
        if max_distance < 0:
            return False
        hashes = self.hashes
        if self._scans(max_distance):
            return any((query ^ known).bit_count() <= max_distance for known in hashes)
        return any((query ^ hashes[p]).bit_count() <= max_distance
                   for p in self._candidates(query, max_distance))

    def within(self, query: int, max_distance: int) -> list[int]:
        """Every hash within `max_distance` bits of `query`, once each, in list order."""
        if max_distance < 0:
            return []
        hashes = self.hashes
        if self._scans(max_distance):
            return [h for h in hashes if (query ^ h).bit_count() <= max_distance]
        found = {p for p in self._candidates(query, max_distance)
                 if (query ^ hashes[p]).bit_count() <= max_distance}
        return [hashes[p] for p in sorted(found)]
