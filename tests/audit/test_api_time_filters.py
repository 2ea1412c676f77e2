"""Time filters on the audit list are bounded and carried in UTC: an offset Python accepts but
PostgreSQL cannot hold (beyond ±15:59), or a year outside 1970–2199, is a 422, never a 500."""

import pytest

from casefile.accounts.roles import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", [
    "until=0403-02-16T03:06:37.38321%2B17:47",  # found by the fuzzer on PostgreSQL
    "since=1969-12-31T23:59:59Z",
    "until=2200-01-01T00:00:00Z",
])
def test_out_of_range_times_are_refused(api_as, query):
    response = api_as(Role.ADMIN).call("GET", f"/api/v1/audit/entries?{query}")
    assert response.status_code == 422, response.content


def test_an_offset_postgresql_cannot_hold_is_read_in_utc(api_as):
    response = api_as(Role.ADMIN).call(
        "GET", "/api/v1/audit/entries?until=2000-02-16T03:06:37%2B17:47")
    assert response.status_code == 200, response.content
