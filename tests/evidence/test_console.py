"""The console's evidence screens: who opens them, the redacted copy by default, the original on
request (audited), the chain of custody, shredding with a preview."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from casefile.accounts.permissions import Perm, has_perm
from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.evidence import services
from casefile.evidence.models import EvidenceBlob
from tests.conftest import CommittingClient, make_staff
from tests.evidence.helpers import TEXT, place_hold, png, staff, upload

pytestmark = pytest.mark.django_db
STAFF_ROLES = [Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS, Role.LEGAL, Role.ADMIN]


def signed_in(*roles: Role) -> CommittingClient:
    client = CommittingClient()
    client.force_login(make_staff(*roles))
    return client


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_pages_open_for_the_roles_the_matrix_allows(role):
    blob = upload()
    client = signed_in(role)
    expected = 200 if has_perm({role}, Perm.EVIDENCE_VIEW) else 403
    for url in ("/evidence/", f"/evidence/{blob.id}/", f"/evidence/{blob.id}/redacted/"):
        assert client.get(url).status_code == expected, url
    navigation = client.get("/cases/").content.decode()
    assert ('href="/evidence/"' in navigation) == has_perm({role}, Perm.EVIDENCE_VIEW)


def test_blob_page_shows_the_redacted_copy_and_the_custody_not_the_original():
    blob = upload()
    services.evidence_original_read(actor=staff(Role.LEGAL), blob=blob,
                                    reason_code="LEGAL_REQUEST")
    html = signed_in(Role.ANALYST).get(f"/evidence/{blob.id}/").content.decode()
    assert "[REDACTED:email]" in html and "alice@example.com" not in html
    assert "EVIDENCE_UPLOADED" in html and "EVIDENCE_ORIGINAL_VIEWED" in html
    assert "Show original" not in html  # an analyst may not
    assert f"/evidence/{blob.id}/shred/" not in html  # nor shred it


def test_legal_views_the_original_with_a_reason_and_it_is_audited():
    blob = upload()
    client = signed_in(Role.LEGAL)
    page = client.get(f"/evidence/{blob.id}/").content.decode()
    assert "Show original (audited)" in page
    shown = client.post(f"/evidence/{blob.id}/", {"reason_code": "LEGAL_REQUEST"})
    html = shown.content.decode()
    assert shown.status_code == 200 and "alice@example.com" in html
    entry = AuditEntry.objects.get(resource=f"evidence:{blob.id}",
                                   action="EVIDENCE_ORIGINAL_VIEWED")
    assert entry.reason_code == "LEGAL_REQUEST"
    refused = client.post(f"/evidence/{blob.id}/", {"reason_code": ""})
    assert refused.status_code == 302  # back, with the message
    assert AuditEntry.objects.filter(action="EVIDENCE_ORIGINAL_VIEWED").count() == 1


def test_images_are_shown_inline_redacted_and_the_original_as_data():
    blob = upload(data=png(), content_type="image/png",
                  pii_map=[{"kind": "face", "locator": [0, 0, 5, 5]}])
    client = signed_in(Role.ADMIN)
    html = client.get(f"/evidence/{blob.id}/").content.decode()
    assert f'src="/evidence/{blob.id}/redacted/"' in html
    image = client.get(f"/evidence/{blob.id}/redacted/")
    assert image["Content-Type"] == "image/png" and "inline" in image["Content-Disposition"]
    shown = client.post(f"/evidence/{blob.id}/", {"reason_code": "LEGAL_REQUEST"})
    assert 'src="data:image/png;base64,' in shown.content.decode()


def test_shred_preview_changes_nothing_then_apply_shreds():
    blob = upload()
    client = signed_in(Role.LEGAL)
    preview = client.post(f"/evidence/{blob.id}/shred/",
                          {"reason_code": "CUSTOMER_REQUEST", "preview": "1"},
                          headers={"HX-Request": "true"})
    assert "EVIDENCE_SHREDDED" in preview.content.decode()
    assert EvidenceBlob.objects.get(pk=blob.pk).wrapped_key is not None
    done = client.post(f"/evidence/{blob.id}/shred/", {"reason_code": "CUSTOMER_REQUEST"},
                       follow=True)
    html = done.content.decode()
    assert "shredded" in html and "Show original" not in html
    assert EvidenceBlob.objects.get(pk=blob.pk).wrapped_key is None


def test_a_held_blob_offers_no_shred_and_refuses_one():
    blob = upload()
    place_hold(blob)
    client = signed_in(Role.LEGAL)
    assert "cannot be shredded" in client.get(f"/evidence/{blob.id}/").content.decode()
    refused = client.post(f"/evidence/{blob.id}/shred/", {"reason_code": "CUSTOMER_REQUEST"},
                          follow=True)
    assert any("legal hold" in str(m) for m in refused.context["messages"])


def test_upload_form_stores_and_lists_the_blob():
    client = signed_in(Role.SUPPORT)
    response = client.post("/evidence/upload/", {
        "file": SimpleUploadedFile("chat.txt", TEXT, "text/plain"),
        "pii_map": '[{"kind": "email", "locator": [27, 44]}]', "reason_code": "INVESTIGATION",
        "platform_user_id": "usr_alice"}, follow=True)
    blob = EvidenceBlob.objects.get()
    assert blob.source == "console" and blob.platform_user_id == "usr_alice"
    assert response.redirect_chain[-1][0] == f"/evidence/{blob.id}/"
    listed = client.get("/evidence/?platform_user_id=usr_alice").content.decode()
    assert blob.id in listed and "Upload evidence" in listed
    bad = client.post("/evidence/upload/", {
        "file": SimpleUploadedFile("x.png", b"nope", "image/png"), "pii_map": "[]",
        "reason_code": "INVESTIGATION"}, follow=True)
    assert any("image" in str(m) for m in bad.context["messages"])
    assert EvidenceBlob.objects.count() == 1
