"""The one-round-trip append on PostgreSQL hashes exactly what `entry_hash` hashes."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casefile.audit.ledger import GENESIS_HASH, document, entry_hash, hash_parts, normalise
from casefile.audit.models import AuditEntry
from casefile.audit.verify import audit_verify
from casefile.core.timeutil import now
from tests.audit.helpers import record_entries

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
maybe_text = st.none() | st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(details=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
       metadata=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
       user_agent=st.text(max_size=40), email=maybe_text, ticket=maybe_text,
       seq=st.integers(1, 2**53 - 1), prev=st.sampled_from([GENESIS_HASH, "ab" * 32]))
def test_the_pieces_join_into_the_canonical_form(details, metadata, user_agent, email, ticket,
                                                 seq, prev):
    fields = {"id": "aud_01TEST", "created_at": now(), "actor_user_id": None,
              "actor_email": email, "actor_role": "ops", "ip_address": "203.0.113.9",
              "user_agent": user_agent, "action": "LIMIT_OVERRIDE", "risk": "MEDIUM",
              "resource": "tenant:ten_1", "target_tenant_id": "ten_1", "target_user_id": None,
              "reason_code": "OPERATIONS", "ticket_ref": ticket,
              "details": normalise(details), "metadata": normalise(metadata)}
    a, b, c = hash_parts(fields)
    joined = hashlib.sha256(a + prev.encode() + b + str(seq).encode() + c).hexdigest()
    assert joined == entry_hash(document({**fields, "seq": seq, "prev_hash": prev}))


@pytest.mark.django_db
def test_appended_entries_are_chained_and_verify():
    entries = record_entries(5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    stored = list(AuditEntry.objects.order_by("seq"))
    assert [e.hash for e in stored] == [e.hash for e in entries]
    assert stored[0].prev_hash == GENESIS_HASH and stored[1].prev_hash == stored[0].hash
    assert audit_verify().ok
