import pytest
from django.db.models import Max

from casefile.accounts import services
from casefile.accounts.permissions import Perm, roles_for
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.api import api
from tests.api_cases import (
    DOCUMENT_ENDPOINTS,
    EVIDENCE_ENDPOINTS,
    HOLD_ENDPOINTS,
    MODERATION_ENDPOINTS,
    SIGNING_ENDPOINTS,
    TRUST_ENDPOINTS,
    Endpoint,
)
from tests.conftest import ApiClient, make_staff, token_for

CLI = Actor.system("tests")


def own_token(user):
    token, _ = services.api_token_create(actor=CLI, owner=user, name="to revoke")
    return {"token_id": token.id}


def _report_case(user=None) -> dict[str, str]:
    """A report case, filed by the platform about a user with a trust profile."""
    import uuid

    from casefile.trust import reports
    from tests.trust.helpers import profile

    filing = reports.report_file(
        actor=Actor.staff(make_staff(Role.PLATFORM)), platform_report_id=f"pr-{uuid.uuid4()}",
        accused_user_id=profile().user_id, category="spam", accuser_user_id="usr_accuser",
        text="sends the same link to everyone")
    return {"case_id": filing.case.id}


def _report_body(params: dict[str, str]) -> dict:
    import uuid

    return {"platform_report_id": f"pr-{uuid.uuid4()}", "accused_user_id": params["user_id"],
            "accuser_user_id": "usr_accuser", "category": "harassment", "text": "threatened me",
            "linked_items": [{"kind": "message", "id": "msg_1"}],
            "reason_code": "CUSTOMER_REQUEST"}  # staff on a user's behalf; the platform: none


def _accused(user=None) -> dict[str, str]:
    from tests.trust.helpers import profile

    return {"user_id": profile().user_id}


# Safety reports (trust.reports_api). Filing opens a case in the filer's name (the platform's
# too: the entries record the system reason SAFETY_REPORT); resolving a new case with a
# warning walks it new → triage → resolved.
REPORT_ENDPOINTS = [
    Endpoint("POST", "/api/v1/trust/reports", Perm.TRUST_REPORT_FILE, ok=201,
             params=_accused, body=_report_body, audit=("CASE_CREATED", "REPORT_FILED")),
    Endpoint("GET", "/api/v1/trust/reports/{case_id}", Perm.CASES_VIEW, params=_report_case),
    Endpoint("POST", "/api/v1/trust/reports/{case_id}/resolve", Perm.TRUST_STRIKE,
             params=_report_case, body={"outcome": "warning", "reason_code": "POLICY_VIOLATION"},
             audit=("CASE_STATUS_CHANGED", "CASE_STATUS_CHANGED", "REPORT_RESOLVED")),
]


def other_staff(user):
    return {"user_id": make_staff(Role.VIEWER).id}


def other_staff_with_support(user):
    return {"user_id": make_staff(Role.VIEWER, Role.SUPPORT).id, "role": "support"}


def _dead_statement(user) -> dict[str, str]:
    """A statement of reasons whose delivery gave up, to be retried."""
    from casefile.core import ids
    from casefile.core.timeutil import now
    from casefile.trust import statements
    from casefile.trust.models import ModerationItem, StatementRecord
    from tests.trust.helpers import platform_user

    row = ModerationItem(id=ids.new_mod_id(), kind="media", item_id="x",
                         subject_user_id=platform_user(), final_decision="remove",
                         decided_by="rules", audit_id="aud_x", created_at=now())
    record = statements.statement_record(
        source_kind="moderation", source_id=row.id, user_id=row.subject_user_id,
        audit_entry_id=row.audit_id, build=lambda: statements.moderation_statement(row))
    StatementRecord.objects.filter(pk=record.pk).update(status="dead", attempts=8)
    return {"statement_id": record.id}


# DSA statements of reasons (trust.statements_api).
STATEMENT_ENDPOINTS = [
    Endpoint("GET", "/api/v1/trust/statements", Perm.TRUST_STATEMENTS),
    Endpoint("GET", "/api/v1/trust/statements/export.ndjson", Perm.TRUST_STATEMENTS),
    Endpoint("POST", "/api/v1/trust/statements/{statement_id}/retry", Perm.TRUST_STATEMENTS,
             params=_dead_statement, body={"reason_code": "COMPLIANCE_REVIEW"},
             audit=("STATEMENT_RETRIED",)),
]

ENDPOINTS = [
    Endpoint("GET", "/api/v1/health", None),
    Endpoint("GET", "/api/v1/me", Perm.PROFILE_VIEW),
    Endpoint("GET", "/api/v1/tokens", Perm.TOKEN_MANAGE_OWN),
    Endpoint("POST", "/api/v1/tokens", Perm.TOKEN_MANAGE_OWN, ok=201,
             body={"name": "laptop", "reason_code": "ACCOUNT_PROVISIONING"},
             audit=("API_TOKEN_CREATED",)),
    Endpoint("DELETE", "/api/v1/tokens/{token_id}?reason_code=ACCOUNT_PROVISIONING",
             Perm.TOKEN_MANAGE_OWN, params=own_token, audit=("API_TOKEN_REVOKED",)),
    Endpoint("GET", "/api/v1/staff", Perm.STAFF_VIEW),
    Endpoint("POST", "/api/v1/staff", Perm.STAFF_MANAGE, ok=201,
             body={"email": "new@example.com", "roles": ["viewer"],
                   "reason_code": "ACCOUNT_PROVISIONING"}, audit=("STAFF_USER_CREATED",)),
    # Yourself: everyone may (a lost laptop); someone else needs staff.manage (tested in
    # tests/accounts/test_sessions.py).
    Endpoint("POST", "/api/v1/staff/{user_id}/sign-out-everywhere", Perm.PROFILE_VIEW,
             params=lambda user: {"user_id": user.id}, body={},
             audit=("STAFF_SIGNED_OUT_EVERYWHERE",)),
    Endpoint("POST", "/api/v1/staff/{user_id}/roles", Perm.STAFF_MANAGE, params=other_staff,
             body={"role": "analyst", "reason_code": "ACCOUNT_PROVISIONING"},
             audit=("STAFF_ROLE_GRANTED",)),
    Endpoint("DELETE", "/api/v1/staff/{user_id}/roles/{role}?reason_code=ACCOUNT_PROVISIONING",
             Perm.STAFF_MANAGE, params=other_staff_with_support, audit=("STAFF_ROLE_REVOKED",)),
    Endpoint("GET", "/api/v1/audit/entries", Perm.AUDIT_VIEW),
    Endpoint("GET", "/api/v1/audit/entries/{entry_id}", Perm.AUDIT_VIEW,
             params=lambda user: {"entry_id": _any_entry_id()}),
    Endpoint("GET", "/api/v1/audit/entries/{entry_id}/receipt", Perm.AUDIT_VIEW,
             params=lambda user: {"entry_id": _any_entry_id()}),
    Endpoint("GET", "/api/v1/audit/export?reason_code=COMPLIANCE_REVIEW", Perm.AUDIT_EXPORT,
             audit=("EXPORT_REQUESTED",)),
    Endpoint("GET", "/api/v1/audit/state", Perm.AUDIT_VERIFY),
    Endpoint("POST", "/api/v1/events", Perm.EVENTS_INGEST, body={"message": "hello"}),
    Endpoint("POST", "/api/v1/otlp/v1/logs", Perm.EVENTS_INGEST,
             body={"resourceLogs": [{"scopeLogs": [{"logRecords": [
                 {"body": {"stringValue": "hello"}}]}]}]}),
    Endpoint("GET", "/api/v1/events", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/{event_id}", Perm.EVENTS_VIEW,
             params=lambda user: {"event_id": _an_event_id()}),
    Endpoint("GET", "/api/v1/events/export?reason_code=INVESTIGATION", Perm.EVENTS_EXPORT,
             audit=("EXPORT_REQUESTED",)),
    Endpoint("GET", "/api/v1/events/analytics/issues", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/analytics/top", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/analytics/severity", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/analytics/breakdown", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/issues", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/issues/{issue_id}", Perm.EVENTS_VIEW,
             params=lambda user: {"issue_id": _an_issue()[0]}),
    Endpoint("POST", "/api/v1/events/issues/{issue_id}/split", Perm.EVENTS_ISSUES,
             params=lambda user: dict(zip(("issue_id", "fingerprint"), _an_issue(),
                                          strict=True)),
             body=lambda p: {"fingerprints": [p["fingerprint"]], "reason_code": "OPERATIONS"},
             audit=("ISSUE_SPLIT",)),
    Endpoint("POST", "/api/v1/events/issues/{issue_id}/merge", Perm.EVENTS_ISSUES,
             params=lambda user: {"issue_id": _an_issue()[0], "other": _an_issue()[0]},
             body=lambda p: {"issues": [p["other"]], "reason_code": "OPERATIONS"},
             audit=("ISSUE_MERGED",)),
    Endpoint("POST", "/api/v1/cases", Perm.CASES_EDIT, ok=201,
             body={"kind": "report", "title": "Spam ring", "reason_code": "POLICY_VIOLATION"},
             audit=("CASE_CREATED",)),
    Endpoint("GET", "/api/v1/cases", Perm.CASES_VIEW),
    Endpoint("GET", "/api/v1/cases/queues/{name}", Perm.CASES_VIEW,
             params=lambda user: {"name": "unassigned"}),
    Endpoint("POST", "/api/v1/cases/bulk", Perm.CASES_EDIT,
             params=lambda user: {"case_id": _case().id, "other": _case().id},
             body=lambda p: {"case_ids": [p["case_id"], p["other"]], "operation": "tag",
                             "value": "bulk", "reason_code": "OPERATIONS"},
             audit=("CASE_TAGGED", "CASE_TAGGED")),
    Endpoint("GET", "/api/v1/cases/{case_id}", Perm.CASES_VIEW, params=lambda u: _case_ref()),
    Endpoint("PATCH", "/api/v1/cases/{case_id}", Perm.CASES_EDIT, params=lambda u: _case_ref(),
             body={"priority": 1, "reason_code": "INVESTIGATION"}, audit=("CASE_UPDATED",)),
    Endpoint("POST", "/api/v1/cases/{case_id}/assign", Perm.CASES_EDIT,
             params=lambda u: _case_ref(assigned=True),
             body={"assignee_id": None, "reason_code": "OPERATIONS"}, audit=("CASE_ASSIGNED",)),
    Endpoint("POST", "/api/v1/cases/{case_id}/status", Perm.CASES_EDIT,
             params=lambda u: _case_ref(), body={"status": "triage",
                                                 "reason_code": "INVESTIGATION"},
             audit=("CASE_STATUS_CHANGED",)),
    Endpoint("POST", "/api/v1/cases/{case_id}/notes", Perm.CASES_EDIT, ok=201,
             params=lambda u: _case_ref(), body={"content": "hm",
                                                 "reason_code": "INVESTIGATION"},
             audit=("CASE_NOTE_ADDED",)),
    Endpoint("PATCH", "/api/v1/cases/{case_id}/notes/{note_id}", Perm.CASES_EDIT,
             params=lambda user: _note_by(user),
             body={"content": "edited", "reason_code": "INVESTIGATION"},
             audit=("CASE_NOTE_EDITED",)),
    Endpoint("POST", "/api/v1/cases/{case_id}/tags", Perm.CASES_EDIT,
             params=lambda u: _case_ref(), body={"name": "vip", "reason_code": "OPERATIONS"},
             audit=("CASE_TAGGED",)),
    Endpoint("DELETE", "/api/v1/cases/{case_id}/tags/{name}?reason_code=OPERATIONS",
             Perm.CASES_EDIT, params=lambda u: _case_ref(tag="vip"), audit=("CASE_UNTAGGED",)),
    Endpoint("POST", "/api/v1/cases/{case_id}/events", Perm.CASES_EDIT, ok=201,
             params=lambda u: {**_case_ref(), "event_id": _an_event_id()},
             body=lambda p: {"event_id": p["event_id"], "reason_code": "INVESTIGATION"},
             audit=("EVENT_LINKED",)),
    Endpoint("DELETE", "/api/v1/cases/{case_id}/events/{event_id}?reason_code=INVESTIGATION",
             Perm.CASES_EDIT, params=lambda u: _case_ref(linked=True), audit=("EVENT_UNLINKED",)),
    Endpoint("POST", "/api/v1/cases/{case_id}/actions", Perm.CASES_EDIT, ok=201,
             params=lambda u: _case_ref(),
             body={"action": "note", "payload": {"message": "called"},
                   "reason_code": "INVESTIGATION"}, audit=("CASE_ACTION_NOTE",)),
    Endpoint("GET", "/api/v1/cases/{case_id}/timeline", Perm.CASES_VIEW,
             params=lambda u: _case_ref()),
    Endpoint("PUT", "/api/v1/platform/tenants/{tenant_id}", Perm.PLATFORM_SYNC,
             params=lambda u: {"tenant_id": "ten_sync"}, body={"name": "Synced"},
             audit=("TENANT_UPSERTED",)),
    Endpoint("GET", "/api/v1/platform/tenants", Perm.PLATFORM_VIEW),
    Endpoint("GET", "/api/v1/platform/tenants/{tenant_id}", Perm.PLATFORM_VIEW,
             params=lambda u: _tenant_ref()),
    Endpoint("POST", "/api/v1/platform/tenants/{tenant_id}/details", Perm.TENANT_DETAILS,
             params=lambda u: _tenant_ref(), body={"reason_code": "CUSTOMER_REQUEST"},
             audit=("TENANT_VIEW_DETAILS",)),
    Endpoint("PUT", "/api/v1/platform/users/{user_id}", Perm.PLATFORM_SYNC,
             params=lambda u: {"user_id": "usr_sync"}, body={"email": "x@tenant.test"},
             audit=("PLATFORM_USER_UPSERTED",)),
    Endpoint("GET", "/api/v1/platform/users/{user_id}", Perm.PLATFORM_VIEW,
             params=lambda u: _platform_user_ref()),
    Endpoint("POST", "/api/v1/platform/operations", Perm.TENANT_POLICY,
             params=lambda u: _tenant_ref(),
             body=lambda p: {"operation": "tenant_policy_update",
                             "params": {"tenant_id": p["tenant_id"], "policy": {"sso": True}},
                             "reason_code": "CUSTOMER_REQUEST"},
             audit=("TENANT_POLICY_UPDATE",)),
    Endpoint("GET", "/api/v1/platform/approvals", Perm.PLATFORM_VIEW),
    Endpoint("POST", "/api/v1/platform/approvals/{approval_id}/approve", Perm.BILLING_CREDIT,
             params=lambda u: _pending_credit(), body={"reason_code": "COMPLIANCE_REVIEW"},
             step_up=True, audit=("APPROVAL_DECIDED", "BILLING_CREDIT_ADD")),
    Endpoint("POST", "/api/v1/platform/approvals/{approval_id}/reject", Perm.BILLING_CREDIT,
             params=lambda u: _pending_credit(), body={"reason_code": "COMPLIANCE_REVIEW"},
             audit=("APPROVAL_DECIDED",)),
    Endpoint("POST", "/api/v1/platform/impersonations/{session_id}/end", Perm.IMPERSONATE,
             params=lambda u: _impersonation(), body={"reason_code": "SECURITY_INCIDENT"},
             audit=("IMPERSONATION_END",)),
    Endpoint("GET", "/api/v1/platform/outbox", Perm.OUTBOX_MANAGE),
    Endpoint("POST", "/api/v1/platform/outbox/{command_id}/retry", Perm.OUTBOX_MANAGE,
             params=lambda u: _dead_command(), body={"reason_code": "OPERATIONS"},
             audit=("OUTBOX_RETRIED",)),
    *EVIDENCE_ENDPOINTS,
    *HOLD_ENDPOINTS,
    *TRUST_ENDPOINTS,
    *MODERATION_ENDPOINTS,
    *REPORT_ENDPOINTS,
    *STATEMENT_ENDPOINTS,
    *DOCUMENT_ENDPOINTS,
    *SIGNING_ENDPOINTS,
]

PLATFORM = Actor.system("platform-sync")


def _tenant_ref() -> dict[str, str]:
    import uuid

    from casefile.platform import services as platform

    tenant, _ = platform.tenant_upsert(actor=PLATFORM, tenant_id=f"ten_{uuid.uuid4().hex[:8]}",
                                       name="Tenant", details={"vat": "X"})
    return {"tenant_id": tenant.id}


def _platform_user_ref() -> dict[str, str]:
    import uuid

    from casefile.platform import services as platform

    user, _ = platform.platform_user_upsert(actor=PLATFORM, user_id=f"usr_{uuid.uuid4().hex[:8]}",
                                            email="someone@tenant.test")
    return {"user_id": user.id}


def _pending_credit() -> dict[str, str]:
    from django.test import override_settings

    from casefile.platform import services as platform

    with override_settings(FOUR_EYES_CREDIT_CENTS=1):
        outcome = platform.operation_request(
            actor=SETUP(make_staff(Role.SUPPORT)), operation="tenant_credit_add",
            params={**_tenant_ref(), "amount_cents": 100}, reason_code="CUSTOMER_REQUEST")
    return {"approval_id": outcome.approval.id}


def _impersonation() -> dict[str, str]:
    """A session of another admin's: ending someone else's needs the impersonate permission."""
    from casefile.platform import services as platform

    outcome = platform.operation_request(
        actor=SETUP(make_staff(Role.ADMIN)), operation="impersonation_start",
        params={**_platform_user_ref(), "minutes": 5}, reason_code="SECURITY_INCIDENT",
        ticket_ref="SEC-9")
    done = platform.approval_decide(actor=SETUP(make_staff(Role.ADMIN)),
                                    approval=outcome.approval, approve=True,
                                    reason_code="SECURITY_INCIDENT")
    return {"session_id": done.change.after["id"]}


def _dead_command() -> dict[str, str]:
    from casefile.platform import services as platform
    from casefile.platform.models import OutboxCommand

    outcome = platform.operation_request(
        actor=SETUP(make_staff(Role.OPS)), operation="tenant_limit_override",
        params={**_tenant_ref(), "limits": {"seats": 9}}, reason_code="CUSTOMER_REQUEST")
    OutboxCommand.objects.filter(pk=outcome.command.pk).update(status="dead")
    return {"command_id": outcome.command.id}

SETUP = Actor.staff  # cases are set up by an analyst, through the services


def _case(**fields):
    from casefile.cases import services as cases

    analyst = SETUP(make_staff(Role.ANALYST))
    return cases.case_create(actor=analyst, kind="report", title="Set-up case",
                             reason_code="INVESTIGATION", **fields)


def _case_ref(*, assigned=False, tag=None, linked=False) -> dict[str, str]:
    from casefile.cases import services as cases

    analyst = SETUP(make_staff(Role.ANALYST))
    case = _case()
    params = {"case_id": case.id}
    if assigned:
        cases.case_assign(actor=analyst, case=case, assignee=analyst.user,
                          reason_code="OPERATIONS")
    if tag:
        cases.case_tag_add(actor=analyst, case=case, name=tag, reason_code="OPERATIONS")
        params["name"] = tag
    if linked:
        params["event_id"] = _an_event_id()
        cases.case_event_link(actor=analyst, case=case, event_id=params["event_id"],
                              reason_code="INVESTIGATION")
    return params


def _note_by(user) -> dict[str, str]:
    """A note written by `user` (made directly: a viewer could not write one to set up)."""
    from casefile.cases.models import CaseNote
    from casefile.core.timeutil import now

    case = _case()
    note = CaseNote.objects.create(case=case, author=user, content="draft", created_at=now(),
                                   updated_at=now())
    return {"case_id": case.id, "note_id": str(note.pk)}


def _an_event_id() -> str:
    import uuid

    from tests.events.helpers import ingest

    message = f"for the permission test {uuid.uuid4()}"
    ingest([{"message": message}])
    from casefile.events.models import Event

    return Event.objects.get(message=message).id


def _an_issue() -> tuple[str, str]:
    """A fresh issue of four templates (four user names at one place): its id and the
    fingerprint of one of its templates."""
    import uuid

    from casefile.events.models import Event, EventTemplate
    from tests.events.helpers import ingest

    service = f"perm-{uuid.uuid4()}"
    ingest([{"message": f"Failed password for {name} from 10.0.0.1", "service": service}
            for name in ("root", "ftp", "git", "news")])
    fingerprint = Event.objects.filter(service=service).values_list("fingerprint",
                                                                    flat=True).first()
    return EventTemplate.objects.get(fingerprint=fingerprint).issue_id, fingerprint


def _any_entry_id() -> str:
    from casefile.audit.models import AuditEntry

    return AuditEntry.objects.order_by("seq").values_list("id", flat=True).first()


# Routes authenticated by something other than a staff token and role: a vendor's signature
# over the body (tests/webhooks). No role opens them, so they have no row in the matrix.
SIGNATURE_AUTHENTICATED = {"POST /api/v1/webhooks/{vendor}"}


def test_every_route_is_declared():
    schema = api.get_openapi_schema()
    routes = {f"{m.upper()} {p}" for p, ops in schema["paths"].items() for m in ops}
    declared = {f"{e.method} {e.route.split('?')[0]}" for e in ENDPOINTS}
    assert routes == declared | SIGNATURE_AUTHENTICATED


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_access(endpoint: Endpoint, role: Role):
    user = make_staff(role)
    path, body = endpoint.request(user)
    client = ApiClient(token_for(user))
    ledger.chain_pending()  # the set-up has committed, as it would have before a request
    last_seq = AuditEntry.objects.aggregate(last=Max("seq"))["last"] or 0
    response = endpoint.send(client, path, body)
    if response.streaming:
        b"".join(response.streaming_content)  # an export is audited as it starts streaming
    allowed = endpoint.perm is None or role in roles_for(endpoint.perm)
    expected = endpoint.ok if allowed else 403
    assert response.status_code == expected, response.content
    written = list(AuditEntry.objects.filter(seq__gt=last_seq).order_by("seq"))
    if endpoint.step_up:  # the code the call carried, proven whatever the call then does
        assert [e.action for e in written[:1]] == ["STAFF_SECOND_FACTOR_PROVEN"]
        written = written[1:]
    if not allowed:
        assert response.json()["error"]["code"] == "forbidden"
        assert written == []
        return
    assert [e.action for e in written] == list(endpoint.audit)
    # Each entry is the caller's own, or (for an approval) the requester's, named by it.
    for entry in written:
        assert entry.actor_user_id == user.id or (
            entry.metadata.get("approved_by", {}).get("actor_user_id") == user.id)
        assert entry.reason_code


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.perm], ids=lambda e: e.id)
def test_no_token_is_401(endpoint: Endpoint):
    path, body = endpoint.request(make_staff(Role.ADMIN))
    for client in (ApiClient(None), ApiClient("cf_not-a-real-token")):
        response = endpoint.send(client, path, body)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
