"""Console page latency (server time) on PostgreSQL with 100,000 cases, 1,000,000 events and
1,000,000 audit entries, beside a bare /api/v1/health request in the same run. Requests go
through Django's full stack in-process (middleware, session, view, template), signed in as an
admin (password and second factor) so every page shows all it can. The events are COPYed
around ingest, then given what ingest would have given them: their templates placed in issues
(events.issues) and their rollups (events.rollups). Aim: every page under 100 ms.

    python bench/console.py [--cases 100000] [--events 1000000] [--audit 1000000] [--repeat 20]
                            [--reuse]

`--reuse` measures the database an earlier run loaded (migrated to the latest first) instead of
loading again; its events end when that run loaded them, so reuse it the same day.
"""

import argparse
import os
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _setup import DEFAULT_URL, ROOT, fresh_database, latency  # noqa: E402

AIM_MS = 100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database an earlier run loaded")
    args = parser.parse_args()
    if args.reuse:
        _reopen("_console")
    else:
        fresh_database("_console")

    from django.test import Client

    from casefile.accounts.models import StaffSession, StaffUser
    from casefile.audit.models import AuditEntry
    from casefile.cases.models import Case
    from casefile.core.timeutil import now
    from casefile.events import selectors
    from casefile.events.models import Event
    from casefile.events.selectors import EventFilter

    t0 = time.perf_counter()
    if not args.reuse:
        _load(args)
    admin = StaffUser.objects.get(email="admin@bench.local")
    rich = Case.objects.get(title="Rich timeline").id
    tenant, user = "ten_bench", "usr_1"
    signed_in = Client()
    signed_in.force_login(admin)
    # An administrator proves a second factor after the password (accounts.factors): this
    # session has, as the verify page would have recorded it.
    StaffSession.objects.filter(session_key=signed_in.session.session_key).update(
        second_factor_at=now(), second_factor="totp")
    event = Event.objects.order_by("-occurred_at").values_list("id", flat=True).first()
    entry = AuditEntry.objects.order_by("-seq").values_list("id", flat=True)[5000]
    issue = selectors.top_issues(EventFilter(), limit=1)[0]["issue_id"]
    loaded = ("an earlier run's database" if args.reuse
              else f"loaded in {time.perf_counter() - t0:.0f} s")
    print(f"console on PostgreSQL: {Case.objects.count():,} cases, {_rows('event'):,} events, "
          f"{_rows('audit_entry'):,} audit entries ({loaded}); server time in-process, "
          f"{args.repeat} runs")

    pages = {
        "health (API baseline)": "/api/v1/health",
        "sign-in": "/login/",
        "cases: mine": "/cases/",
        "cases: unassigned": "/cases/?queue=unassigned",
        "cases: breaching soon": "/cases/?queue=breaching",
        "cases: breached": "/cases/?queue=breached",
        "cases: text search": "/cases/?q=counterfeit",
        "cases: kind + status": "/cases/?queue=search&kind=fraud&status=investigating",
        "case page (40-item timeline)": f"/cases/{rich}/",
        "events: last 24 h (chart, top)": "/events/",
        "events: errors, 7 days": "/events/?severity=error&last=7d",
        "events: last 7 days": "/events/?last=7d",
        "events: one service, 7 days": "/events/?service=openssh&last=7d",
        "events: one issue, 7 days": f"/events/?issue={issue}&last=7d",
        "events: text search": "/events/?q=timeout&last=24h",
        "event page": f"/events/{event}/",
        "issue page (top issue)": f"/events/issues/{issue}/",
        "tenants": "/platform/tenants/",
        "tenant page": f"/platform/tenants/{tenant}/",
        "user page": f"/platform/users/{user}/",
        "approvals inbox": "/platform/approvals/",
        "audit: newest": "/audit/",
        "audit: by action": "/audit/?action=CASE_NOTE_ADDED",
        "audit entry": f"/audit/{entry}/",
    }
    worst = 0.0
    anonymous = Client()
    for name, url in pages.items():
        p50, p95 = latency(anonymous if url == "/login/" else signed_in, url, args.repeat)
        if not url.startswith("/api/"):
            worst = max(worst, p95)
        print(f"  {name:<32} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    verdict = "within" if worst < AIM_MS else "OVER"
    print(f"  slowest page p95 {worst:.1f} ms: {verdict} the {AIM_MS} ms aim")


def _load(args: argparse.Namespace) -> None:
    import cases as cases_bench
    import search as search_bench
    from casefile.accounts import services as accounts
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.core.timeutil import now

    staff, _api, me = cases_bench._staff()
    cases_bench._load_cases(args.cases, staff, me)
    cases_bench._timelines([], staff)
    # Events over the last 20 days, so "the last 24 hours" (the explorer's default) is full.
    search_bench._load(0, args.events, start=now() - timedelta(days=20))
    templates, counted = _issues_and_rollups()
    print(f"  {templates:,} templates placed, {counted:,} events rolled up")
    _platform()
    cases_bench._fill_audit(args.audit)
    accounts.staff_user_create(actor=Actor.system("bench"), email="admin@bench.local",
                               roles=[Role.ADMIN])


def _reopen(name_suffix: str) -> None:
    """An earlier run's database, migrated to the latest."""
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL) + name_suffix
    os.environ.setdefault("CASEFILE_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casefile.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _rows(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a name from this file
        return cursor.fetchone()[0]


def _issues_and_rollups() -> tuple[int, int]:
    """What ingest does besides storing: each fingerprint's template placed in its issue (from
    its first event, as ingest would have met it) and the rollups."""
    from types import SimpleNamespace

    from django.db import connection

    from casefile.events.issues import templates_register
    from casefile.events.rollups import rollups_rebuild

    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT ON (fingerprint) fingerprint, occurred_at, message, "
                       "component, service, event_type FROM event "
                       "ORDER BY fingerprint, occurred_at")
        firsts = [SimpleNamespace(fingerprint=fp, occurred_at=at, message=message,
                                  component=component, service=service, event_type=event_type)
                  for fp, at, message, component, service, event_type in cursor.fetchall()]
    placed = sum(templates_register(firsts[i:i + 500]) for i in range(0, len(firsts), 500))
    counted = rollups_rebuild()
    with connection.cursor() as cursor:
        for table in ("event_rollup", "event_rollup_day", "event_rollup_total",
                      "event_template"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return placed, counted


def _platform() -> None:
    """A tenant with users, and a pending four-eyes request, through the real services."""
    from casefile.accounts import services as accounts
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.platform import services

    system = Actor.system("bench")
    tenant, _ = services.tenant_upsert(actor=system, tenant_id="ten_bench", name="Bench Corp",
                                       policy={"uploads": True}, limits={"seats": 50})
    for i in range(30):
        services.platform_user_upsert(actor=system, user_id=f"usr_{i}",
                                      email=f"user{i}@bench.corp", tenant_id=tenant.id)
    requester = accounts.staff_user_create(actor=system, email="support@bench.local",
                                           roles=[Role.SUPPORT])
    services.operation_request(
        actor=Actor.staff(requester), operation="tenant_credit_add",
        params={"tenant_id": tenant.id, "amount_cents": 10**7}, reason_code="CUSTOMER_REQUEST")


if __name__ == "__main__":
    main()
