from datetime import timedelta

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.cases import services
from casefile.cases.models import Case
from casefile.core.timeutil import now
from tests.cases.helpers import move, open_case
from tests.conftest import ApiClient, make_staff, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def me():
    user = make_staff(Role.ANALYST)
    return user, ApiClient(token_for(user))


def ids(response):
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["items"]]


def test_work_a_case_end_to_end(me):
    user, client = me
    created = client.call("POST", "/api/v1/cases", {
        "kind": "dispute", "title": "Chargeback on order 77", "priority": 2,
        "order_id": "ord_77", "subject_user": "usr_9", "reason_code": "CUSTOMER_REQUEST"})
    assert created.status_code == 201
    case_id = created.json()["id"]
    assert created.json()["sla_due_at"] is not None
    base = f"/api/v1/cases/{case_id}"
    assert client.call("POST", f"{base}/assign", {"assignee_id": user.id,
                                                  "reason_code": "OPERATIONS"}).status_code == 200
    for status in ("triage", "investigating"):
        assert client.call("POST", f"{base}/status", {
            "status": status, "reason_code": "INVESTIGATION"}).status_code == 200
    refused = client.call("POST", f"{base}/status", {"status": "new",
                                                     "reason_code": "INVESTIGATION"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"
    assert refused.json()["error"]["details"]["allowed"] == ["awaiting_user", "resolved"]
    assert client.call("POST", f"{base}/notes", {"content": "refund looks right",
                                                 "reason_code": "INVESTIGATION"}).status_code == 201
    assert client.call("POST", f"{base}/tags", {"name": "chargeback",
                                                "reason_code": "OPERATIONS"}).status_code == 200
    resolved = client.call("POST", f"{base}/status", {"status": "resolved",
                                                      "reason_code": "CUSTOMER_REQUEST"})
    assert resolved.status_code == 200
    closed = client.call("POST", f"{base}/actions", {"action": "close", "payload": {},
                                                     "reason_code": "CUSTOMER_REQUEST"})
    assert closed.status_code == 201
    case = client.call("GET", base).json()
    assert (case["status"], case["tags"], case["assigned_to"]) == ("closed", ["chargeback"],
                                                                   user.id)
    timeline = client.call("GET", f"{base}/timeline").json()["items"]
    assert [t["type"] for t in timeline] == ["status", "status", "note", "status", "status",
                                             "action"]


def test_search(me):
    _, client = me
    analyst = Actor.staff(make_staff(Role.ANALYST))
    a = open_case(analyst, title="Fake reviews on listing", kind="fraud", priority=1,
                  subject_user="usr_1")
    b = open_case(analyst, title="Copyright claim", kind="dmca", priority=4)
    c = move(open_case(analyst, title="Another fake account"), "triage")
    services.case_tag_add(actor=analyst, case=b, name="legal", reason_code="LEGAL_REQUEST")
    assert ids(client.call("GET", "/api/v1/cases?q=fake")) == [c.id, a.id]
    assert ids(client.call("GET", "/api/v1/cases?kind=dmca")) == [b.id]
    assert ids(client.call("GET", "/api/v1/cases?status=triage")) == [c.id]
    assert ids(client.call("GET", "/api/v1/cases?priority=1&priority=4")) == [b.id, a.id]
    assert ids(client.call("GET", "/api/v1/cases?tag=legal")) == [b.id]
    assert ids(client.call("GET", "/api/v1/cases?subject_user=usr_1")) == [a.id]
    assert set(ids(client.call("GET", "/api/v1/cases?assignee=none"))) == {a.id, b.id, c.id}
    page = client.call("GET", "/api/v1/cases?limit=2").json()
    rest = client.call("GET", f"/api/v1/cases?limit=2&cursor={page['next_cursor']}").json()
    assert [x["id"] for x in page["items"] + rest["items"]] == [c.id, b.id, a.id]


def test_queues(me, monkeypatch):
    user, client = me
    analyst = Actor.staff(make_staff(Role.ANALYST))
    urgent = open_case(analyst, priority=1, kind="incident")  # due in 1 h
    routine = open_case(analyst, priority=5)
    mine = open_case(analyst, priority=3)
    services.case_assign(actor=analyst, case=mine, assignee=user, reason_code="OPERATIONS")
    assert ids(client.call("GET", "/api/v1/cases/queues/mine")) == [mine.id]
    assert ids(client.call("GET", "/api/v1/cases/queues/unassigned")) == [urgent.id, routine.id]
    assert ids(client.call("GET", "/api/v1/cases/queues/breaching?hours=2")) == [urgent.id]
    Case.objects.filter(pk=urgent.pk).update(sla_due_at=now() - timedelta(minutes=5))
    assert ids(client.call("GET", "/api/v1/cases/queues/breached")) == [urgent.id]
    assert client.call("GET", "/api/v1/cases/queues/nope").status_code == 422


def test_bulk_over_the_api(me):
    _, client = me
    analyst = Actor.staff(make_staff(Role.ANALYST))
    cases = [open_case(analyst) for _ in range(2)]
    closed = move(open_case(analyst), "closed")
    response = client.call("POST", "/api/v1/cases/bulk", {
        "case_ids": [c.id for c in cases] + [closed.id], "operation": "close",
        "reason_code": "POLICY_VIOLATION"})
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (2, 1)
    failed = next(r for r in body["results"] if not r["ok"])
    assert failed["case_id"] == closed.id and failed["error"]["code"] == "invalid_transition"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "{case}", {"title": None, "reason_code": "OPERATIONS"}),  # null for a required field
    ("PATCH", "{case}", {"priority": 9, "reason_code": "OPERATIONS"}),
    ("PATCH", "{case}", {"title": "x" * 301, "reason_code": "OPERATIONS"}),  # over the column
    ("PATCH", "{case}", {"summary": "nul\x00", "reason_code": "OPERATIONS"}),
    ("POST", "/api/v1/cases", {"kind": "report", "title": "t", "priority": 2**64,
                               "reason_code": "OPERATIONS"}),
    ("POST", "/api/v1/cases", {"kind": "nonsense", "title": "t", "reason_code": "OPERATIONS"}),
    ("POST", "{case}/actions", {"action": "refund", "payload": {"amount_cents": 2**80},
                                "reason_code": "OPERATIONS"}),
    ("POST", "/api/v1/cases/bulk", {"case_ids": [], "operation": "tag", "value": "x",
                                    "reason_code": "OPERATIONS"}),
    ("GET", "/api/v1/cases?priority=99999999999999999999999", None),
    ("GET", "/api/v1/cases?cursor=WzEsMl0", None),  # a cursor of the wrong shape
    ("GET", "/api/v1/cases/queues/unassigned?cursor=WyJ4IiwieSIsInoiXQ", None),
    ("GET", "/api/v1/cases/queues/breaching?hours=-1", None),
    ("GET", "/api/v1/cases/queues/elsewhere", None),
    ("GET", "/api/v1/cases?limit=0", None),
])
def test_bad_input_is_a_4xx_never_a_5xx(method, path, body):
    client = ApiClient(token_for(make_staff(Role.ADMIN)))
    case = open_case()
    response = client.call(method, path.format(case=f"/api/v1/cases/{case.id}"), body)
    assert response.status_code in (400, 404, 422), response.content
    assert "error" in response.json()
    case.refresh_from_db()
    assert case.title == "Harassment in thread" and case.priority == 3


def test_queues_page_with_cursors_in_their_working_order(me):
    user, client = me
    made = [open_case(priority=p) for p in (5, 1, 3, 1, 2)]
    seen, cursor = [], None
    while True:
        page = client.call("GET", "/api/v1/cases/queues/unassigned?limit=2"
                           + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [c["priority"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [1, 1, 2, 3, 5] and len(made) == 5
