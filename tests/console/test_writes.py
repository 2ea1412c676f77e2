"""Every console form that writes, declared once and posted by every role: the roles the
permission matrix allows get through and leave exactly the audit entries of the expected
actions, by them; every other role gets 403 and leaves none. (Reads are covered by
test_screens.py::pages; the API has its own table in tests/api_cases.py.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from casefile.accounts.permissions import Perm, has_perm
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.events.models import Event
from casefile.platform import services as platform
from casefile.trust import services as trust
from casefile.trust import strikes
from tests.cases.helpers import open_case
from tests.conftest import CLI, make_staff
from tests.conftest import CommittingClient as Client
from tests.events.helpers import ingest
from tests.evidence.helpers import upload as upload_evidence
from tests.holds.helpers import place as place_hold
from tests.holds.helpers import request_release

pytestmark = pytest.mark.django_db
ROLES = [Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS, Role.LEGAL, Role.ADMIN]
REASON = {"reason_code": "OPERATIONS"}


@dataclass(frozen=True)
class Write:
    url: Callable[[dict], str]
    form: Callable[[dict], dict[str, Any]]
    perm: Perm
    action: str | tuple[str, ...] | None  # the entries it writes (None: not an audited change)


WRITES: dict[str, Write] = {
    "case open": Write(lambda w: "/cases/new/",
                       lambda w: {"kind": "report", "title": "Spam wave", **REASON},
                       Perm.CASES_EDIT, "CASE_CREATED"),
    "case update": Write(lambda w: f"/cases/{w['case'].id}/update/",
                         lambda w: {"title": "Renamed", **REASON}, Perm.CASES_EDIT,
                         "CASE_UPDATED"),
    "case assign": Write(lambda w: f"/cases/{w['case'].id}/assign/",
                         lambda w: {"assignee": "me", **REASON}, Perm.CASES_EDIT,
                         "CASE_ASSIGNED"),
    "case status": Write(lambda w: f"/cases/{w['case'].id}/status/",
                         lambda w: {"status": "triage", **REASON}, Perm.CASES_EDIT,
                         "CASE_STATUS_CHANGED"),
    "case note": Write(lambda w: f"/cases/{w['case'].id}/notes/",
                       lambda w: {"content": "seen", **REASON}, Perm.CASES_EDIT,
                       "CASE_NOTE_ADDED"),
    "case tag": Write(lambda w: f"/cases/{w['case'].id}/tags/",
                      lambda w: {"name": "vip", **REASON}, Perm.CASES_EDIT, "CASE_TAGGED"),
    "case link": Write(lambda w: f"/cases/{w['case'].id}/events/",
                       lambda w: {"event_id": w["event"].id, **REASON}, Perm.CASES_EDIT,
                       "EVENT_LINKED"),
    "case action note": Write(lambda w: f"/cases/{w['case'].id}/actions/",
                              lambda w: {"action": "note", "message": "hi", **REASON},
                              Perm.CASES_EDIT, "CASE_ACTION_NOTE"),
    "case action suspend": Write(lambda w: f"/cases/{w['case'].id}/actions/",
                                 lambda w: {"action": "suspend", "user_id": "usr_alpha",
                                            **REASON}, Perm.USER_SUSPEND,
                                 ("USER_SUSPEND", "CASE_ACTION_SUSPEND")),
    "case action refund": Write(lambda w: f"/cases/{w['case'].id}/actions/",
                                lambda w: {"action": "refund", "order_id": "ord_1",
                                           "user_id": "usr_alpha", "amount_cents": "500",
                                           "currency": "EUR", **REASON},
                                Perm.BILLING_REFUND, ("BILLING_REFUND", "CASE_ACTION_REFUND")),
    "cases bulk": Write(lambda w: "/cases/bulk/",
                        lambda w: {"case_ids": [w["case"].id], "operation": "tag",
                                   "value": "wave", **REASON}, Perm.CASES_EDIT, "CASE_TAGGED"),
    "event link to case": Write(lambda w: f"/events/{w['event'].id}/link/",
                                lambda w: {"case_id": w["case"].id, **REASON},
                                Perm.CASES_EDIT, "EVENT_LINKED"),
    "events export": Write(lambda w: "/events/export/",
                           lambda w: {"format": "csv", **REASON}, Perm.EVENTS_EXPORT,
                           "EXPORT_REQUESTED"),
    "events upload": Write(lambda w: "/events/ingest/",
                           lambda w: {"file": SimpleUploadedFile("e.ndjson",
                                                                 b'{"message": "x"}\n')},
                           Perm.EVENTS_INGEST, None),
    "tenant details": Write(lambda w: "/platform/tenants/ten_acme/", lambda w: REASON,
                            Perm.TENANT_DETAILS, "TENANT_VIEW_DETAILS"),
    "tenant policy": Write(lambda w: "/platform/operations/tenant_policy_update/",
                           lambda w: {"tenant_id": "ten_acme", "policy": '{"uploads": false}',
                                      **REASON}, Perm.TENANT_POLICY, "TENANT_POLICY_UPDATE"),
    "tenant credit": Write(lambda w: "/platform/operations/tenant_credit_add/",
                           lambda w: {"tenant_id": "ten_acme", "amount_cents": "100", **REASON},
                           Perm.BILLING_CREDIT, "BILLING_CREDIT_ADD"),
    "tenant limits": Write(lambda w: "/platform/operations/tenant_limit_override/",
                           lambda w: {"tenant_id": "ten_acme", "limits": '{"seats": 9}',
                                      **REASON}, Perm.TENANT_LIMITS, "LIMIT_OVERRIDE"),
    "user suspend": Write(lambda w: "/platform/operations/user_suspend/",
                          lambda w: {"user_id": "usr_alpha", **REASON}, Perm.USER_SUSPEND,
                          "USER_SUSPEND"),
    "impersonation request": Write(lambda w: "/platform/operations/impersonation_start/",
                                   lambda w: {"user_id": "usr_alpha", "minutes": "10",
                                              "ticket_ref": "INC-1", **REASON},
                                   Perm.IMPERSONATE, "APPROVAL_REQUESTED"),
    "evidence upload": Write(lambda w: "/evidence/upload/",
                             lambda w: {"file": SimpleUploadedFile("n.txt", b"Alice called",
                                                                   "text/plain"),
                                        "pii_map": '[{"kind": "name", "locator": [0, 5]}]',
                                        **REASON}, Perm.EVIDENCE_UPLOAD, "EVIDENCE_UPLOADED"),
    "evidence original": Write(lambda w: f"/evidence/{w['blob'].id}/", lambda w: REASON,
                               Perm.EVIDENCE_ORIGINAL, "EVIDENCE_ORIGINAL_VIEWED"),
    "evidence shred": Write(lambda w: f"/evidence/{w['blob'].id}/shred/", lambda w: REASON,
                            Perm.EVIDENCE_SHRED, "EVIDENCE_SHREDDED"),
    "trust profile": Write(lambda w: f"/trust/users/{w['trust_user']}/profile/",
                           lambda w: {"is_18plus_attested": "true", **REASON}, Perm.TRUST_EDIT,
                           "TRUST_PROFILE_UPDATED"),
    "trust risk": Write(lambda w: f"/trust/users/{w['trust_user']}/risk/",
                        lambda w: {"score": "75", "reason": "chargebacks", **REASON},
                        Perm.TRUST_EDIT, "TRUST_RISK_SCORE_SET"),
    "trust hold": Write(lambda w: f"/trust/users/{w['trust_user']}/hold/",
                        lambda w: {"hold_type": "risk", **REASON}, Perm.TRUST_EDIT,
                        "TRUST_HOLD_SET"),
    "trust hold clear": Write(lambda w: f"/trust/users/{w['held_user']}/hold/clear/",
                              lambda w: REASON, Perm.TRUST_EDIT, "TRUST_HOLD_CLEARED"),
    "verification open": Write(lambda w: f"/trust/users/{w['trust_user']}/verifications/",
                               lambda w: {"type": "idv", "vendor": "persona", **REASON},
                               Perm.TRUST_VERIFY_OPEN,
                               ("VERIFICATION_CASE_OPENED", "TRUST_PROFILE_UPDATED")),
    "verification move": Write(lambda w: f"/trust/verifications/{w['verification'].id}/move/",
                               lambda w: {"to": "passed", **REASON}, Perm.TRUST_VERIFY,
                               ("VERIFICATION_CASE_TRANSITIONED", "TRUST_PROFILE_UPDATED")),
    "verification appeal": Write(lambda w: f"/trust/verifications/{w['decided'].id}/appeal/",
                                 lambda w: {"note": "the document was valid", **REASON},
                                 Perm.TRUST_VERIFY,
                                 ("CASE_CREATED", "VERIFICATION_CASE_APPEALED",
                                  "TRUST_PROFILE_UPDATED")),
    "strike issue": Write(lambda w: f"/trust/users/{w['trust_user']}/strikes/",
                          lambda w: {"policy": "spam", "reason": "bulk messages", **REASON},
                          Perm.TRUST_STRIKE, ("STRIKE_ISSUED", "TRUST_PROFILE_UPDATED")),
    "strike reverse": Write(lambda w: f"/trust/strikes/{w['strike'].id}/reverse/",
                            lambda w: REASON, Perm.TRUST_STRIKE,
                            ("STRIKE_REVERSED", "TRUST_PROFILE_UPDATED")),
    "moderation review": Write(lambda w: f"/moderation/items/{w['moderated'].id}/review/",
                               lambda w: {"decision": "block", **REASON},
                               Perm.MODERATION_REVIEW, "MODERATION_REVIEWED"),
    "rules draft": Write(lambda w: "/moderation/rules/draft/",
                         lambda w: {"rules": '{"rules": [], "review_band": '
                                                     '{"low": 0.4, "high": 0.6}}', **REASON},
                         Perm.MODERATION_RULES,
                         "MODERATION_RULES_DRAFT_SAVED"),
    "rules publish": Write(lambda w: f"/moderation/rules/{w['rule_draft'].version}/publish/",
                           lambda w: REASON, Perm.MODERATION_RULES,
                           "MODERATION_RULES_PUBLISHED"),
    # A report case (new) resolved with a warning: new → triage → resolved, then the report.
    "report resolve": Write(lambda w: f"/trust/reports/{w['report_case'].id}/resolve/",
                            lambda w: {"outcome": "warning", **REASON}, Perm.TRUST_STRIKE,
                            ("CASE_STATUS_CHANGED", "CASE_STATUS_CHANGED", "REPORT_RESOLVED")),
    "approval decide": Write(lambda w: f"/platform/approvals/{w['approval'].id}/",
                             lambda w: {"decision": "reject", **REASON}, Perm.BILLING_CREDIT,
                             "APPROVAL_DECIDED"),
    "hold place": Write(lambda w: "/holds/place/",
                        lambda w: {"kind": "evidence", "object_id": w["blob"].id, **REASON},
                        Perm.HOLDS_PLACE, "LEGAL_HOLD_PLACED"),
    "hold release": Write(lambda w: f"/holds/{w['hold'].id}/release/", lambda w: REASON,
                          Perm.HOLDS_RELEASE, "APPROVAL_REQUESTED"),
    "hold release decide": Write(lambda w: f"/platform/approvals/{w['release'].id}/",
                                 lambda w: {"decision": "reject", **REASON},
                                 Perm.HOLDS_RELEASE, "APPROVAL_DECIDED"),
    # Documents (documents.views): each form read by the API's schema.
    "clause create": Write(lambda w: "/documents/clauses/new/",
                           lambda w: {"name": f"Clause {_doc(w, 'n', _uniq)}",
                                      **_doc_clause_form(), **REASON},
                           Perm.DOCUMENTS_AUTHOR, "CLAUSE_DRAFTED"),
    "clause version": Write(lambda w: f"/documents/clauses/{_doc(w, 'clause', _clause).id}/"
                                      "versions/",
                            lambda w: {**_doc_clause_form(), **REASON}, Perm.DOCUMENTS_AUTHOR,
                            "CLAUSE_DRAFTED"),
    "clause publish": Write(lambda w: f"/documents/clauses/{_doc(w, 'draft', _draft).id}/"
                                      "publish/", lambda w: REASON, Perm.DOCUMENTS_AUTHOR,
                            "CLAUSE_PUBLISHED"),
    "clause withdraw": Write(lambda w: f"/documents/clauses/{_doc(w, 'clause', _clause).id}/"
                                       "active/", lambda w: {"active": "false", **REASON},
                             Perm.DOCUMENTS_AUTHOR, "CLAUSE_ACTIVE_SET"),
    "template create": Write(lambda w: "/documents/templates/new/",
                             lambda w: {"name": f"Template {_doc(w, 'n', _uniq)}",
                                        **_doc_template_form(_doc(w, 'clause', _clause)),
                                        **REASON}, Perm.DOCUMENTS_AUTHOR, "TEMPLATE_DRAFTED"),
    "template version": Write(
        lambda w: f"/documents/templates/{_doc(w, 'template', _template).id}/versions/",
        lambda w: {**_doc_template_form(_doc(w, 'clause', _clause)), **REASON},
        Perm.DOCUMENTS_AUTHOR, "TEMPLATE_DRAFTED"),
    "template publish": Write(
        lambda w: f"/documents/templates/{_doc(w, 'draft_tpl', _draft_template).id}/publish/",
        lambda w: REASON, Perm.DOCUMENTS_AUTHOR, "TEMPLATE_PUBLISHED"),
    "template withdraw": Write(
        lambda w: f"/documents/templates/{_doc(w, 'template', _template).id}/active/",
        lambda w: {"active": "false", **REASON}, Perm.DOCUMENTS_AUTHOR, "TEMPLATE_ACTIVE_SET"),
    "template preview": Write(
        lambda w: f"/documents/templates/{_doc(w, 'template', _template).id}/preview.pdf",
        lambda w: {"variables": ""}, Perm.DOCUMENTS_AUTHOR, None),
    "pack generate": Write(lambda w: f"/documents/legs/{_doc(w, 'leg', _doc_leg).id}/packs/",
                           lambda w: REASON, Perm.DOCUMENTS_ISSUE, "DOC_PACK_GENERATED"),
    "pack issue": Write(lambda w: f"/documents/packs/{_doc(w, 'pack', _doc_pack).id}/issue/",
                        lambda w: REASON, Perm.DOCUMENTS_ISSUE, "DOC_PACK_ISSUED"),
    "pack void": Write(lambda w: f"/documents/packs/{_doc(w, 'pack', _doc_pack).id}/void/",
                       lambda w: {"reason": "booking cancelled", **REASON},
                       Perm.DOCUMENTS_ISSUE, "DOC_PACK_VOIDED"),
}


def _documents_world() -> dict[str, Any]:
    """Documents' set-up, made with the world (before the entries a write is checked by)."""
    return {f"doc:{key}": make() for key, make in (
        ("n", _uniq), ("clause", _clause), ("draft", _draft), ("template", _template),
        ("draft_tpl", _draft_template), ("leg", _doc_leg), ("pack", _doc_pack))}


def _doc(w: dict, key: str, make: Callable[[], Any]) -> Any:
    if f"doc:{key}" not in w:
        w[f"doc:{key}"] = make()
    return w[f"doc:{key}"]


def _uniq() -> str:
    import uuid

    return str(uuid.uuid4())


def _clause():
    from tests.documents import helpers

    return helpers.clause()


def _draft():
    from tests.documents import helpers

    return helpers.clause(publish=False)


def _template():
    from tests.documents import helpers

    return helpers.template()


def _draft_template():
    from tests.documents import helpers

    return helpers.template(publish=False)


def _doc_leg():
    from tests.documents import helpers

    helpers.template()
    return helpers.leg()


def _doc_pack():
    from casefile.documents import services
    from tests.documents import helpers

    author = helpers.legal()
    helpers.template(actor=author)
    return services.doc_pack_generate(actor=author, leg=helpers.leg(), reason_code=helpers.REASON)


def _doc_clause_form() -> dict[str, str]:
    import json

    from tests.documents import helpers

    return {"body_markdown": helpers.BASE_BODY, "variables_json": json.dumps(helpers.BASE_SCHEMA),
            "city_gate": "NYC, la", "role_gate": ""}


def _doc_template_form(clause) -> dict[str, str]:
    import json

    return {"clauses_ordered": json.dumps([{"clause_id": clause.id, "version": clause.version,
                                            "order": 1}]),
            "layout_json": json.dumps({"page_size": "A4"}),
            "signer_roles": json.dumps([{"role": "buyer", "required": True, "order": 1}]),
            "city_gate": "", "role_gate": "model studio"}


def _report_case():
    """A safety report the platform filed (its case opened in the platform's name)."""
    from casefile.trust import reports
    from tests.trust.helpers import profile

    return reports.report_file(actor=Actor.staff(make_staff(Role.PLATFORM)),
                               platform_report_id="pr-console", category="harassment",
                               accused_user_id=profile().user_id, text="abusive messages",
                               accuser_user_id="usr_accuser").case


def _moderation_world():
    """An item the rules decided, and a draft rule set (a review, a save and a publish)."""
    from casefile.trust import moderation
    from tests.trust.helpers import profile

    item = moderation.moderation_decide(actor=CLI, item_data={
        "kind": "media", "item_id": "med_console", "subject_user_id": profile().user_id})
    draft = moderation.rule_set_draft_save(actor=Actor.staff(make_staff(Role.OPS)),
                                           rules_json={"rules": []}, reason_code="OPERATIONS")
    return item, draft


@pytest.fixture
def world(settings):
    settings.FOUR_EYES_CREDIT_CENTS = 1000
    ingest([{"message": "card declined", "severity": "error"}])
    platform.tenant_upsert(actor=CLI, tenant_id="ten_acme", name="Acme", details={"vat": "1"})
    platform.platform_user_upsert(actor=CLI, user_id="usr_alpha", email="a@acme.test",
                                  tenant_id="ten_acme")
    requester = Actor.staff(make_staff(Role.SUPPORT))
    approval = platform.operation_request(
        actor=requester, operation="tenant_credit_add", reason_code="CUSTOMER_REQUEST",
        params={"tenant_id": "ten_acme", "amount_cents": 5000}).approval
    held_case = open_case(title="Under hold")  # two holds: one to release, one being released
    hold, releasing = (place_hold("case", held_case.id, ticket=t) for t in ("L-1", "L-2"))
    release = request_release(releasing)
    blob = upload_evidence(CLI, data=b"Alice called", pii_map=[{"kind": "name",
                                                                  "locator": [0, 5]}])
    from tests.trust.helpers import analyst, profile, verification

    held = profile().user_id
    trust.trust_hold_set(actor=analyst(), user_id=held, hold_type="new_acct",
                         reason_code="FRAUD_SIGNAL")
    moderated, rule_draft = _moderation_world()
    return {"moderated": moderated, "rule_draft": rule_draft, "report_case": _report_case(),
            "hold": hold, "release": release,
            **_documents_world(),
            "case": open_case(title="Spam"), "event": Event.objects.get(), "approval": approval,
            "blob": blob, "trust_user": profile().user_id, "held_user": held,
            "verification": verification("idv", "in_review"),
            "decided": verification("idv", "failed"),
            "strike": strikes.strike_issue(actor=analyst(), user_id=profile().user_id,
                                           policy="spam", reason_code="POLICY_VIOLATION")}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(WRITES))
def test_each_write_is_allowed_exactly_by_its_roles_and_audited(world, name, role):
    write = WRITES[name]
    user = make_staff(role)
    client = Client()
    client.force_login(user)
    ledger.chain_pending()  # the set-up has committed, as it would have before a request
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    response = client.post(write.url(world), write.form(world))
    new = list(AuditEntry.objects.filter(seq__gt=last))
    if not has_perm({role}, write.perm):
        assert response.status_code == 403, (name, role, response.status_code)
        assert new == []
        return
    assert response.status_code in (200, 302), (name, role, response.status_code)
    if response.status_code == 302:  # a refused change would come back with an error message
        followed = client.get(response["Location"], follow=True)
        assert "error" not in [m.level_tag for m in followed.context["messages"]], name
    if write.action is None:
        assert new == []
    else:
        actions = (write.action,) if isinstance(write.action, str) else write.action
        assert [(e.action, e.actor_user_id) for e in new] == [(a, user.id) for a in actions]
