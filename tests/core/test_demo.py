"""`casefile demo`: a realistic data set through the real services, loaded once however often
it runs, with a ledger that verifies against its write-once copy."""

import io
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

from casefile.accounts.models import StaffUser
from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry, AuditSegment
from casefile.audit.verify import audit_verify
from casefile.cases.models import Case, CaseEvent, CaseNote, CaseTag
from casefile.cases.policy import Status
from casefile.cases.selectors import queue
from casefile.core import demo
from casefile.events.models import Event
from casefile.platform.models import Approval, OutboxCommand, PlatformUser, Tenant
from tests.accounts.helpers import prove_second_factor
from tests.conftest import CommittingClient as Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (
        Event, Tenant, PlatformUser, StaffUser, Case, CaseNote, CaseTag, CaseEvent, Approval,
        OutboxCommand, AuditEntry)}


def _run(capsys, monkeypatch, *args: str) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    call_command("demo", *args)
    return capsys.readouterr().out


def test_demo_loads_once_and_a_second_run_changes_nothing(capsys, monkeypatch):
    first = _run(capsys, monkeypatch, "--password-stdin")
    loaded = _counts()
    assert "demo data loaded" in first and demo.SIGN_IN.email in first
    assert PASSWORD not in first  # given on stdin: never echoed

    second = _run(capsys, monkeypatch)
    assert "nothing changed" in second
    assert _counts() == loaded
    assert AuditSegment.objects.order_by("-last_seq").first().last_seq == loaded["AuditEntry"]

    # Three days of events from several services, ingested with their own stable ids.
    assert loaded["Event"] > 2000
    assert set(Event.objects.values_list("service", flat=True)) >= {
        "api", "billing", "auth", "search", "worker"}
    assert set(Event.objects.values_list("source", flat=True)) == {demo.SOURCE}
    assert loaded["Tenant"] == len(demo.TENANTS)
    assert loaded["PlatformUser"] == len(demo.PLATFORM_USERS)

    # Staff in every role; the sign-in user can open the console with the given password.
    roles = {role for user in StaffUser.objects.all() for role in user.roles}
    assert {Role.ANALYST, Role.SUPPORT, Role.OPS, Role.ADMIN} <= roles
    client = Client()
    assert client.login(username=demo.SIGN_IN.email, password=PASSWORD)
    # An administrator: the console asks for a second factor first (accounts.factors).
    assert client.get("/cases/")["Location"].startswith("/account/factors/")
    prove_second_factor(client)
    assert client.get("/cases/").status_code == 200

    # Cases in every status, with notes, tags and event links; one breached, one breaching
    # soon, one with its SLA paused while it waits for the user.
    assert set(Case.objects.values_list("status", flat=True)) == set(Status.values)
    assert loaded["CaseNote"] and loaded["CaseTag"] and loaded["CaseEvent"]
    me = StaffUser.objects.get(email=demo.SIGN_IN.email)
    assert queue("breached", user=me).filter(sla_breached_at__isnull=False).exists()
    assert queue("breaching", user=me).exists()
    waiting = Case.objects.get(status=Status.AWAITING_USER)
    assert waiting.sla_paused_at is not None

    # Operations: a four-eyes credit approved by a second person, and one still pending,
    # requested by support, for someone else to decide.
    credits = Approval.objects.filter(operation="tenant_credit_add")
    assert credits.filter(status="approved").exclude(decided_by=None).exists()
    pending = credits.get(status="pending")
    assert pending.params["amount_cents"] > settings.FOUR_EYES_CREDIT_CENTS
    assert pending.requested_by.roles == {Role.SUPPORT}
    assert OutboxCommand.objects.filter(type="tenant.credit.add").exists()

    # Staff actions carry their person's reason; Casefile's own, the registry's.
    staff_entries = AuditEntry.objects.exclude(actor_role="system")
    assert staff_entries.exists() and not staff_entries.filter(reason_code="").exists()
    report = audit_verify(worm=True)
    assert report.ok and report.entries == loaded["AuditEntry"]


def test_a_random_password_is_printed_once(capsys, monkeypatch):
    first = _run(capsys, monkeypatch)
    line = next(x for x in first.splitlines() if x.startswith("password: "))
    password = line.split()[1]
    assert len(password) >= 16
    assert StaffUser.objects.get(email=demo.SIGN_IN.email).check_password(password)
    assert password not in _run(capsys, monkeypatch)


def test_the_events_are_the_same_on_every_run_and_each_case_finds_its_links():
    from datetime import UTC, datetime

    anchor = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    events = demo.generate_events(anchor)
    again = demo.generate_events(anchor)
    assert events == again
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["timestamp"] <= anchor.isoformat() for e in events)
    for spec in demo.CASES:
        if spec.links:
            assert len(demo._event_ids(events, *spec.links)) == spec.links[1]
