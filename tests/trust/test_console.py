"""The trust console: pages by role, flags with their reasons, queues, a verification case's
page with its forms, preview changing nothing, and the link from the platform user's page."""

import pytest

from casefile.accounts.permissions import Perm, has_perm
from casefile.accounts.roles import Role
from casefile.trust import services
from casefile.trust.models import TrustProfile
from tests.conftest import CommittingClient as Client
from tests.conftest import make_staff
from tests.evidence.helpers import upload
from tests.trust.helpers import WEBHOOK, analyst, profile, verification

pytestmark = pytest.mark.django_db
ROLES = [Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS, Role.LEGAL, Role.ADMIN]


def signed_in(*roles):
    client = Client()
    client.force_login(make_staff(*roles))
    return client


@pytest.fixture
def world():
    user_id = profile(is_18plus_attested=True, idv_status="passed", bg_status="clear").user_id
    services.trust_risk_score_set(actor=analyst(), user_id=user_id, score=90,
                                  reason="chargebacks", reason_code="FRAUD_SIGNAL")
    blob = upload()
    case = verification("idv", "in_review", user_id=user_id)
    case = services.verification_case_transition(actor=WEBHOOK, case=case, to="passed",
                                                 decision="approved", evidence_ids=[blob.id])
    return {"user_id": user_id, "case": case, "blob": blob}


def pages(w):
    return {"trust page": f"/trust/users/{w['user_id']}/", "queues": "/trust/",
            "idv queue": "/trust/queues/idv/", "trusted pro": "/trust/queues/trusted_pro/",
            "finance": "/trust/queues/finance/",
            "verification": f"/trust/verifications/{w['case'].id}/"}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_the_trust_pages_its_permissions_allow(world, role):
    client = signed_in(role)
    for name, url in pages(world).items():
        response = client.get(url)
        assert response.status_code == (200 if has_perm({role}, Perm.TRUST_VIEW) else 403), name
    user_page = client.get(f"/platform/users/{world['user_id']}/").content.decode()
    assert (f'href="/trust/users/{world["user_id"]}/"' in user_page) == has_perm(
        {role}, Perm.TRUST_VIEW)


def test_the_trust_page_shows_flags_with_reasons_risk_cases_and_evidence(world):
    page = signed_in(Role.ANALYST).get(f"/trust/users/{world['user_id']}/").content.decode()
    assert "risk score 90 is at or above the finance threshold 70" in page
    assert "the account is on a" not in page
    assert world["case"].id in page and f'href="/evidence/{world["blob"].id}/"' in page
    assert "chargebacks" in page and "0 → 90" in page
    assert 'action="/trust/users/' in page  # the analyst's forms


def test_the_trust_page_previews_the_users_evidence_redacted(world):
    from tests.evidence.helpers import TEXT, png

    text = upload(platform_user_id=world["user_id"])
    image = upload(platform_user_id=world["user_id"], data=png(),
                   content_type="image/png", pii_map=[{"kind": "face", "locator": [0, 0, 4, 4]}])
    page = signed_in(Role.ANALYST).get(f"/trust/users/{world['user_id']}/").content.decode()
    assert f'href="/evidence/{text.id}/"' in page and "[REDACTED:" in page
    assert "Alice" not in page and "Alice" in TEXT.decode()  # the original's name is not shown
    assert f'src="/evidence/{image.id}/redacted/"' in page
    viewer_page = signed_in(Role.VIEWER).get(f"/trust/users/{world['user_id']}/")
    assert 'id="evidence"' not in viewer_page.content.decode()  # no evidence.view


def test_a_viewer_sees_no_forms(world):
    page = signed_in(Role.VIEWER).get(f"/trust/users/{world['user_id']}/").content.decode()
    assert 'action="/trust/' not in page


def test_the_queues_list_who_they_should(world):
    client = signed_in(Role.ANALYST)
    assert world["user_id"] in client.get("/trust/queues/finance/").content.decode()
    assert world["user_id"] in client.get("/trust/queues/trusted_pro/").content.decode()
    assert world["user_id"] not in client.get("/trust/queues/idv/").content.decode()
    assert client.get("/trust/queues/nope/").status_code == 422


def test_the_verification_page_offers_the_allowed_moves_and_the_appeal(world):
    page = signed_in(Role.ANALYST).get(f"/trust/verifications/{world['case'].id}/")
    text = page.content.decode()
    assert "Appeal" in text and "approved" in text
    assert f'href="/evidence/{world["blob"].id}/"' in text


def test_preview_changes_nothing(world):
    client = signed_in(Role.ANALYST)
    response = client.post(f"/trust/users/{world['user_id']}/hold/",
                           {"hold_type": "risk", "reason_code": "FRAUD_SIGNAL", "preview": "1"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "hold_type" in response.content.decode()
    assert TrustProfile.objects.get(pk=world["user_id"]).hold_type == "none"


def test_a_refused_move_is_explained(world):
    client = signed_in(Role.ANALYST)
    response = client.post(f"/trust/verifications/{world['case'].id}/move/",
                           {"to": "pending", "reason_code": "INVESTIGATION"}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("cannot move to pending" in m for m in messages)
