"""trust/pdq_index.py: the multi-index must answer exactly what a linear scan answers."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casefile.trust.pdq_index import BITS, PdqIndex

hashes_st = st.integers(min_value=0, max_value=(1 << BITS) - 1)


def scan(hashes: list[int], query: int, d: int) -> list[int]:
    return [h for h in hashes if (query ^ h).bit_count() <= d]


def flipped(value: int, positions: list[int]) -> int:
    for p in positions:
        value ^= 1 << p
    return value


def spread(value: int, bits: int, chunks: int) -> int:
    """`value` with `bits` bits flipped, as evenly over the pieces as they go: the case the
    pigeonhole argument is tight for (every piece but some differs by more than d // chunks)."""
    width = BITS // chunks
    positions = [(i % chunks) * width + i // chunks for i in range(bits)]
    return flipped(value, positions)


@settings(max_examples=200, deadline=None)
@given(hashes=st.lists(hashes_st, max_size=60), d=st.integers(0, 64), data=st.data(),
       chunks=st.sampled_from([16, 32]))
def test_near_duplicates_at_d_and_d_plus_1_as_the_scan(hashes: list[int], d: int, data,
                                                       chunks: int) -> None:
    base = data.draw(hashes_st)
    hashes = [*hashes, base]
    index = PdqIndex(hashes, chunks=chunks, scan_below=0)  # indexed however short the list
    assert index.indexed
    for distance in (d, d + 1):
        positions = data.draw(st.lists(st.integers(0, BITS - 1), min_size=distance,
                                       max_size=distance, unique=True))
        for query in (flipped(base, positions), spread(base, distance, chunks)):
            assert (query ^ base).bit_count() == distance
            assert index.within(query, d) == scan(hashes, query, d)
            assert index.any_within(query, d) == bool(scan(hashes, query, d))
            assert index.any_within(query, d) == (distance == d or bool(scan(hashes, query, d)))


@settings(max_examples=200, deadline=None)
@given(hashes=st.lists(hashes_st, max_size=40), query=hashes_st, d=st.integers(-1, BITS))
def test_random_queries_as_the_scan(hashes: list[int], query: int, d: int) -> None:
    index = PdqIndex(hashes, scan_below=0)
    assert index.within(query, d) == scan(hashes, query, d)
    assert index.any_within(query, d) == bool(scan(hashes, query, d))


@pytest.fixture(scope="module")
def large() -> PdqIndex:
    rng = random.Random(5)
    return PdqIndex([rng.getrandbits(BITS) for _ in range(5000)])


@pytest.mark.parametrize("d", range(0, 65))
def test_every_distance_on_a_large_list(d: int, large: PdqIndex) -> None:
    rng = random.Random(d)
    hashes = list(large.hashes)
    index = large
    assert index.indexed
    for target in rng.sample(range(len(hashes)), 3):
        for distance in (d, d + 1):
            for query in (spread(hashes[target], distance, 16),
                          flipped(hashes[target], rng.sample(range(BITS), distance))):
                assert index.within(query, d) == scan(hashes, query, d)
                assert index.any_within(query, d) == bool(scan(hashes, query, d))
    assert index.within(hashes[0], 0) == scan(hashes, hashes[0], 0)


def test_duplicates_each_returned_as_the_scan_returns_them() -> None:
    hashes = [7, 1 << 200, 7, 3]
    index = PdqIndex(hashes, scan_below=0)
    assert index.within(7, 1) == [7, 7, 3] == scan(hashes, 7, 1)


def test_short_lists_are_scanned_not_indexed() -> None:
    index = PdqIndex([1, 2, 3])
    assert not index.indexed and len(index) == 3
    assert index.within(0, 1) == [1, 2]
    assert PdqIndex([]).any_within(0, BITS) is False


def test_chunks_must_be_16_or_32() -> None:
    with pytest.raises(ValueError):
        PdqIndex([], chunks=8)
