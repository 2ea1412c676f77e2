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


# --- through the decision path (database) ---------------------------------------------------


def _flip_hex(value: str, bits: int) -> str:
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


@pytest.fixture
def large_pdq_list(db):
    """A published rule over a PDQ list long enough to be indexed, and an exact list."""
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.trust import moderation
    from tests.conftest import make_staff

    moderation.clear_caches()
    ops = Actor.staff(make_staff(Role.OPS))
    rng = random.Random(11)
    pdq = moderation.hash_list_create(actor=ops, name="big_pdq", kind="pdq",
                                      reason_code="POLICY_VIOLATION")
    moderation.hash_list_add(actor=ops, hash_list=pdq, reason_code="POLICY_VIOLATION",
                             values=[f"{rng.getrandbits(BITS):064x}" for _ in range(3000)])
    sha = moderation.hash_list_create(actor=ops, name="bad_files", kind="sha256",
                                      reason_code="POLICY_VIOLATION")
    moderation.hash_list_add(actor=ops, hash_list=sha, values=["a" * 64],
                             reason_code="POLICY_VIOLATION")
    rules = {"rules": [
        {"id": "near", "description": "near a listed image",
         "condition": {"pdq_list": "big_pdq", "max_distance": 31},
         "outcome": {"decision": "remove", "reason": "listed image"}},
        {"id": "file", "description": "a listed file", "condition": {"sha256_list": "bad_files"},
         "outcome": {"decision": "block", "reason": "listed file"}}]}
    draft = moderation.rule_set_draft_save(actor=ops, rules_json=rules,
                                           reason_code="POLICY_VIOLATION")
    moderation.rule_set_publish(actor=ops, version=draft.version, reason_code="POLICY_VIOLATION")
    yield ops, pdq, sha
    moderation.clear_caches()


def _decide(**fields) -> str:
    from casefile.audit.actor import Actor
    from casefile.trust import moderation
    from tests.trust.helpers import platform_user

    row = moderation.moderation_decide(actor=Actor.system("platform"), item_data={
        "kind": "media", "item_id": f"med_{random.getrandbits(40)}",
        "subject_user_id": platform_user(), **fields})
    return row.final_decision


def test_a_hash_added_to_an_indexed_list_is_matched_by_the_next_decision(large_pdq_list):
    from casefile.trust import moderation

    ops, pdq, sha = large_pdq_list
    new = f"{random.Random(3).getrandbits(BITS):064x}"
    assert _decide(pdq=_flip_hex(new, 31)) == "allow"  # the index is built here, and cached
    assert any(index.indexed for index in moderation._pdq.values())
    moderation.hash_list_add(actor=ops, hash_list=pdq, values=[new],
                             reason_code="POLICY_VIOLATION")
    assert _decide(pdq=_flip_hex(new, 31)) == "remove"
    assert _decide(pdq=_flip_hex(new, 32)) == "allow"
    moderation.hash_list_remove(actor=ops, hash_list=pdq, value=new,
                                reason_code="POLICY_VIOLATION")
    assert _decide(pdq=_flip_hex(new, 31)) == "allow"
    # Exact lists are looked up by every decision.
    assert _decide(sha256="b" * 64) == "allow"
    moderation.hash_list_add(actor=ops, hash_list=sha, values=["b" * 64],
                             reason_code="POLICY_VIOLATION")
    assert _decide(sha256="b" * 64) == "block"
    assert _decide(sha256="a" * 64, md5="c" * 32) == "block"


def test_profile_fields_read_as_the_selector_reads_them(db):
    from unittest import mock

    from casefile.core import timeutil
    from casefile.trust import moderation, selectors
    from tests.trust.helpers import platform_user, profile

    with_profile = profile(idv_status="passed", is_18plus_attested=True).user_id
    without = platform_user()
    moment = timeutil.now()
    for user_id in (with_profile, without):
        with mock.patch("casefile.trust.moderation.now", return_value=moment), \
                mock.patch("casefile.trust.selectors.now", return_value=moment):
            expected = {name: getattr(selectors.profile_read(user_id), name)
                        for name in moderation.PROFILE_FIELDS}
            assert moderation._profile_fields(user_id) == expected
    assert moderation._profile_fields(with_profile)["created_at"].tzinfo is not None
    with pytest.raises(moderation.NotFound):
        moderation._profile_fields("usr_nobody")
