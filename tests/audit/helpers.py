from django.db import transaction

from casefile.accounts.models import StaffUser
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.core import ids


def person(*roles: Role, email: str = "ops@example.com") -> Actor:
    """A member of staff as the ledger sees one: the snapshot of who acts, without an account
    row. Tests of the chain start from an empty ledger, and creating an account writes an
    entry; people give their own reason codes, as staff do."""
    user = StaffUser(id=ids.new_stf_id(), email=email)
    user._roles_cache = frozenset(roles or {Role.OPS})
    return Actor(user=user)


ACTOR = person()


def record_entries(count: int, *, actor: Actor = ACTOR):
    """`count` entries, chained (in a test the transaction never commits, so the sequencer
    that runs on commit in production is called here)."""
    entries = []
    for i in range(count):
        with transaction.atomic():
            entries.append(ledger.record(
                actor=actor, action="LIMIT_OVERRIDE", resource=f"tenant:ten_{i % 7}",
                reason_code="CUSTOMER_REQUEST", target_tenant_id=f"ten_{i % 7}",
                before={"limits": {"seats": i}}, after={"limits": {"seats": i + 1}},
            ))
    ledger.chain_pending()
    for entry in entries:
        entry.refresh_from_db()
    return entries
