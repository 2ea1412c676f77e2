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

    def send(self, client, path: str, body: dict[str, Any] | None):
        """Make the call with `client` (a tests.conftest.ApiClient)."""
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
