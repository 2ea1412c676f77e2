"""A whole pack signed through the built-in `local` provider in a real browser (Playwright and
Chromium): each signer opens their link, sees the PDF, types their name, consents and signs, in
order; the pack is then signed and each document's v2 PDF is in the store."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from casefile.accounts.roles import Role
from casefile.documents import signing
from casefile.documents.models import DocPack
from casefile.storage import get_store
from tests.conftest import make_staff
from tests.documents.signing_helpers import documents, sent_pack

pytestmark = pytest.mark.django_db(transaction=True)
ROLES = [{"role": "buyer", "required": True, "order": 1},
         {"role": "talent", "required": True, "order": 2}]
SIGNERS = {"buyer": "Bea Buyer", "talent": "Tom Talent"}


@pytest.fixture
def signer_page(browser, live_server, audit_sequencer):
    """`signer_page()` → a fresh browser of its own (a signer has no Casefile account)."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      base_url=live_server.url, user_agent="Signer/1.0")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def test_a_pack_signed_through_local_links(signer_page, open_browser, screenshot):
    pack, sent = sent_pack(templates=2, roles=ROLES)
    docs = documents(pack)
    first = True
    for doc in docs:
        urls = sent.envelopes[doc.id]["signing_urls"]
        for role in ("buyer", "talent"):
            page = signer_page()
            page.goto(urls[role])
            expect(page.locator("h1")).to_have_text(doc.title)
            expect(page.locator("#signer-role")).to_have_text(role)
            expect(page.locator("#signer-name")).to_have_text(SIGNERS[role])
            expect(page.locator("#consent-text")).to_have_text(signing.CONSENT_TEXT)
            frame = page.locator("#signing-pdf")
            pdf_url = frame.get_attribute("src")
            pdf = page.request.get(pdf_url)
            assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
            assert hashlib.sha256(pdf.body()).hexdigest() == doc.render_pdf_sha256
            if first:
                page.wait_for_timeout(500)  # the PDF viewer draws its first page
                screenshot(page, "signing-page")
            page.fill("#typed_name", SIGNERS[role])
            page.check("#consent")
            page.get_by_role("button", name="Sign", exact=True).click()
            expect(page.locator("h1")).to_have_text("Thank you, you have signed")
            if role == "talent":
                expect(page.locator("#signing-state")).to_contain_text("Everyone has now "
                                                                       "signed it")
            if first:
                screenshot(page, "signing-done")
                page.goto(urls[role])
                expect(page.locator("h1")).to_have_text("This signing link has been used")
                screenshot(page, "signing-link-used")
                first = False
            page.close()
    pack = DocPack.objects.get(pk=pack.pk)
    assert pack.status == "signed"
    store = get_store()
    for doc in documents(pack):
        assert doc.envelope_status == "completed"
        v2 = store.get(doc.signed_pdf_key)
        assert doc.signed_pdf_key.endswith(f"{doc.id}_v2.pdf")
        assert hashlib.sha256(v2).hexdigest() == doc.signed_pdf_sha256
        assert store.get(doc.envelope_key)

    # Legal follows it in the console: the leg's pack is signed, each document's signatures
    # listed in order.
    legal = open_browser(make_staff(Role.LEGAL, email="legal@example.com",
                                    password="correct horse battery staple"),
                         "correct horse battery staple")
    legal.goto(f"/documents/legs/{pack.leg_id}/")
    main = legal.locator("main")
    expect(main).to_contain_text(pack.id)
    expect(main).to_contain_text("signed")
    for name in SIGNERS.values():
        expect(main).to_contain_text(name)
    legal.wait_for_timeout(1000)  # the PDF viewers draw their first pages
    screenshot(legal, "documents-leg")


def test_a_signer_waits_for_their_turn_and_may_decline(signer_page, screenshot):
    pack, sent = sent_pack(roles=ROLES)
    doc = documents(pack)[0]
    urls = sent.envelopes[doc.id]["signing_urls"]
    page = signer_page()
    page.goto(urls["talent"])
    expect(page.locator("h1")).to_have_text("It is not your turn to sign yet")
    expect(page.locator("#signing-state")).to_contain_text("waiting for buyer")
    screenshot(page, "signing-not-your-turn")
    page.goto(urls["buyer"])
    page.fill("#reason", "The dates are wrong")
    page.get_by_role("button", name="Decline to sign").click()
    expect(page.locator("h1")).to_have_text("You declined to sign")
    assert DocPack.objects.get(pk=pack.pk).status == "voided"
