"""Case queues, search and timeline latency on PostgreSQL: 100,000 cases, 1,000,000 audit
entries, beside a bare /api/v1/health request in the same run (API in-process: server time).

    python bench/cases.py [--cases 100000] [--audit 1000000] [--repeat 30]
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _setup import fresh_database, latency  # noqa: E402

WORDS = ("refund chargeback harassment spam phishing copyright counterfeit fake review "
         "listing payment dispute account takeover scam impersonation abuse").split()
KINDS = ["report", "dmca", "dispute", "appeal", "fraud", "incident"]
STATUSES = ["new"] * 2 + ["triage"] * 2 + ["investigating"] * 3 + ["awaiting_user"] + \
           ["resolved"] * 4 + ["closed"] * 8


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    fresh_database("_cases")
    t0 = time.perf_counter()
    staff, client, me = _staff()
    case_ids = _load_cases(args.cases, staff, me)
    rich = _timelines(case_ids[:200], staff)
    _fill_audit(args.audit)
    print(f"cases on PostgreSQL: {args.cases:,} cases, {args.audit:,} audit entries "
          f"(loaded in {time.perf_counter() - t0:.0f} s); API in-process, {args.repeat} runs")
    queries = {
        "health (baseline)": "/api/v1/health",
        "queue: mine": "/api/v1/cases/queues/mine",
        "queue: unassigned": "/api/v1/cases/queues/unassigned",
        "queue: breaching in 4 h": "/api/v1/cases/queues/breaching?hours=4",
        "queue: breached": "/api/v1/cases/queues/breached",
        "search: newest": "/api/v1/cases",
        "search: kind + status": "/api/v1/cases?kind=fraud&status=investigating",
        "search: assignee": f"/api/v1/cases?assignee={staff[3].id}",
        "search: tag": "/api/v1/cases?tag=vip",
        "search: text": "/api/v1/cases?q=counterfeit",
        "search: subject user": "/api/v1/cases?subject_user=usr_4242",
        "timeline (40 items)": f"/api/v1/cases/{rich}/timeline",
    }
    for name, url in queries.items():
        p50, p95 = latency(client, url, args.repeat)
        print(f"  {name:<26} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


def _staff():
    from django.test import Client

    from casefile.accounts import services
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor

    system = Actor.system("bench")
    staff = [services.staff_user_create(actor=system, email=f"agent{i}@bench.local",
                                        roles=[Role.ANALYST])
             for i in range(50)]
    _, token = services.api_token_create(actor=system, owner=staff[0])
    return staff, Client(headers={"Authorization": f"Bearer {token}"}), staff[0]


def _load_cases(count: int, staff, me) -> list[str]:
    from django.db import connection

    from casefile.cases.models import Case, CaseTag, Tag
    from casefile.cases.policy import sla_allowance
    from casefile.core.ids import new_id
    from casefile.core.timeutil import now

    rng = random.Random(5)
    moment = now()
    rows, ids = [], []
    for i in range(count):
        kind, priority = rng.choice(KINDS), rng.randint(1, 5)
        created = moment - timedelta(minutes=rng.randint(0, 90 * 24 * 60))
        status = rng.choice(STATUSES)
        assignee = None if rng.random() < 0.3 else rng.choice(staff)
        if i % 50 == 0:
            assignee = me
        case_id = new_id("cas")
        ids.append(case_id)
        rows.append(Case(
            id=case_id, kind=kind, status=status, priority=priority,
            title=f"{rng.choice(WORDS)} {rng.choice(WORDS)} on listing {rng.randint(1, 10**6)}",
            summary=" ".join(rng.choice(WORDS) for _ in range(8)),
            opened_by="system", assigned_to=assignee, subject_user=f"usr_{rng.randint(1, 20000)}",
            created_at=created, updated_at=created,
            sla_due_at=created + sla_allowance(kind, priority),
            closed_at=created if status == "closed" else None))
    Case.objects.bulk_create(rows, batch_size=5000)
    vip = Tag.objects.create(name="vip")
    CaseTag.objects.bulk_create([CaseTag(case_id=c, tag=vip, created_at=moment)
                                 for c in ids[::100]], batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE case_file")
    return ids


def _timelines(case_ids: list[str], staff) -> str:
    """Give some cases a realistic history through the real services; return one of them."""
    from casefile.audit.actor import Actor
    from casefile.cases import services
    from casefile.cases.models import Case

    actor = Actor.staff(staff[1])
    case = services.case_create(actor=actor, kind="fraud", title="Rich timeline",
                                reason_code="FRAUD_SIGNAL")
    for status in ["triage", "investigating", "awaiting_user", "investigating"]:
        services.case_transition(actor=actor, case=case, to=status, reason_code="INVESTIGATION")
    for i in range(30):
        services.case_note_add(actor=actor, case=case, content=f"note {i}",
                               reason_code="INVESTIGATION")
    for i in range(6):
        services.case_action_take(actor=actor, case=Case.objects.get(pk=case.pk), action="note",
                                  payload={"message": f"m{i}"}, reason_code="INVESTIGATION")
    return case.id


def _fill_audit(total: int) -> None:
    import audit as audit_bench

    audit_bench._fill_ledger(total)


if __name__ == "__main__":
    main()
