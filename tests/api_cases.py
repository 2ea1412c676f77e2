"""Declarative API permission cases (after NetBox's APIViewTestCases).

Every route of the API is declared once in ENDPOINTS with the permission it needs and the audit
entries a successful call writes; one parametrised test then checks, for every endpoint, that
each role the matrix allows gets its success status and writes exactly those entries, by that
person, every other role gets 403 and writes none, and a request without a token gets 401. A
route that is not declared fails `test_every_route_is_declared`, so no endpoint ships without
these tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from casefile.accounts.permissions import Perm


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # as in the OpenAPI document, e.g. "/api/v1/tokens/{token_id}"
    perm: Perm | None  # None: public
    ok: int = 200
    # The JSON body, or a function of the path parameters that builds it.
    body: dict[str, Any] | Callable[[dict[str, str]], dict[str, Any]] | None = None
    # Builds the path parameters (and may create what they refer to) for the acting user.
    params: Callable[[Any], dict[str, str]] = field(default=lambda user: {})
    # The audit actions a successful call records, in order (reads record none, unless they
    # are audited reads).
    audit: tuple[str, ...] = ()

    # The body is a multipart form (a file upload), not JSON.
    multipart: bool = False
    # The call steps up (accounts.stepup): it carries a current authenticator-app code.
    step_up: bool = False

    def send(self, client, path: str, body: dict[str, Any] | None):
        """Make the call with `client` (a tests.conftest.ApiClient)."""
        if self.step_up and client.token:
            from tests.accounts.helpers import totp_header

            return client.call(self.method, path, body, **totp_header(client))
        if not self.multipart:
            return client.call(self.method, path, body)
        headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
        return client.post(path, body, headers=headers)  # multipart is a POST

    def request(self, user) -> tuple[str, dict[str, Any] | None]:
        params = self.params(user)
        body = self.body(params) if callable(self.body) else self.body
        return self.route.format(**params), body

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"


# --- evidence (tests/evidence) ------------------------------------------------------------------
def _evidence_upload_form(params: dict[str, str]) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {"file": SimpleUploadedFile("note.txt", b"call Alice on 555-0100", "text/plain"),
            "pii_map": '[{"kind": "name", "locator": [5, 10]}]', "reason_code": "INVESTIGATION"}


def _blob_ref(user=None) -> dict[str, str]:
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.evidence import services
    from tests.conftest import make_staff

    blob = services.evidence_upload(
        actor=Actor.staff(make_staff(Role.ANALYST)), data=b"call Alice on 555-0100",
        filename="note.txt", content_type="text/plain",
        pii_map=[{"kind": "name", "locator": [5, 10]}], reason_code="INVESTIGATION")
    return {"blob_id": blob.id}


EVIDENCE_ENDPOINTS = [
    Endpoint("POST", "/api/v1/evidence", Perm.EVIDENCE_UPLOAD, ok=201, multipart=True,
             body=_evidence_upload_form, audit=("EVIDENCE_UPLOADED",)),
    Endpoint("GET", "/api/v1/evidence", Perm.EVIDENCE_VIEW),
    Endpoint("GET", "/api/v1/evidence/{blob_id}", Perm.EVIDENCE_VIEW, params=_blob_ref),
    Endpoint("GET", "/api/v1/evidence/{blob_id}/redacted", Perm.EVIDENCE_VIEW, params=_blob_ref),
    Endpoint("POST", "/api/v1/evidence/{blob_id}/original", Perm.EVIDENCE_ORIGINAL,
             params=_blob_ref, body={"reason_code": "LEGAL_REQUEST"},
             audit=("EVIDENCE_ORIGINAL_VIEWED",)),
    Endpoint("POST", "/api/v1/evidence/{blob_id}/shred", Perm.EVIDENCE_SHRED, params=_blob_ref,
             body={"reason_code": "CUSTOMER_REQUEST"}, audit=("EVIDENCE_SHREDDED",)),
]


# --- legal holds (tests/holds) ------------------------------------------------------------------
def _hold_ref(user=None) -> dict[str, str]:
    """An active hold on a fresh blob, placed by another legal person."""
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.holds import services
    from tests.conftest import make_staff

    blob_id = _blob_ref()["blob_id"]
    hold = services.legal_hold_place(actor=Actor.staff(make_staff(Role.LEGAL)), kind="evidence",
                                     object_id=blob_id, reason_code="LEGAL_REQUEST")
    return {"hold_id": hold.id, "blob_id": blob_id}


def _pending_release(user=None) -> dict[str, str]:
    """A release of a hold asked for by another legal person, awaiting approval."""
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.holds import selectors, services
    from tests.conftest import make_staff

    hold = selectors.hold_get(_hold_ref()["hold_id"])
    approval = services.legal_hold_release_request(
        actor=Actor.staff(make_staff(Role.LEGAL)), hold=hold, reason_code="LEGAL_REQUEST")
    return {"approval_id": approval.id}


HOLD_ENDPOINTS = [
    Endpoint("GET", "/api/v1/holds", Perm.HOLDS_VIEW),
    Endpoint("POST", "/api/v1/holds", Perm.HOLDS_PLACE, ok=201, params=_blob_ref,
             body=lambda p: {"kind": "evidence", "object_id": p["blob_id"],
                             "reason_code": "LEGAL_REQUEST", "ticket_ref": "LIT-1"},
             audit=("LEGAL_HOLD_PLACED",)),
    Endpoint("GET", "/api/v1/holds/{hold_id}", Perm.HOLDS_VIEW, params=_hold_ref),
    Endpoint("POST", "/api/v1/holds/{hold_id}/release", Perm.HOLDS_RELEASE, ok=202,
             params=_hold_ref, body={"reason_code": "LEGAL_REQUEST"},
             audit=("APPROVAL_REQUESTED",)),
    # The approvals route again, for a hold's release: only legal decides it; approving writes
    # the decision (the approver's) and the release (the requester's, naming the approver).
    Endpoint("POST", "/api/v1/platform/approvals/{approval_id}/approve", Perm.HOLDS_RELEASE,
             params=_pending_release, body={"reason_code": "LEGAL_REQUEST"}, step_up=True,
             audit=("APPROVAL_DECIDED", "LEGAL_HOLD_RELEASED")),
]


# --- trust profiles and verification (tests/trust) ----------------------------------------------
def _trust_user(user=None, **inputs) -> dict[str, str]:
    """A platform user with a trust profile (made before the request: its creation is recorded
    by Casefile itself, not by the caller)."""
    from tests.trust.helpers import profile

    return {"user_id": profile(**inputs).user_id}


def _on_hold(user=None) -> dict[str, str]:
    from casefile.trust import services
    from tests.trust.helpers import analyst

    params = _trust_user()
    services.trust_hold_set(actor=analyst(), user_id=params["user_id"], hold_type="risk",
                            reason_code="FRAUD_SIGNAL")
    return params


def _verification(state: str = "in_review"):
    def build(user=None) -> dict[str, str]:
        from tests.trust.helpers import verification

        return {"case_id": verification("idv", state).id}

    return build


def _strike(user=None) -> dict[str, str]:
    from casefile.trust import strikes
    from tests.trust.helpers import analyst

    strike = strikes.strike_issue(actor=analyst(), user_id=_trust_user()["user_id"],
                                  policy="harassment", reason_code="POLICY_VIOLATION")
    return {"strike_id": strike.id}


TRUST_ENDPOINTS = [
    Endpoint("GET", "/api/v1/trust/profiles/{user_id}", Perm.TRUST_PROFILE_READ,
             params=_trust_user),
    Endpoint("PATCH", "/api/v1/trust/profiles/{user_id}", Perm.TRUST_EDIT, params=_trust_user,
             body={"is_18plus_attested": True, "reason_code": "CUSTOMER_REQUEST"},
             audit=("TRUST_PROFILE_UPDATED",)),
    Endpoint("GET", "/api/v1/trust/profiles/{user_id}/risk", Perm.TRUST_VIEW,
             params=_trust_user),
    Endpoint("POST", "/api/v1/trust/profiles/{user_id}/risk", Perm.TRUST_EDIT,
             params=_trust_user, body={"score": 80, "reason_code": "FRAUD_SIGNAL"},
             audit=("TRUST_RISK_SCORE_SET",)),
    Endpoint("POST", "/api/v1/trust/profiles/{user_id}/hold", Perm.TRUST_EDIT,
             params=_trust_user, body={"hold_type": "new_acct", "reason_code": "FRAUD_SIGNAL"},
             audit=("TRUST_HOLD_SET",)),
    Endpoint("DELETE", "/api/v1/trust/profiles/{user_id}/hold?reason_code=FRAUD_SIGNAL",
             Perm.TRUST_EDIT, params=_on_hold, audit=("TRUST_HOLD_CLEARED",)),
    Endpoint("GET", "/api/v1/trust/queues/{name}", Perm.TRUST_VIEW,
             params=lambda user: {"name": "idv"}),
    Endpoint("GET", "/api/v1/trust/verifications", Perm.TRUST_VIEW),
    # The profile follows the case (idv none → pending): its entry is the opener's too.
    Endpoint("POST", "/api/v1/trust/verifications", Perm.TRUST_VERIFY_OPEN, ok=201,
             params=_trust_user,
             body=lambda p: {"user_id": p["user_id"], "type": "idv", "vendor": "persona",
                             "reason_code": "CUSTOMER_REQUEST"},
             audit=("VERIFICATION_CASE_OPENED", "TRUST_PROFILE_UPDATED")),
    Endpoint("GET", "/api/v1/trust/verifications/{case_id}", Perm.TRUST_VIEW,
             params=_verification()),
    Endpoint("GET", "/api/v1/trust/verifications/{case_id}/timeline", Perm.TRUST_VIEW,
             params=_verification()),
    # Passing moves the profile's idv_status (pending → passed): two entries, one command.
    Endpoint("POST", "/api/v1/trust/verifications/{case_id}/transition", Perm.TRUST_VERIFY,
             params=_verification(), body={"to": "passed", "reason_code": "INVESTIGATION"},
             audit=("VERIFICATION_CASE_TRANSITIONED", "TRUST_PROFILE_UPDATED")),
    # An appeal opens a case of kind appeal; the failed profile goes back to pending.
    Endpoint("POST", "/api/v1/trust/verifications/{case_id}/appeal", Perm.TRUST_VERIFY, ok=201,
             params=_verification("failed"),
             body={"note": "the document was valid", "reason_code": "CUSTOMER_REQUEST"},
             audit=("CASE_CREATED", "VERIFICATION_CASE_APPEALED", "TRUST_PROFILE_UPDATED")),
    Endpoint("GET", "/api/v1/trust/profiles/{user_id}/strikes", Perm.TRUST_VIEW,
             params=_trust_user),
    # A harassment strike (3 points): listing_hide and pauses applied (two outbox commands),
    # the profile's strike inputs moved.
    Endpoint("POST", "/api/v1/trust/profiles/{user_id}/strikes", Perm.TRUST_STRIKE, ok=201,
             params=_trust_user,
             body={"policy": "harassment", "reason": "abuse in messages",
                   "reason_code": "POLICY_VIOLATION"},
             audit=("STRIKE_ISSUED", "TRUST_PROFILE_UPDATED")),
    # Reversing it lifts both and moves the profile back.
    Endpoint("POST", "/api/v1/trust/strikes/{strike_id}/reverse", Perm.TRUST_STRIKE, ok=201,
             params=_strike, body={"reason_code": "CUSTOMER_REQUEST"},
             audit=("STRIKE_REVERSED", "TRUST_PROFILE_UPDATED")),
]


# --- moderation (tests/trust/test_moderation.py) ------------------------------------------------
def _moderated(user=None) -> dict[str, str]:
    """An item the rules decided (no published set: allowed)."""
    from casefile.audit.actor import Actor
    from casefile.trust import moderation

    row = moderation.moderation_decide(
        actor=Actor.system("platform"),
        item_data={"kind": "media", "item_id": "med_perm", **_moderation_user()})
    return {"mod_id": row.id}


def _moderation_user() -> dict[str, str]:
    return {"subject_user_id": _trust_user()["user_id"]}


def _rule_draft(user=None) -> dict[str, str]:
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.trust import moderation
    from tests.conftest import make_staff

    draft = moderation.rule_set_draft_save(actor=Actor.staff(make_staff(Role.OPS)),
                                           rules_json={"rules": []}, reason_code="OPERATIONS")
    return {"version": str(draft.version)}


def _hash_list(user=None) -> dict[str, str]:
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.trust import moderation
    from tests.conftest import make_staff

    actor = Actor.staff(make_staff(Role.OPS))
    found = moderation.hash_list_create(actor=actor, name="known_bad", kind="md5",
                                        reason_code="POLICY_VIOLATION")
    moderation.hash_list_add(actor=actor, hash_list=found, values=["a" * 32],
                             reason_code="POLICY_VIOLATION")
    return {"name": found.name, "value": "a" * 32}


MODERATION_ENDPOINTS = [
    Endpoint("POST", "/api/v1/moderation/items", Perm.MODERATION_DECIDE, ok=201,
             params=lambda user: _moderation_user(),
             body=lambda p: {"kind": "message", "item_id": "msg_1", **p,
                             "signals": [{"label": "spam", "score": 0.2}],
                             "reason_code": "OPERATIONS"},
             audit=("MODERATION_DECIDED",)),
    Endpoint("GET", "/api/v1/moderation/items/{mod_id}", Perm.MODERATION_REVIEW,
             params=_moderated),
    Endpoint("GET", "/api/v1/moderation/queue", Perm.MODERATION_REVIEW),
    Endpoint("POST", "/api/v1/moderation/items/{mod_id}/review", Perm.MODERATION_REVIEW, ok=201,
             params=_moderated, body={"decision": "block", "reason_code": "POLICY_VIOLATION"},
             audit=("MODERATION_REVIEWED",)),
    Endpoint("GET", "/api/v1/moderation/rules", Perm.MODERATION_REVIEW),
    Endpoint("PUT", "/api/v1/moderation/rules/draft", Perm.MODERATION_RULES,
             body={"rules": {"rules": []}, "reason_code": "OPERATIONS"},
             audit=("MODERATION_RULES_DRAFT_SAVED",)),
    Endpoint("GET", "/api/v1/moderation/rules/{version}", Perm.MODERATION_REVIEW,
             params=_rule_draft),
    Endpoint("GET", "/api/v1/moderation/rules/{version}/replay", Perm.MODERATION_RULES,
             params=_rule_draft),
    Endpoint("GET", "/api/v1/moderation/rules/{version}/diff", Perm.MODERATION_REVIEW,
             params=_rule_draft),
    Endpoint("POST", "/api/v1/moderation/rules/{version}/publish", Perm.MODERATION_RULES,
             params=_rule_draft, body={"reason_code": "OPERATIONS"},
             audit=("MODERATION_RULES_PUBLISHED",)),
    Endpoint("GET", "/api/v1/moderation/hash-lists", Perm.MODERATION_RULES),
    Endpoint("POST", "/api/v1/moderation/hash-lists", Perm.MODERATION_RULES, ok=201,
             body={"name": "new_list", "kind": "pdq", "reason_code": "POLICY_VIOLATION"},
             audit=("HASH_LIST_CREATED",)),
    Endpoint("GET", "/api/v1/moderation/hash-lists/{name}/entries", Perm.MODERATION_RULES,
             params=_hash_list),
    Endpoint("POST", "/api/v1/moderation/hash-lists/{name}/entries", Perm.MODERATION_RULES,
             ok=201, params=_hash_list,
             body={"values": ["b" * 32], "reason_code": "POLICY_VIOLATION"},
             audit=("HASH_LIST_ENTRY_ADDED",)),
    Endpoint("DELETE",
             "/api/v1/moderation/hash-lists/{name}/entries/{value}?reason_code=POLICY_VIOLATION",
             Perm.MODERATION_RULES, params=_hash_list, audit=("HASH_LIST_ENTRY_REMOVED",)),
]


# --- documents (tests/documents) ----------------------------------------------------------------
def _doc_clause(publish: bool = True):
    from tests.documents import helpers

    return helpers.clause(helpers.legal(), publish=publish)


def _clause_ref(user=None) -> dict[str, str]:
    return {"clause_id": _doc_clause().id}


def _draft_clause_ref(user=None) -> dict[str, str]:
    return {"clause_id": _doc_clause(publish=False).id}


def _clause_body(params: dict[str, str]) -> dict[str, Any]:
    import uuid

    from tests.documents import helpers

    return {"name": f"Clause {uuid.uuid4()}", "body_markdown": helpers.BASE_BODY,
            "variables_json": helpers.BASE_SCHEMA, "city_gate": None, "role_gate": ["model"],
            "reason_code": "COMPLIANCE_REVIEW"}


def _template_ref(user=None, publish: bool = True) -> dict[str, str]:
    from tests.documents import helpers

    return {"template_id": helpers.template(publish=publish).id}


def _template_body(params: dict[str, str]) -> dict[str, Any]:
    import uuid

    return {"name": f"Template {uuid.uuid4()}",
            "clauses_ordered": [{"clause_id": _doc_clause().id, "version": 1, "order": 1}],
            "layout_json": {"page_size": "Letter", "footer": "Page {page} of {pages}"},
            "signer_roles": [{"role": "buyer", "required": True, "order": 1}],
            "reason_code": "COMPLIANCE_REVIEW"}


def _leg_ref(user=None) -> dict[str, str]:
    from tests.documents import helpers

    helpers.template()
    return {"leg_id": helpers.leg().id}


def _new_leg_id(user=None) -> dict[str, str]:
    import uuid

    return {"leg_id": f"leg-{uuid.uuid4()}"}


def _pack_ref(user=None, *, issue: bool = False) -> dict[str, str]:
    from casefile.documents import services
    from tests.documents import helpers

    author = helpers.legal()
    helpers.template(actor=author)
    pack = services.doc_pack_generate(actor=author, leg=helpers.leg(), issue=issue,
                                      reason_code=helpers.REASON)
    return {"pack_id": pack.id}


def _doc_ref(user=None) -> dict[str, str]:
    from casefile.documents.models import Document

    pack_id = _pack_ref(issue=True)["pack_id"]
    return {"doc_id": Document.objects.filter(pack_id=pack_id).values_list("id", flat=True)[0]}


_REASON = {"reason_code": "COMPLIANCE_REVIEW"}  # a person's; the platform's machine: ignored

# Documents (DESIGN 9.5): legal authors, the platform upserts legs and (with legal) generates,
# issues and voids packs; staff other than viewers read.
DOCUMENT_ENDPOINTS = [
    Endpoint("GET", "/api/v1/documents/clauses", Perm.DOCUMENTS_VIEW),
    Endpoint("POST", "/api/v1/documents/clauses", Perm.DOCUMENTS_AUTHOR, ok=201,
             body=_clause_body, audit=("CLAUSE_DRAFTED",)),
    Endpoint("GET", "/api/v1/documents/clauses/{clause_id}", Perm.DOCUMENTS_VIEW,
             params=_clause_ref),
    Endpoint("POST", "/api/v1/documents/clauses/{clause_id}/versions", Perm.DOCUMENTS_AUTHOR,
             ok=201, params=_clause_ref,
             body=lambda p: {k: v for k, v in _clause_body(p).items() if k != "name"},
             audit=("CLAUSE_DRAFTED",)),
    Endpoint("POST", "/api/v1/documents/clauses/{clause_id}/publish", Perm.DOCUMENTS_AUTHOR,
             params=_draft_clause_ref, body=_REASON, audit=("CLAUSE_PUBLISHED",)),
    Endpoint("POST", "/api/v1/documents/clauses/{clause_id}/active", Perm.DOCUMENTS_AUTHOR,
             params=_clause_ref, body={"active": False, **_REASON},
             audit=("CLAUSE_ACTIVE_SET",)),
    Endpoint("GET", "/api/v1/documents/templates", Perm.DOCUMENTS_VIEW),
    Endpoint("POST", "/api/v1/documents/templates", Perm.DOCUMENTS_AUTHOR, ok=201,
             body=_template_body, audit=("TEMPLATE_DRAFTED",)),
    Endpoint("GET", "/api/v1/documents/templates/{template_id}", Perm.DOCUMENTS_VIEW,
             params=_template_ref),
    Endpoint("POST", "/api/v1/documents/templates/{template_id}/versions",
             Perm.DOCUMENTS_AUTHOR, ok=201, params=_template_ref,
             body=lambda p: {k: v for k, v in _template_body(p).items() if k != "name"},
             audit=("TEMPLATE_DRAFTED",)),
    Endpoint("POST", "/api/v1/documents/templates/{template_id}/publish",
             Perm.DOCUMENTS_AUTHOR, params=lambda user: _template_ref(publish=False),
             body=_REASON, audit=("TEMPLATE_PUBLISHED",)),
    Endpoint("POST", "/api/v1/documents/templates/{template_id}/active",
             Perm.DOCUMENTS_AUTHOR, params=_template_ref, body={"active": False, **_REASON},
             audit=("TEMPLATE_ACTIVE_SET",)),
    Endpoint("POST", "/api/v1/documents/templates/{template_id}/preview",
             Perm.DOCUMENTS_AUTHOR, params=_template_ref, body={}),
    Endpoint("PUT", "/api/v1/documents/legs/{leg_id}", Perm.PLATFORM_SYNC, params=_new_leg_id,
             body={"city": "NYC", "provider_role": "photographer", "facts": {"rate": 90},
                   "parties": {"buyer": {"email": "b@example.com", "name": "B"}},
                   "ends_at": "2027-05-01T18:00:00Z"},
             audit=("BOOKING_LEG_UPSERTED",)),
    Endpoint("GET", "/api/v1/documents/legs/{leg_id}", Perm.DOCUMENTS_VIEW, params=_leg_ref),
    Endpoint("GET", "/api/v1/documents/legs/{leg_id}/packs", Perm.DOCUMENTS_VIEW,
             params=_leg_ref),
    Endpoint("POST", "/api/v1/documents/legs/{leg_id}/packs", Perm.DOCUMENTS_ISSUE, ok=201,
             params=_leg_ref, body=_REASON, audit=("DOC_PACK_GENERATED",)),
    Endpoint("GET", "/api/v1/documents/packs/{pack_id}", Perm.DOCUMENTS_VIEW,
             params=_pack_ref),
    Endpoint("POST", "/api/v1/documents/packs/{pack_id}/issue", Perm.DOCUMENTS_ISSUE,
             params=_pack_ref, body=_REASON, audit=("DOC_PACK_ISSUED",)),
    Endpoint("POST", "/api/v1/documents/packs/{pack_id}/void", Perm.DOCUMENTS_ISSUE,
             params=_pack_ref, body={"reason": "booking cancelled", **_REASON},
             audit=("DOC_PACK_VOIDED",)),
    Endpoint("GET", "/api/v1/documents/documents/{doc_id}", Perm.DOCUMENTS_VIEW,
             params=_doc_ref),
    Endpoint("GET", "/api/v1/documents/documents/{doc_id}/pdf", Perm.DOCUMENTS_VIEW,
             params=_doc_ref),
]


# --- signing (tests/documents/test_signing.py) ---------------------------------------------------
def _issued_pack_ref(user=None) -> dict[str, str]:
    from tests.documents.signing_helpers import issued_pack

    return {"pack_id": issued_pack().id}


def _signed_doc_ref(user=None) -> dict[str, str]:
    from casefile.documents import signing
    from tests.documents.signing_helpers import documents, sent_pack, tokens

    pack, sent = sent_pack()
    doc = documents(pack)[0]
    signing.signing_link_sign(token=tokens(sent, doc.id)["buyer"], typed_name="Bea Buyer",
                              consent=True)
    return {"doc_id": doc.id}


# Sending an issued pack is part of issuing it (the platform at checkout, or legal by hand);
# a document's sign events are read like the document. The provider webhook
# (/api/v1/documents/webhooks/{provider}) and the signing pages (/sign/<token>/) are outside
# the API and its roles: a provider's signature and a signing link's token are their only
# credentials (tests/documents/test_signing.py).
SIGNING_ENDPOINTS = [
    Endpoint("POST", "/api/v1/documents/packs/{pack_id}/send", Perm.DOCUMENTS_ISSUE,
             params=_issued_pack_ref, body={"provider": "local", **_REASON},
             audit=("DOC_PACK_SENT",)),
    Endpoint("GET", "/api/v1/documents/documents/{doc_id}/sign-events", Perm.DOCUMENTS_VIEW,
             params=_signed_doc_ref),
]
