"""Issues over HTTP: the API's reads, split and merge, the explorer's issue filter, and the
console's issue page, event page and case page speaking of issues."""

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.cases import services as cases
from casefile.events.models import Event, EventTemplate, Issue
from tests.conftest import make_staff
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db

NAMES = ["root", "uucp", "ftp", "git", "mysql"]


@pytest.fixture
def sshd():
    ingest([{"message": f"Failed password for {name} from 10.0.0.{i} port 22", "service": "sshd",
             "event_id": f"f{i}"} for i, name in enumerate(NAMES)]
           + [{"message": "Connection closed by 10.0.0.9", "service": "sshd", "event_id": "c"}])
    failed = EventTemplate.objects.get(
        fingerprint=Event.objects.get(message__contains="for root").fingerprint).issue
    closed = EventTemplate.objects.get(
        fingerprint=Event.objects.get(message__startswith="Connection").fingerprint).issue
    return failed, closed


def test_an_issue_reads_with_its_templates_and_cases(api_as, sshd):
    failed, _closed = sshd
    analyst = make_staff(Role.ANALYST)
    case = cases.case_create(actor=Actor.staff(analyst), kind="incident", title="Brute force",
                             reason_code="INVESTIGATION")
    event = Event.objects.get(message__contains="for git")
    cases.case_event_link(actor=Actor.staff(analyst), case=case, event_id=event.id,
                          reason_code="INVESTIGATION")
    body = api_as(Role.VIEWER).call("GET", f"/api/v1/events/issues/{failed.id}").json()
    assert body["title"] == "Failed password for <*> from <*> port <*>"
    assert body["service"] == "sshd" and body["locked"] is False
    assert {t["example"].split()[3] for t in body["templates"]} == set(NAMES)
    assert body["cases"] == [{"id": case.id, "title": "Brute force", "status": case.status}]
    detail = api_as(Role.VIEWER).call("GET", f"/api/v1/events/{event.id}").json()
    assert detail["issue"] == {"id": failed.id, "title": failed.title}


def test_the_issue_filter_finds_every_template_of_the_issue(api_as, sshd):
    failed, closed = sshd
    viewer = api_as(Role.VIEWER)
    items = viewer.call("GET", f"/api/v1/events?issue={failed.id}").json()["items"]
    assert len(items) == len(NAMES)
    assert viewer.call("GET", f"/api/v1/events?issue={closed.id}").json()["items"][0][
        "message"] == "Connection closed by 10.0.0.9"
    assert viewer.call("GET", "/api/v1/events?issue=not-an-id").status_code == 422


def test_split_and_merge_through_the_api(api_as, sshd):
    failed, closed = sshd
    analyst = api_as(Role.ANALYST)
    root = Event.objects.get(message__contains="for root").fingerprint
    answer = analyst.call("POST", f"/api/v1/events/issues/{failed.id}/split",
                          {"fingerprints": [root], "reason_code": "OPERATIONS"})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert [t["fingerprint"] for t in body["new_issue"]["templates"]] == [root]
    assert body["issue"]["locked"] and body["new_issue"]["locked"]
    assert len(body["issue"]["templates"]) == len(NAMES) - 1
    merged = analyst.call("POST", f"/api/v1/events/issues/{failed.id}/merge",
                          {"issues": [closed.id], "reason_code": "OPERATIONS"})
    assert merged.status_code == 200
    assert len(merged.json()["templates"]) == len(NAMES)
    gone = analyst.call("GET", f"/api/v1/events/issues/{closed.id}").json()
    assert gone["merged_into"] == failed.id
    again = analyst.call("POST", f"/api/v1/events/issues/{closed.id}/merge",
                         {"issues": [failed.id], "reason_code": "OPERATIONS"})
    assert again.status_code == 409
    # Events of the merged-away issue are found through it still.
    items = analyst.call("GET", f"/api/v1/events?issue={closed.id}").json()["items"]
    assert len(items) == len(NAMES)
    assert [e.action for e in AuditEntry.objects.filter(
        action__startswith="ISSUE_").order_by("seq")] == ["ISSUE_SPLIT", "ISSUE_MERGED"]


@pytest.mark.parametrize("body", [
    {"fingerprints": [], "reason_code": "OPERATIONS"},
    {"fingerprints": ["x" * 65], "reason_code": "OPERATIONS"},
    {"fingerprints": ["unknown"], "reason_code": "OPERATIONS"},
    {"fingerprints": ["unknown"]},
    {"fingerprints": ["unknown"], "reason_code": "NOT_A_CODE"},
])
def test_bad_splits_are_422(api_as, sshd, body):
    failed, _closed = sshd
    answer = api_as(Role.OPS).call("POST", f"/api/v1/events/issues/{failed.id}/split", body)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"]


def test_unknown_issues_are_404_and_bad_ids_422(api_as, db):
    viewer = api_as(Role.VIEWER)
    assert viewer.call("GET", "/api/v1/events/issues/iss_01ABC").status_code == 404
    assert viewer.call("GET", "/api/v1/events/issues/evt_01ABC").status_code == 422


def test_issue_page_splits_and_merges(client, sshd):
    failed, closed = sshd
    client.force_login(make_staff(Role.OPS))
    page = client.get(f"/events/issues/{failed.id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Failed password for &lt;*&gt; from &lt;*&gt; port &lt;*&gt;" in html
    assert 'name="fingerprint"' in html and "Split into a new issue" in html
    root = Event.objects.get(message__contains="for root").fingerprint
    done = client.post(f"/events/issues/{failed.id}/split/",
                       {"fingerprint": [root], "reason_code": "OPERATIONS"})
    assert done.status_code == 302
    assert EventTemplate.objects.get(fingerprint=root).issue_id != failed.id
    merged = client.post(f"/events/issues/{failed.id}/merge/",
                         {"issues": closed.id, "reason_code": "OPERATIONS"})
    assert merged.status_code == 302
    assert client.get(f"/events/issues/{closed.id}/")["Location"].endswith(
        f"/events/issues/{failed.id}/")
    refused = client.post(f"/events/issues/{failed.id}/merge/",
                          {"issues": "iss_nothing", "reason_code": "OPERATIONS"}, follow=True)
    assert "no such issues" in refused.content.decode()
    assert AuditEntry.objects.filter(action="ISSUE_MERGED").count() == 1


def test_viewers_see_issues_but_cannot_regroup(client, sshd):
    failed, _closed = sshd
    client.force_login(make_staff(Role.VIEWER))
    page = client.get(f"/events/issues/{failed.id}/").content.decode()
    assert 'name="fingerprint"' not in page
    root = Event.objects.get(message__contains="for root").fingerprint
    assert client.post(f"/events/issues/{failed.id}/split/",
                       {"fingerprint": [root], "reason_code": "OPERATIONS"}).status_code == 403
    assert Issue.objects.get(pk=failed.id).templates.count() == len(NAMES)


def test_event_and_case_pages_name_the_issue(client, sshd):
    failed, _closed = sshd
    analyst = make_staff(Role.ANALYST)
    client.force_login(analyst)
    event = Event.objects.get(message__contains="for ftp")
    page = client.get(f"/events/{event.id}/").content.decode()
    assert f'href="/events/issues/{failed.id}/"' in page
    case = cases.case_create(actor=Actor.staff(analyst), kind="incident", title="Brute force",
                             reason_code="INVESTIGATION")
    cases.case_event_link(actor=Actor.staff(analyst), case=case, event_id=event.id,
                          reason_code="INVESTIGATION")
    case_page = client.get(f"/cases/{case.id}/").content.decode()
    assert f'href="/events/issues/{failed.id}/"' in case_page


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events/analytics/issues",
                                  "/api/v1/events/analytics/top",
                                  "/api/v1/events/analytics/severity",
                                  "/api/v1/events/analytics/breakdown"])
@pytest.mark.parametrize("extra", ["", "&q=disk", "&environment=prod"])
def test_an_issue_that_matches_nothing_answers_empty(api_as, sshd, path, extra):
    """An unknown issue id (or one whose templates moved) selects no event: an empty answer,
    whichever way the query is answered (rollups, or events for the filters rollups lack)."""
    answer = api_as(Role.VIEWER).call(
        "GET", f"{path}?issue=iss_0&since=2000-01-01T00:00:00Z&severity=warning{extra}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["items"] == []
