from django.db import transaction

from casefile.audit import ledger
from casefile.audit.actor import Actor

ACTOR = Actor.system("tests")


def record_entries(count: int, *, actor: Actor = ACTOR):
    entries = []
    for i in range(count):
        with transaction.atomic():
            entries.append(ledger.record(
                actor=actor, action="LIMIT_OVERRIDE", resource=f"tenant:ten_{i % 7}",
                reason_code="CUSTOMER_REQUEST", target_tenant_id=f"ten_{i % 7}",
                before={"limits": {"seats": i}}, after={"limits": {"seats": i + 1}},
            ))
    return entries
