"""The audit list's one filter (`selectors.AuditFilter`): the same fields, validation and result
through the API, the console and the export; bad values are 422 (a page in the console), never
500; the export takes the reason from the person asking."""

import orjson
import pytest

from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from tests.audit.helpers import record_entries
from tests.conftest import CommittingClient as Client
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger():
    return record_entries(14)  # LIMIT_OVERRIDE on ten_0 … ten_6, twice each


def console_as(role: Role) -> Client:
    client = Client()
    client.force_login(make_staff(role))
    return client


def api_seqs(api, query: str) -> list[int]:
    response = api.call("GET", f"/api/v1/audit/entries?limit=500&{query}")
    assert response.status_code == 200, response.content
    return [e["seq"] for e in response.json()["items"]]


def console_seqs(client: Client, query: str) -> list[int]:
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 200, response.content[:300]
    return [e.seq for e in response.context["entries"]]


@pytest.mark.parametrize("query", [
    "target_tenant_id=ten_3",
    "action=LIMIT_OVERRIDE&action=STAFF_USER_CREATED",
    "action=STAFF_USER_CREATED",
    "risk=MEDIUM",
    "risk=HIGH&risk=CRITICAL",
    "resource=tenant:ten_1",
    "actor=ops@example.com",
    "since=2000-01-01T00:00&until=2199-01-01T00:00",
    "until=2000-01-01T00:00",
])
def test_api_and_console_read_one_filter_alike(api_as, ledger, query):
    api, console = api_as(Role.ADMIN), console_as(Role.ADMIN)
    expected = api_seqs(api, query)
    assert console_seqs(console, query) == expected[:50]
    everything = api_seqs(api, "")
    assert set(expected) <= set(everything)


def test_the_filters_select_what_they_name(api_as, ledger):
    api = api_as(Role.ADMIN)
    assert len(api_seqs(api, "target_tenant_id=ten_3")) == 2
    assert len(api_seqs(api, "action=LIMIT_OVERRIDE")) == 14
    assert len(api_seqs(api, "action=STAFF_USER_CREATED")) == 1  # the admin's own account
    assert api_seqs(api, "until=2000-01-01T00:00") == []


def test_blank_console_fields_mean_no_filter(ledger):
    console = console_as(Role.OPS)
    blank = "actor=&action=&risk=&resource=&target_tenant_id=&target_user_id=&since=&until="
    assert console_seqs(console, blank) == console_seqs(console, "")


@pytest.mark.parametrize("query", [
    "since=yesterday",
    "until=2026-13-45T99:00",
    "risk=SEVERE",
    "action=NOT_AN_ACTION",
    "target_tenant_id=usr_wrong_prefix",
    "target_user_id=" + "usr_" + "x" * 60,
    "resource=" + "r" * 201,
    "actor=" + "a" * 300,
    "actor=nul%00byte",
])
def test_bad_filters_are_422_in_the_api_and_a_page_in_the_console(api_as, query):
    response = api_as(Role.ADMIN).call("GET", f"/api/v1/audit/entries?{query}")
    assert response.status_code in (400, 422), response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
    page = console_as(Role.ADMIN).get(f"/audit/?{query}")
    assert page.status_code in (400, 422)
    export = api_as(Role.ADMIN).call(
        "GET", f"/api/v1/audit/export?reason_code=COMPLIANCE_REVIEW&{query}")
    assert export.status_code in (400, 422)
    assert not AuditEntry.objects.filter(action="EXPORT_REQUESTED").exists()


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=501", "limit=abc",
                                   "limit=99999999999999999999999", "cursor=%21%21%21"])
def test_bad_paging_is_422(api_as, query):
    response = api_as(Role.ADMIN).call("GET", f"/api/v1/audit/entries?{query}")
    assert response.status_code == 422, response.content


def test_export_records_the_persons_reason_and_the_filter(api_as, ledger):
    client = api_as(Role.ADMIN)
    response = client.call(
        "GET", "/api/v1/audit/export?reason_code=LEGAL_REQUEST&target_tenant_id=ten_2"
               "&since=2000-01-01T00:00:00Z")
    assert response.status_code == 200
    lines = [orjson.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert {line["target_tenant_id"] for line in lines} == {"ten_2"} and len(lines) == 2
    entry = AuditEntry.objects.get(action="EXPORT_REQUESTED")
    assert entry.reason_code == "LEGAL_REQUEST"
    assert entry.metadata["filter"] == {"target_tenant_id": "ten_2",
                                        "since": "2000-01-01T00:00:00Z"}


@pytest.mark.parametrize("reason", ["", "reason_code=", "reason_code=BECAUSE"])
def test_export_without_a_known_reason_is_refused(api_as, ledger, reason):
    response = api_as(Role.ADMIN).call("GET", f"/api/v1/audit/export?{reason}")
    assert response.status_code == 422
    assert not AuditEntry.objects.filter(action="EXPORT_REQUESTED").exists()


@pytest.mark.parametrize("entry_id", ["not-an-id", "aud_" + "x" * 60, "cas_01ABC"])
def test_entry_ids_are_validated(api_as, entry_id):
    response = api_as(Role.ADMIN).call("GET", f"/api/v1/audit/entries/{entry_id}")
    assert response.status_code == 422


def test_console_entry_of_an_unknown_id_is_404():
    assert console_as(Role.ADMIN).get("/audit/aud_nope/").status_code == 404
