"""The holds console: the pages by role, placing from the list and from an evidence blob's page
(with a preview that changes nothing), the hold's page with its objects and history, and a
release asked for by one legal person and approved by another in the approvals inbox."""

from __future__ import annotations

import pytest

from casefile.accounts.permissions import Perm, has_perm
from casefile.accounts.roles import Role
from casefile.holds.models import LegalHold
from casefile.platform.models import Approval
from casefile.storage import get_store
from tests.conftest import CommittingClient as Client
from tests.conftest import make_staff
from tests.evidence.helpers import upload
from tests.holds.helpers import place

pytestmark = pytest.mark.django_db
ROLES = [Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS, Role.LEGAL, Role.ADMIN]
REASON = {"reason_code": "LEGAL_REQUEST", "ticket_ref": "LIT-9"}


def signed_in(*roles: Role) -> tuple[Client, object]:
    user = make_staff(*roles)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_opens_the_hold_pages_its_permissions_allow(role):
    blob = upload()
    hold = place("evidence", blob.id)
    client, _ = signed_in(role)
    for url in ("/holds/", f"/holds/{hold.id}/", "/holds/?status=active&kind=evidence"):
        response = client.get(url)
        assert response.status_code == (200 if has_perm({role}, Perm.HOLDS_VIEW) else 403), url
    nav = client.get("/holds/" if has_perm({role}, Perm.HOLDS_VIEW) else "/cases/")
    assert ('href="/holds/"' in nav.content.decode()) == has_perm({role}, Perm.HOLDS_VIEW)
    if has_perm({role}, Perm.EVIDENCE_VIEW):
        page = client.get(f"/evidence/{blob.id}/").content.decode()
        assert hold.id in page
        assert ("Place a legal hold on this blob" in page) == has_perm({role}, Perm.HOLDS_PLACE)


def test_place_from_the_evidence_page_after_a_preview_that_changes_nothing():
    blob = upload()
    client, user = signed_in(Role.SUPPORT)
    form = {"kind": "evidence", "object_id": blob.id, "next": f"/evidence/{blob.id}/",
            "note": "preserve", **REASON}
    preview = client.post("/holds/place/", {**form, "preview": "1"}, HTTP_HX_REQUEST="true")
    assert preview.status_code == 200 and "LEGAL_HOLD_PLACED" in preview.content.decode()
    assert LegalHold.objects.count() == 0
    assert not get_store().head(blob.original_key).legal_hold
    done = client.post("/holds/place/", form)
    assert done.status_code == 302 and done["Location"] == f"/evidence/{blob.id}/"
    hold = LegalHold.objects.get()
    assert hold.placed_by == user and hold.note == "preserve" and hold.ticket_ref == "LIT-9"
    assert get_store().head(blob.original_key).legal_hold
    page = client.get(f"/evidence/{blob.id}/").content.decode()
    assert 'id="blob-state">legal hold' in page and "LEGAL_HOLD_PLACED" in page  # custody


def test_the_hold_page_shows_scope_objects_and_history():
    blob = upload()
    hold = place("evidence", blob.id)
    client, _ = signed_in(Role.LEGAL)
    page = client.get(f"/holds/{hold.id}/").content.decode()
    assert f"evidence:{blob.id}" in page and blob.original_key in page
    assert page.count('<span class="pill">ON</span>') == 2
    assert "LEGAL_HOLD_PLACED" in page and "Ask for release" in page
    bad = client.post("/holds/place/", {"kind": "evidence",
                                        "object_id": "evb_01JNOTHERE0000000000000000",
                                        **REASON})
    assert bad.status_code == 404


def test_release_asked_by_one_legal_person_and_approved_by_another(
        django_capture_on_commit_callbacks):
    blob = upload()
    hold = place("evidence", blob.id)
    requester, requester_user = signed_in(Role.LEGAL)
    preview = requester.post(f"/holds/{hold.id}/release/", {**REASON, "preview": "1"},
                             HTTP_HX_REQUEST="true").content.decode()
    assert "LEGAL_HOLD_RELEASED" in preview and "second legal person" in preview
    assert not Approval.objects.exists()
    asked = requester.post(f"/holds/{hold.id}/release/", REASON, follow=True)
    approval = Approval.objects.get()
    assert approval.operation == "legal_hold_release" and approval.requested_by == requester_user
    assert approval.id in asked.content.decode()  # the hold page names the pending request
    inbox = requester.get("/platform/approvals/").content.decode()
    assert "legal_hold_release" in inbox and "yours: someone else must decide" in inbox
    refused = requester.post(f"/platform/approvals/{approval.id}/",
                             {"decision": "approve", **REASON})
    assert refused.status_code == 403 and "someone else" in refused.content.decode()
    assert LegalHold.objects.get(pk=hold.pk).is_active
    approver, approver_user = signed_in(Role.LEGAL)
    assert f"/platform/approvals/{approval.id}/" in approver.get(
        "/platform/approvals/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        approver.post(f"/platform/approvals/{approval.id}/", {"decision": "approve", **REASON})
    released = LegalHold.objects.get(pk=hold.pk)
    assert released.status == "released" and released.release_approved_by == approver_user
    assert not get_store().head(blob.original_key).legal_hold
    page = approver.get(f"/holds/{hold.id}/").content.decode()
    assert "LEGAL_HOLD_RELEASED" in page and "Ask for release" not in page
