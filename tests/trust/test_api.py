"""The trust API: the platform's one-query read, profile inputs, queues with keyset cursors."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casefile.accounts.roles import Role
from casefile.trust import services
from casefile.trust.models import TrustProfile
from tests.trust.helpers import analyst, platform_user, profile, verification

pytestmark = pytest.mark.django_db


def test_the_platform_reads_a_users_flags_with_reasons_in_one_query(api_as):
    user_id = profile(is_18plus_attested=True, idv_status="passed").user_id
    client = api_as(Role.PLATFORM)
    client.get("/api/v1/health")  # warm the connection and the token path
    response = client.get(f"/api/v1/trust/profiles/{user_id}",
                          headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["payouts_eligible"] == {"eligible": True, "reasons": []}
    assert body["instant_book_eligible"]["eligible"] is False
    assert [r["code"] for r in body["instant_book_eligible"]["reasons"]] == [
        "background_not_clear"]
    assert body["social_verified"] == {"ig": False, "yt": False, "tt": False}
    from casefile.trust import selectors

    with CaptureQueriesContext(connection) as queries:
        selectors.profile_read(user_id)
    assert len(queries) == 1


def test_a_user_without_a_profile_reads_as_the_defaults_and_nothing_is_written(api_as):
    user_id = platform_user()
    response = api_as(Role.PLATFORM).call("GET", f"/api/v1/trust/profiles/{user_id}")
    assert response.status_code == 200
    assert response.json()["payouts_eligible"]["eligible"] is False
    assert not TrustProfile.objects.filter(pk=user_id).exists()
    assert api_as(Role.PLATFORM).call("GET", "/api/v1/trust/profiles/usr_none").status_code == 404


def test_derived_flags_cannot_be_patched(api_as):
    user_id = profile().user_id
    response = api_as(Role.ANALYST).call("PATCH", f"/api/v1/trust/profiles/{user_id}",
                                         {"payouts_eligible": True,
                                          "reason_code": "INVESTIGATION"})
    assert response.status_code == 422
    response = api_as(Role.ANALYST).call("PATCH", f"/api/v1/trust/profiles/{user_id}",
                                         {"idv_status": None, "reason_code": "INVESTIGATION"})
    assert response.status_code == 422


def test_an_invalid_move_is_409_naming_the_allowed_ones(api_as):
    case = verification("idv", "pending")
    response = api_as(Role.ANALYST).call("POST",
                                         f"/api/v1/trust/verifications/{case.id}/transition",
                                         {"to": "passed", "reason_code": "INVESTIGATION"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"]["allowed"] == ["canceled", "expired", "in_review"]


@pytest.mark.parametrize("name", ["idv", "trusted_pro", "finance"])
def test_queues_page_with_keyset_cursors(api_as, name):
    actor = analyst()
    wanted = []
    for score in (75, 90, 80):
        user_id = profile(idv_status="pending", bg_status="clear").user_id
        services.trust_risk_score_set(actor=actor, user_id=user_id, score=score,
                                      reason_code="FRAUD_SIGNAL")
        wanted.append(user_id)
    outside = profile(idv_status="passed").user_id  # in none of the queues
    client = api_as(Role.VIEWER)
    seen, cursor = [], None
    while True:
        path = f"/api/v1/trust/queues/{name}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = client.call("GET", path).json()
        seen += [item["user_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert set(seen) == set(wanted) and len(seen) == 3 and outside not in seen
    if name == "finance":
        scores = [TrustProfile.objects.get(pk=u).risk_score for u in seen]
        assert scores == [90, 80, 75]


def test_verification_list_filters(api_as):
    case = verification("background", "pending")
    verification("idv")
    body = api_as(Role.VIEWER).call(
        "GET", f"/api/v1/trust/verifications?user_id={case.user_id}&type=background").json()
    assert [c["id"] for c in body["items"]] == [case.id]
    assert body["items"][0]["allowed"] == ["canceled", "expired", "in_review"]
