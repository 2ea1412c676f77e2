"""The documents console: the library, a clause's and a template's editors with the PDF
preview in a frame, and a leg's page with its packs and their PDFs shown in the page."""

from __future__ import annotations

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.documents import selectors, services
from tests.conftest import CommittingClient, make_staff
from tests.documents import helpers
from tests.documents.helpers import REASON
from tests.holds.helpers import place

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(*roles: Role) -> tuple[CommittingClient, Actor]:
    user = make_staff(*roles)
    client = CommittingClient()
    client.force_login(user)
    return client, Actor.staff(user)


def test_library_editors_and_preview():
    client, author = signed_in(Role.LEGAL)
    template = helpers.template(actor=author, name="Talent SOW")
    page = client.get("/documents/").content.decode()
    assert "Talent SOW" in page and "New clause" in page
    clause_id = template.clauses_ordered[0]["clause_id"]
    assert "Next version" in client.get(f"/documents/clauses/{clause_id}/").content.decode()
    page = client.get(f"/documents/templates/{template.id}/").content.decode()
    assert f"/documents/templates/{template.id}/preview.pdf" in page and "<iframe" in page
    pdf = client.get(f"/documents/templates/{template.id}/preview.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf["Content-Security-Policy"] == "frame-ancestors 'self'"
    refused = client.post(f"/documents/templates/{template.id}/preview.pdf",
                          {"variables": '{"rate": -1}'})
    assert refused.status_code == 302  # back to the editor with the problems named


def test_a_legs_page_shows_its_packs_pdfs_and_holds():
    client, author = signed_in(Role.LEGAL, Role.SUPPORT)
    helpers.template(actor=author)
    leg = helpers.leg()
    pack = services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON, issue=True)
    [doc] = selectors.documents_of(pack)
    place("document", doc.id)
    page = client.get(f"/documents/legs/{leg.id}/").content.decode()
    assert pack.id in page and f"/documents/documents/{doc.id}/v1.pdf" in page
    assert "legal hold" in page
    pdf = client.get(f"/documents/documents/{doc.id}/v1.pdf")
    assert pdf.content.startswith(b"%PDF")


def test_viewers_see_no_documents():
    client, _ = signed_in(Role.VIEWER)
    assert client.get("/documents/").status_code == 403
    assert "/documents/" not in client.get("/cases/").content.decode()


def test_generate_and_issue_from_the_console():
    client, author = signed_in(Role.LEGAL)
    helpers.template(actor=author)
    leg = helpers.leg()
    preview = client.post(f"/documents/legs/{leg.id}/packs/",
                          {"issue": "true", "preview": "1", **{"reason_code": REASON}},
                          HTTP_HX_REQUEST="true")
    assert b"cannot be previewed" in preview.content and not leg.packs.exists()
    client.post(f"/documents/legs/{leg.id}/packs/", {"reason_code": REASON})
    pack = leg.packs.get()
    client.post(f"/documents/packs/{pack.id}/issue/", {"reason_code": REASON})
    pack.refresh_from_db()
    assert pack.status == "issued"
