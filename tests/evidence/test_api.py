"""The evidence API: multipart upload, metadata, the redacted copy, the audited original, shred."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.evidence.models import EvidenceBlob
from tests.evidence.helpers import JSON_DOC, TEXT, TEXT_MAP, place_hold, png, upload

pytestmark = pytest.mark.django_db


def post_upload(client, data: bytes, content_type: str, pii_map, **fields):
    headers = {"Authorization": f"Bearer {client.token}"}
    form = {"file": SimpleUploadedFile("evidence", data, content_type),
            "pii_map": json.dumps(pii_map), "reason_code": "INVESTIGATION", **fields}
    return client.post("/api/v1/evidence", form, headers=headers)


def test_upload_an_image_then_read_metadata_redacted_and_original(api_as):
    analyst, legal = api_as(Role.ANALYST), api_as(Role.LEGAL)
    original = png(40, 30)
    created = post_upload(analyst, original, "image/png",
                          [{"kind": "face", "locator": [0, 0, 10, 10]}],
                          platform_user_id="usr_alice", source="webhook:test")
    assert created.status_code == 201, created.content
    blob = created.json()
    assert blob["id"].startswith("evb_") and blob["pii_kinds"] == ["face"]
    assert blob["readable"] is True and blob["platform_user_id"] == "usr_alice"
    meta = analyst.call("GET", f"/api/v1/evidence/{blob['id']}")
    assert meta.json()["sha256"] == blob["sha256"]
    redacted = analyst.call("GET", f"/api/v1/evidence/{blob['id']}/redacted")
    assert redacted.status_code == 200 and redacted["Content-Type"] == "image/png"
    assert "sandbox" in redacted["Content-Security-Policy"]
    assert Image.open(io.BytesIO(redacted.content)).convert("RGB").getpixel((5, 5)) == (0, 0, 0)
    refused = analyst.call("POST", f"/api/v1/evidence/{blob['id']}/original",
                           {"reason_code": "LEGAL_REQUEST"})
    assert refused.status_code == 403
    read = legal.call("POST", f"/api/v1/evidence/{blob['id']}/original",
                      {"reason_code": "LEGAL_REQUEST", "ticket_ref": "LGL-7"})
    assert read.status_code == 200 and read.content == original
    assert read["Cache-Control"] == "no-store" and "attachment" in read["Content-Disposition"]
    entry = AuditEntry.objects.get(resource=f"evidence:{blob['id']}",
                                   action="EVIDENCE_ORIGINAL_VIEWED")
    assert entry.ticket_ref == "LGL-7"
    listed = analyst.call("GET", "/api/v1/evidence?platform_user_id=usr_alice")
    assert [b["id"] for b in listed.json()["items"]] == [blob["id"]]


def test_original_read_requires_a_reason_code(api_as):
    blob = upload()
    legal = api_as(Role.LEGAL)
    for body in ({}, {"reason_code": ""}, {"reason_code": "NOT_A_CODE"}):
        response = legal.call("POST", f"/api/v1/evidence/{blob.id}/original", body)
        assert response.status_code == 422, body
    assert not AuditEntry.objects.filter(action="EVIDENCE_ORIGINAL_VIEWED").exists()


def test_text_is_served_as_plain_text_whatever_its_type(api_as):
    blob = upload(data=b"<script>alert(1)</script> Alice", content_type="text/html",
                  pii_map=[{"kind": "name", "locator": [26, 31]}])
    response = api_as(Role.ANALYST).call("GET", f"/api/v1/evidence/{blob.id}/redacted")
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"<script>alert(1)</script> [REDACTED:name]"


@pytest.mark.parametrize("data,content_type,pii_map", [
    (TEXT, "text/plain", [TEXT_MAP[0], {"kind": "name", "locator": "/user"}]),
    (JSON_DOC, "application/json", [{"kind": "name", "locator": "/user/name"},
                                    {"kind": "name", "locator": [0, 4]}]),
    (png(), "image/png", [{"kind": "face", "locator": [0, 0, 2, 2]},
                          {"kind": "face", "locator": [0, 4]}]),
    (JSON_DOC, "application/json", [{"kind": "name", "locator": "/user/name"},
                                    {"kind": "name", "locator": "/nobody"}]),
])
def test_wrong_locators_are_422_with_the_index(api_as, data, content_type, pii_map):
    response = post_upload(api_as(Role.ANALYST), data, content_type, pii_map)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["details"]["index"] == 1
    assert EvidenceBlob.objects.count() == 0


@pytest.mark.parametrize("data,content_type", [(b"GIF89a", "image/png"),
                                               (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
                                               (b"garbage", "image/jpeg")])
def test_bad_image_data_is_422(api_as, data, content_type):
    response = post_upload(api_as(Role.ANALYST), data, content_type, [])
    assert response.status_code == 422


def test_bad_pii_map_json_is_422(api_as):
    client = api_as(Role.ANALYST)
    response = client.post("/api/v1/evidence", {
        "file": SimpleUploadedFile("e.txt", b"hello", "text/plain"), "pii_map": "[{",
        "reason_code": "INVESTIGATION"}, headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 422


def test_uploads_over_the_limit_are_413(api_as, settings):
    settings.EVIDENCE_MAX_BYTES = 16
    response = post_upload(api_as(Role.ANALYST), b"x" * 17, "text/plain", [])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_shred_then_the_original_is_refused_and_the_rest_remains(api_as):
    blob = upload()
    legal = api_as(Role.LEGAL)
    shredded = legal.call("POST", f"/api/v1/evidence/{blob.id}/shred",
                          {"reason_code": "CUSTOMER_REQUEST"})
    assert shredded.status_code == 200 and shredded.json()["readable"] is False
    assert shredded.json()["sha256"] == blob.sha256
    again = legal.call("POST", f"/api/v1/evidence/{blob.id}/original",
                       {"reason_code": "LEGAL_REQUEST"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "evidence_shredded"
    redacted = legal.call("GET", f"/api/v1/evidence/{blob.id}/redacted")
    assert redacted.status_code == 200 and b"[REDACTED:email]" in redacted.content


def test_shred_under_hold_is_409_naming_the_hold(api_as):
    blob = upload()
    place_hold(blob)
    response = api_as(Role.ADMIN).call("POST", f"/api/v1/evidence/{blob.id}/shred",
                                       {"reason_code": "CUSTOMER_REQUEST"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "legal_hold" and "legal hold" in error["message"]


def test_unknown_blob_is_404(api_as):
    response = api_as(Role.ANALYST).call("GET", "/api/v1/evidence/evb_01JNOTHERE0000000000000000")
    assert response.status_code == 404
