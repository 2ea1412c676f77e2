"""The console's screens through Django's test client: who sees what, that previews change
nothing, that applying writes exactly one audit entry, and the security headers."""

from __future__ import annotations

import pytest

from casefile.accounts.permissions import Perm, has_perm
from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.cases.models import Case
from casefile.platform import services as platform
from casefile.platform.models import Approval
from tests.cases.helpers import open_case
from tests.conftest import CLI, make_staff
from tests.conftest import CommittingClient as Client
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
STAFF_ROLES = [Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS, Role.ADMIN]


def signed_in(*roles: Role) -> tuple[Client, object]:
    user = make_staff(*roles, password=PASSWORD)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def world():
    """A case, an event, a tenant with a user: enough for every screen to have content."""
    ingest([{"message": "payment declined for order 77", "severity": "error",
             "service": "billing", "component": "checkout"}])
    from casefile.events.models import Event

    event = Event.objects.get()
    case = open_case(title="Chargeback ring", subject_user="usr_alpha")
    tenant, _ = platform.tenant_upsert(actor=CLI, tenant_id="ten_acme", name="Acme",
                                       policy={"uploads": True}, limits={"seats": 5},
                                       details={"vat": "DE123"})
    user, _ = platform.platform_user_upsert(actor=CLI, user_id="usr_alpha",
                                            email="alpha@acme.test", tenant_id="ten_acme")
    return {"case": case, "event": event, "tenant": tenant, "user": user}


def pages(world) -> dict[str, tuple[str, Perm]]:
    return {
        "queue": ("/cases/", Perm.CASES_VIEW),
        "search": ("/cases/?q=Chargeback", Perm.CASES_VIEW),
        "case": (f"/cases/{world['case'].id}/", Perm.CASES_VIEW),
        "new case": ("/cases/new/", Perm.CASES_EDIT),
        "explorer": ("/events/?severity=warning&last=7d", Perm.EVENTS_VIEW),
        "event": (f"/events/{world['event'].id}/", Perm.EVENTS_VIEW),
        "tenants": ("/platform/tenants/?q=acme", Perm.PLATFORM_VIEW),
        "tenant": ("/platform/tenants/ten_acme/", Perm.PLATFORM_VIEW),
        "user": ("/platform/users/usr_alpha/", Perm.PLATFORM_VIEW),
        "approvals": ("/platform/approvals/", Perm.PLATFORM_VIEW),
        "audit": ("/audit/", Perm.AUDIT_VIEW),
        "audit entry": (f"/audit/{AuditEntry.objects.order_by('seq').first().id}/",
                        Perm.AUDIT_VIEW),
    }


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_each_role_opens_exactly_the_pages_its_permissions_allow(world, role):
    client, _ = signed_in(role)
    for name, (url, perm) in pages(world).items():
        response = client.get(url)
        expected = 200 if has_perm({role}, perm) else 403
        assert response.status_code == expected, (name, role, response.status_code)
    navigation = client.get("/cases/").content.decode()
    assert ('href="/audit/"' in navigation) == has_perm({role}, Perm.AUDIT_VIEW)


def test_signed_out_visitors_are_sent_to_sign_in(world):
    response = Client().get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_sign_in_is_throttled_after_repeated_failures(settings, db):
    settings.LOGIN_FAILURE_LIMIT = 3
    make_staff(Role.ANALYST, email="slow@example.com", password=PASSWORD)
    client = Client()
    for _ in range(3):
        page = client.post("/login/", {"username": "slow@example.com", "password": "wrong"})
        assert "Wrong e-mail or password" in page.content.decode()
    refused = client.post("/login/", {"username": "slow@example.com", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session


def test_security_headers_on_console_pages(world):
    client, _ = signed_in(Role.ANALYST)
    response = client.get("/cases/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_forms_without_csrf_token_are_refused(world):
    user = make_staff(Role.ANALYST, password=PASSWORD)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(f"/cases/{world['case'].id}/status/",
                           {"status": "triage", "reason_code": "INVESTIGATION"})
    assert response.status_code == 403
    assert Case.objects.get(pk=world["case"].pk).status == "new"


def test_preview_shows_the_diff_and_changes_nothing(world):
    client, _ = signed_in(Role.ANALYST)
    case = world["case"]
    before = AuditEntry.objects.count()
    response = client.post(f"/cases/{case.id}/status/",
                           {"status": "triage", "reason_code": "INVESTIGATION", "preview": "1"},
                           headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "CASE_STATUS_CHANGED" in html and ">new<" in html and ">triage<" in html
    assert AuditEntry.objects.count() == before
    assert Case.objects.get(pk=case.pk).status == "new"


def test_applying_writes_one_entry_with_the_previewed_diff(world):
    client, _ = signed_in(Role.ANALYST)
    case = world["case"]
    before = AuditEntry.objects.count()
    response = client.post(f"/cases/{case.id}/status/",
                           {"status": "triage", "reason_code": "INVESTIGATION"})
    assert response.status_code == 302
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry.action == "CASE_STATUS_CHANGED"
    assert entry.details["diff"]["status"] == {"from": "new", "to": "triage"}


def test_a_refused_change_is_explained_not_applied(world):
    client, _ = signed_in(Role.ANALYST)
    case = world["case"]
    response = client.post(f"/cases/{case.id}/status/",
                           {"status": "resolved", "reason_code": "INVESTIGATION"}, follow=True)
    assert "a new case cannot move to resolved" in response.content.decode()
    assert Case.objects.get(pk=case.pk).status == "new"


def test_viewer_sees_the_case_but_no_forms_and_cannot_post(world):
    client, _ = signed_in(Role.VIEWER)
    case = world["case"]
    html = client.get(f"/cases/{case.id}/").content.decode()
    assert "Chargeback ring" in html and "Change status" not in html
    response = client.post(f"/cases/{case.id}/status/",
                           {"status": "triage", "reason_code": "INVESTIGATION"})
    assert response.status_code == 403


def test_platform_operation_preview_and_four_eyes(world, settings):
    settings.FOUR_EYES_CREDIT_CENTS = 1000
    support, _ = signed_in(Role.SUPPORT)
    form = {"tenant_id": "ten_acme", "amount_cents": "5000", "reason_code": "CUSTOMER_REQUEST"}
    preview = support.post("/platform/operations/tenant_credit_add/", {**form, "preview": "1"},
                           headers={"HX-Request": "true"}).content.decode()
    assert "BILLING_CREDIT_ADD" in preview and "5000" in preview and "approval" in preview
    support.post("/platform/operations/tenant_credit_add/", form)
    inbox = support.get("/platform/approvals/").content.decode()
    assert "tenant_credit_add" in inbox and "someone else must decide" in inbox
    admin, _ = signed_in(Role.ADMIN)
    approval = Approval.objects.get()
    admin.post(f"/platform/approvals/{approval.id}/", {"decision": "approve",
                                                       "reason_code": "COMPLIANCE_REVIEW"})
    world["tenant"].refresh_from_db()
    assert world["tenant"].credit_balance_cents == 5000


def test_tenant_details_are_an_audited_read(world):
    client, _ = signed_in(Role.SUPPORT)
    page = client.get("/platform/tenants/ten_acme/").content.decode()
    assert "DE123" not in page
    shown = client.post("/platform/tenants/ten_acme/", {"reason_code": "CUSTOMER_REQUEST"})
    assert "DE123" in shown.content.decode()
    assert AuditEntry.objects.filter(action="TENANT_VIEW_DETAILS").count() == 1


def test_event_export_is_audited_and_streams(world):
    client, _ = signed_in(Role.ANALYST)
    response = client.post("/events/export/", {"service": "billing", "format": "ndjson",
                                               "reason_code": "INVESTIGATION"})
    body = b"".join(response.streaming_content).decode()
    assert "payment declined" in body
    entry = AuditEntry.objects.filter(action="EXPORT_REQUESTED").get()
    assert entry.metadata["filter"] == {"service": ["billing"]}


def test_link_to_case_from_the_explorer_returns_there(world):
    client, _ = signed_in(Role.ANALYST)
    event, case = world["event"], world["case"]
    response = client.post(f"/events/{event.id}/link/", {
        "case_id": case.id, "reason_code": "INVESTIGATION", "next": "/events/?service=billing"})
    assert response.status_code == 302 and response["Location"] == "/events/?service=billing"
    assert case.event_links.filter(event_id=event.id).exists()


def test_error_pages(world):
    client, _ = signed_in(Role.VIEWER)
    missing = client.get("/cases/cas_nope/")
    assert missing.status_code == 404 and "no case cas_nope" in missing.content.decode()
    assert client.get("/no/such/page/").status_code == 404
    assert "Not allowed" in client.get("/audit/").content.decode()


def test_empty_states(db):
    client, _ = signed_in(Role.ADMIN)
    assert "No open cases are assigned to you" in client.get("/cases/").content.decode()
    assert "Nothing has been ingested yet" in client.get("/events/").content.decode()
    assert "The platform has not synced any tenant yet" in client.get(
        "/platform/tenants/").content.decode()


def test_api_docs_load_their_assets_from_here(db):
    html = Client().get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn." not in html


def test_upload_events_reports_stored_and_refused_lines(db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client, _ = signed_in(Role.OPS)
    body = (b'{"message": "disk full", "severity": "error"}\n{not json\n'
            b'{"message": "disk full again", "severity": "error"}\n')
    first = client.post("/events/ingest/", {
        "file": SimpleUploadedFile("batch.ndjson", body), "format": "ndjson"},
        headers={"HX-Request": "true"}).content.decode()
    assert "<strong>2</strong> stored" in first and "<strong>1</strong> refused" in first
    assert '<td class="num">2</td>' in first  # the bad line, by number
    again = client.post("/events/ingest/", {
        "file": SimpleUploadedFile("batch.ndjson", body), "format": "ndjson"},
        headers={"HX-Request": "true"}).content.decode()
    assert "<strong>0</strong> stored" in again and "<strong>2</strong> already present" in again


def test_only_ingesting_roles_may_upload(db):
    client, _ = signed_in(Role.ANALYST)
    assert client.get("/events/ingest/").status_code == 403
    assert "Upload events" not in client.get("/events/").content.decode()


def test_bulk_change_reports_each_case_it_could_not_change(world):
    client, _ = signed_in(Role.ANALYST)
    fresh = open_case(title="Second")
    closed = open_case(title="Done")
    client.post(f"/cases/{closed.id}/actions/", {"action": "close", "reason_code": "OPERATIONS"})
    page = client.post("/cases/bulk/", {
        "case_ids": [world["case"].id, fresh.id, closed.id], "operation": "status",
        "value": "triage", "reason_code": "INVESTIGATION"}, follow=True).content.decode()
    assert "status: 2 of 3 cases changed" in page
    assert f"{closed.id}: a closed case cannot move to triage" in page
    assert set(Case.objects.filter(status="triage").values_list("id", flat=True)) == {
        world["case"].id, fresh.id}


def test_impersonation_through_the_console_is_approved_marked_and_ended(world):
    requester, me = signed_in(Role.ADMIN)
    approver, _ = signed_in(Role.ADMIN)
    form = {"user_id": "usr_alpha", "minutes": "15", "reason_code": "SECURITY_INCIDENT"}
    refused = requester.post("/platform/operations/impersonation_start/", form, follow=True)
    assert "a ticket reference is required" in refused.content.decode()
    requester.post("/platform/operations/impersonation_start/", {**form, "ticket_ref": "INC-7"})
    approval = Approval.objects.get(operation="impersonation_start")
    approver.post(f"/platform/approvals/{approval.id}/", {"decision": "approve",
                                                       "reason_code": "COMPLIANCE_REVIEW"})

    page = requester.get("/platform/users/usr_alpha/").content.decode()
    assert "You are impersonating this user" in page
    requester.post(f"/cases/{world['case'].id}/notes/",
                   {"content": "checked as the user", "reason_code": "SECURITY_INCIDENT"})
    note = AuditEntry.objects.get(action="CASE_NOTE_ADDED")
    session_id = note.metadata["impersonation_id"]
    requester.post(f"/platform/impersonations/{session_id}/end/",
                   {"reason_code": "SECURITY_INCIDENT"})
    assert "You are impersonating" not in requester.get(
        "/platform/users/usr_alpha/").content.decode()
    assert AuditEntry.objects.filter(action="IMPERSONATION_END").count() == 1


def test_authors_edit_their_notes_and_the_old_text_is_kept(world):
    client, me = signed_in(Role.ANALYST)
    case = world["case"]
    client.post(f"/cases/{case.id}/notes/", {"content": "frist", "reason_code": "OPERATIONS"})
    note = case.notes.get()
    page = client.get(f"/cases/{case.id}/").content.decode()
    assert f"/cases/{case.id}/notes/{note.pk}/" in page  # the author gets the edit form
    preview = client.post(f"/cases/{case.id}/notes/{note.pk}/", {
        "content": "first", "reason_code": "OPERATIONS", "preview": "1"},
        headers={"HX-Request": "true"}).content.decode()
    assert "CASE_NOTE_EDITED" in preview and "frist" in preview and "first" in preview
    client.post(f"/cases/{case.id}/notes/{note.pk}/",
                {"content": "first", "reason_code": "OPERATIONS"})
    page = client.get(f"/cases/{case.id}/").content.decode()
    assert "edited, 1 earlier version kept" in page
    other, _ = signed_in(Role.ANALYST)
    edit_url = f"/cases/{case.id}/notes/{note.pk}/"
    assert edit_url not in other.get(f"/cases/{case.id}/").content.decode()
    refused = other.post(edit_url, {"content": "mine now", "reason_code": "OPERATIONS"})
    assert refused.status_code == 403
    assert "only a note&#x27;s author may edit it" in refused.content.decode()


def test_search_sorts_most_urgent_first_across_pages(world):
    client, _ = signed_in(Role.ANALYST)
    for priority in (5, 1, 3, 1, 2):
        open_case(title=f"sortable P{priority}", priority=priority)
    from casefile.cases import views

    original, views.PAGE = views.PAGE, 2
    try:
        seen, url = [], "/cases/?queue=search&q=sortable&sort=urgent"
        while url:
            response = client.get(url)
            seen += [c.priority for c in response.context["rows"]]
            cursor = response.context["next_cursor"]
            url = f"/cases/?queue=search&q=sortable&sort=urgent&cursor={cursor}" if cursor else ""
    finally:
        views.PAGE = original
    assert seen == [1, 1, 2, 3, 5]


@pytest.mark.parametrize(("path", "form"), [
    ("/cases/new/", {"kind": "report", "title": "t", "priority": "abc",
                     "reason_code": "OPERATIONS"}),
    ("/cases/{case}/update/", {"priority": "abc", "reason_code": "OPERATIONS"}),
    ("/cases/{case}/actions/", {"action": "refund", "amount_cents": "lots", "currency": "EUR",
                                "reason_code": "OPERATIONS"}),
    ("/cases/{case}/notes/", {"content": "x" * 70_000, "reason_code": "OPERATIONS"}),
    ("/cases/bulk/", {"case_ids": ["not-a-case"], "operation": "tag", "value": "x",
                      "reason_code": "OPERATIONS"}),
    ("/platform/operations/tenant_credit_add/", {"tenant_id": "ten_acme",
                                                "amount_cents": "12abc",
                                                "reason_code": "OPERATIONS"}),
])
def test_bad_numbers_and_lengths_in_forms_are_messages_not_500s(path, form):
    client = Client()
    client.force_login(make_staff(Role.ADMIN))
    case = open_case()
    before = AuditEntry.objects.count()
    response = client.post(path.format(case=case.id), form, follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"]), path
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("query", ["priority=abc", "kind=nonsense", "hours=abc&queue=breaching",
                                   "cursor=WzEsMl0&queue=search"])
def test_bad_filters_are_a_400_page(query):
    client = Client()
    client.force_login(make_staff(Role.ADMIN))
    response = client.get(f"/cases/?{query}")
    assert response.status_code in (400, 422), response.status_code


def test_a_refund_waiting_for_approval_shows_so_on_the_case(settings):
    settings.FOUR_EYES_REFUND_CENTS = 100
    platform.platform_user_upsert(actor=CLI, user_id="usr_payer", email="p@shop.test")
    case = open_case(subject_user="usr_payer", order_id="ord_7")
    client = Client()
    client.force_login(make_staff(Role.SUPPORT))
    response = client.post(f"/cases/{case.id}/actions/", {
        "action": "refund", "amount_cents": "5000", "currency": "EUR",
        "reason_code": "CUSTOMER_REQUEST"}, follow=True)
    approval = Approval.objects.get(operation="order_refund")
    assert any("waits for a second member of staff" in str(m)
               for m in response.context["messages"])
    page = client.get(f"/cases/{case.id}/").content.decode()
    assert "awaiting approval" in page and approval.id in page
