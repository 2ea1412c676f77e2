"""The webhook log in the console: who opens it, its filters, a delivery's page, and the
deliveries shown on a verification case's page."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from casefile.accounts.permissions import Perm, has_perm
from casefile.accounts.roles import Role
from casefile.webhooks.models import Outcome, WebhookDelivery
from tests.conftest import CommittingClient, make_staff
from tests.trust import helpers as trust
from tests.webhooks.helpers import SAMPLES, SECRET, VENDORS, deliver, post, sample

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.WEBHOOK_SECRETS = {name: [SECRET] for name in VENDORS}


def signed_in(*roles: Role) -> CommittingClient:
    client = CommittingClient()
    client.force_login(make_staff(*roles))
    return client


@pytest.mark.parametrize("role", list(Role))
def test_the_log_opens_for_the_roles_the_matrix_allows(role):
    deliver("persona")
    row = WebhookDelivery.objects.get()
    client = signed_in(role)
    expected = 200 if has_perm({role}, Perm.TRUST_VIEW) else 403
    for url in ("/webhooks/", f"/webhooks/{row.id}/"):
        assert client.get(url).status_code == expected, url


def test_the_log_filters_by_vendor_outcome_and_case():
    case = trust.verification("idv", vendor="veriff", vendor_session_id=SAMPLES["veriff"][1])
    deliver("veriff")
    deliver("checkr")
    body = sample("onfido")
    post("onfido", body, {"X-SHA2-Signature": "0" * 64})
    client = signed_in(Role.ANALYST)
    page = client.get("/webhooks/").content.decode()
    assert page.count('href="/webhooks/whd_') == 3
    by_vendor = client.get("/webhooks/?vendor=checkr").content.decode()
    assert by_vendor.count('href="/webhooks/whd_') == 1 and ">checkr<" in by_vendor
    refused = client.get("/webhooks/?outcome=signature_invalid").content.decode()
    assert refused.count('href="/webhooks/whd_') == 1 and "no secret matched" in refused
    about = client.get(f"/webhooks/?case_id={case.pk}").content.decode()
    assert about.count('href="/webhooks/whd_') == 1 and ">veriff<" in about


def test_a_held_delivery_is_found_under_its_case_and_its_resolution():
    deliver("persona")
    case = trust.verification("idv", vendor="persona", vendor_session_id=SAMPLES["persona"][1])
    client = signed_in(Role.VIEWER)
    page = client.get(f"/webhooks/?case_id={case.pk}").content.decode()
    assert page.count('href="/webhooks/whd_') == 1
    assert "held_for_case" in page and "applied" in page
    assert client.get("/webhooks/?outcome=applied").content.decode().count(
        'href="/webhooks/whd_') == 1


@pytest.mark.parametrize("query", ["vendor=jumio", "outcome=maybe", "case_id=cas_1",
                                   "cursor=%%%", "event_id=" + "x" * 400])
def test_a_bad_filter_is_a_page_not_a_server_error(query):
    response = signed_in(Role.ANALYST).get(f"/webhooks/?{query}")
    assert 400 <= response.status_code < 500


def test_a_deliverys_page_shows_what_was_done_and_never_a_secret():
    case = trust.verification("background", vendor="checkr",
                              vendor_session_id=SAMPLES["checkr"][1])
    deliver("checkr")
    row = WebhookDelivery.objects.get()
    page = signed_in(Role.ANALYST).get(f"/webhooks/{row.id}/").content.decode()
    assert row.body_sha256 in page and row.evidence_id in page and case.pk in page
    assert "pending → in_review → passed" in page
    assert SECRET not in page
    assert signed_in(Role.ANALYST).get("/webhooks/whd_nothing/").status_code == 404


def test_a_refused_delivery_says_its_body_was_not_kept():
    post("veriff", sample("veriff"), {"X-HMAC-SIGNATURE": "0" * 64})
    row = WebhookDelivery.objects.get()
    assert row.outcome == Outcome.SIGNATURE_INVALID
    page = signed_in(Role.ANALYST).get(f"/webhooks/{row.id}/").content.decode()
    assert "not kept" in page


def test_the_case_page_include_lists_its_deliveries():
    case = trust.verification("idv", vendor="persona", vendor_session_id=SAMPLES["persona"][1])
    deliver("persona")
    html = Template("{% load webhooks %}{% webhook_deliveries case %}").render(
        Context({"case": case}))
    assert 'id="webhook-deliveries"' in html and "applied" in html
    other = trust.verification("idv")
    empty = Template("{% load webhooks %}{% webhook_deliveries case %}").render(
        Context({"case": other}))
    assert "No delivery" in empty
