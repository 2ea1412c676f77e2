"""DSA statements of reasons (issue 12 item 6): one per restrictive decision and account action,
in its transaction; every builder's output valid with every field the Transparency Database
(TDB) requires; the NDJSON export; submission to a fake TDB on 127.0.0.1 (batches, backoff
with time moved, refusals, puids it already holds, an unreachable endpoint); the trigger."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from django.db import DatabaseError, transaction

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core import ids
from casefile.core.errors import Conflict
from casefile.core.timeutil import now
from casefile.platform import services as platform
from casefile.platform.models import Approval, PlatformUser
from casefile.trust import dsa, moderation, statements, strikes
from casefile.trust.models import ModerationItem, RestrictionChange, StatementRecord, Strike
from tests.conftest import make_staff
from tests.trust.helpers import analyst, platform_user, profile

pytestmark = pytest.mark.django_db
_items = itertools.count(1)

# The TDB's required fields (DESIGN 10; StatementStoreRequest): one of the four decision_*
# fields besides these.
REQUIRED = ("decision_ground", "content_type", "category", "content_date", "application_date",
            "decision_facts", "source_type", "automated_detection", "automated_decision", "puid")

RULES = {"rules": [
    {"id": "nudity", "description": "likely nudity",
     "condition": {"signal": "nudity", "gte": 0.8},
     "outcome": {"decision": "blur", "safe_mode_required": True, "reason": "likely nudity",
                 "policy": "adult_content"}},
    {"id": "suggestive", "description": "suggestive",
     "condition": {"signal": "suggestive", "gte": 0.8},
     "outcome": {"decision": "blur", "reason": "suggestive"}},
    {"id": "gore", "description": "graphic violence",
     "condition": {"signal": "violence", "gte": 0.9},
     "outcome": {"decision": "block", "reason": "graphic violence", "policy": "threats"}},
    {"id": "scam", "description": "scam text",
     "condition": {"signal": "scam", "gte": 0.9},
     "outcome": {"decision": "remove", "reason": "scam link", "policy": "scam"}},
]}


@pytest.fixture(autouse=True)
def _fresh_caches():
    moderation.clear_caches()
    yield
    moderation.clear_caches()


def ops() -> Actor:
    return Actor.staff(make_staff(Role.OPS))


def publish() -> None:
    actor = ops()
    draft = moderation.rule_set_draft_save(actor=actor, rules_json=RULES,
                                           reason_code="POLICY_VIOLATION")
    moderation.rule_set_publish(actor=actor, version=draft.version,
                                reason_code="POLICY_VIOLATION")


def decide(label: str | None, *, kind: str = "media", user_id: str | None = None
           ) -> ModerationItem:
    signals = [{"source": "hive", "label": label, "score": 0.95, "model": "v1"}] if label else []
    return moderation.moderation_decide(
        actor=ops(), reason_code="POLICY_VIOLATION",
        item_data={"kind": kind, "item_id": f"itm_{next(_items)}",
                   "subject_user_id": user_id or profile().user_id, "signals": signals})


def of(source_id: str) -> list[StatementRecord]:
    return list(StatementRecord.objects.filter(source_id=source_id))


def checked(record: StatementRecord) -> dict:
    """The stored statement: valid, in the API's exact shape, with every required field."""
    assert record.status == "pending", record.last_error
    statement = record.statement
    assert dsa.validate_statement(statement).to_api() == statement
    missing = [f for f in REQUIRED if f not in statement]
    assert not missing, missing
    assert any(statement.get(f) for f in dsa.DECISION_FIELDS)
    assert statement["puid"] == record.puid
    return statement


# --- one statement per restrictive decision, in its transaction -------------------------------


@pytest.mark.parametrize(("label", "kind", "visibility", "content", "category"), [
    ("nudity", "media", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED", "CONTENT_TYPE_IMAGE",
     "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"),
    ("suggestive", "media", "DECISION_VISIBILITY_CONTENT_LABELLED", "CONTENT_TYPE_IMAGE",
     "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"),
    ("violence", "media", "DECISION_VISIBILITY_CONTENT_DISABLED", "CONTENT_TYPE_IMAGE",
     "STATEMENT_CATEGORY_VIOLENCE"),
    ("scam", "message", "DECISION_VISIBILITY_CONTENT_REMOVED", "CONTENT_TYPE_TEXT",
     "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"),
])
def test_a_restrictive_decision_by_the_rules_makes_one_statement(label, kind, visibility,
                                                                 content, category):
    publish()
    row = decide(label, kind=kind)
    (record,) = of(row.id)
    statement = checked(record)
    assert (record.source_kind, record.user_id, record.audit_entry_id) == (
        "moderation", row.subject_user_id, row.audit_id)
    assert record.puid == f"casefile-moderation-{row.id}"
    assert statement["decision_visibility"] == [visibility]
    assert statement["content_type"] == [content]
    assert statement["category"] == category
    assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert statement["automated_detection"] == "Yes"
    assert statement["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert statement["source_type"] == "SOURCE_VOLUNTARY"
    assert statement["application_date"] == row.created_at.astimezone(UTC).date().isoformat()
    assert RULES["rules"][0]["id"] in json.dumps(RULES)  # the rule's reason is the fact:
    hit = row.rule_hits[0]
    assert hit["reason"] in statement["decision_facts"]
    assert hit["reason"] in statement["incompatible_content_explanation"]
    # Nothing about the user: no id, no e-mail.
    assert row.subject_user_id not in orjson.dumps(statement).decode()


def test_allow_makes_no_statement():
    publish()
    row = decide(None)
    assert row.final_decision == "allow"
    assert not StatementRecord.objects.exists()


def test_no_statement_when_the_decision_rolls_back():
    publish()
    user_id = profile().user_id
    with pytest.raises(RuntimeError), transaction.atomic():
        decide("scam", user_id=user_id)
        assert StatementRecord.objects.count() == 1  # written with the decision…
        raise RuntimeError("the caller's transaction fails")
    assert not StatementRecord.objects.exists()  # …and gone with it
    assert not ModerationItem.objects.exists()


def test_a_review_that_restricts_makes_a_person_s_statement_and_allow_none():
    publish()
    rules_row = decide("suggestive")
    moderator = Actor.staff(make_staff(Role.ANALYST))
    removed = moderation.moderation_review(actor=moderator, item=rules_row, decision="remove",
                                           reason_code="POLICY_VIOLATION")
    (record,) = of(removed.id)
    statement = checked(record)
    assert statement["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert statement["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert statement["automated_detection"] == "Yes"  # the rules flagged it first
    assert "POLICY_VIOLATION" in statement["decision_facts"]
    assert moderator.user.id not in orjson.dumps(statement).decode()
    # content_date: when the item was first seen, not the review
    assert statement["content_date"] == rules_row.created_at.astimezone(UTC).date().isoformat()

    same = moderation.moderation_review(actor=moderator, item=removed, decision="remove",
                                        reason_code="POLICY_VIOLATION")
    assert of(same.id) == []  # nothing changed for the platform: no new statement
    allowed = moderation.moderation_review(actor=moderator, item=removed, decision="allow",
                                           reason_code="CUSTOMER_REQUEST")
    assert of(allowed.id) == []
    assert StatementRecord.objects.count() == 2


# --- the ladder and suspensions ---------------------------------------------------------------


def _eligible_user() -> str:
    return profile(idv_status="passed", bg_status="clear", is_18plus_attested=True).user_id


def test_each_ladder_restriction_makes_one_statement():
    user = _eligible_user()
    strike = strikes.strike_issue(actor=analyst(), user_id=user, policy="harassment",
                                  reason="private note about the user",
                                  reason_code="POLICY_VIOLATION")  # 3 points
    assert strike.actions_applied == ["listing_hide", "pauses"]
    records = {r.statement.get("decision_visibility", [None])[0]
               or r.statement["decision_provision"]: r
               for r in StatementRecord.objects.filter(source_kind="restriction")}
    assert set(records) == {"DECISION_VISIBILITY_CONTENT_DEMOTED",
                            "DECISION_PROVISION_PARTIAL_SUSPENSION"}
    changes = {c.action: c for c in RestrictionChange.objects.filter(user_id=user)}
    for action, decision in (("listing_hide", "DECISION_VISIBILITY_CONTENT_DEMOTED"),
                             ("pauses", "DECISION_PROVISION_PARTIAL_SUSPENSION")):
        record = records[decision]
        statement = checked(record)
        assert record.source_id == str(changes[action].pk)
        assert record.audit_entry_id == strike.audit_entry_id
        assert statement["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
        assert statement["content_type"] == ["CONTENT_TYPE_OTHER"]
        assert statement["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"
        assert "harassment" in statement["incompatible_content_ground"]
        # the strike's free-text reason is about one user: never published
        assert "private note" not in orjson.dumps(statement).decode()

    strikes.strike_issue(actor=analyst(), user_id=user, policy="spam",
                         reason_code="POLICY_VIOLATION")  # 4 points: nothing new
    assert StatementRecord.objects.count() == 2
    strikes.strike_issue(actor=analyst(), user_id=user, policy="impersonation",
                         reason_code="POLICY_VIOLATION")  # 6: contact_block
    (block,) = StatementRecord.objects.filter(
        source_id=str(RestrictionChange.objects.get(user_id=user, action="contact_block").pk))
    assert checked(block)["decision_provision"] == "DECISION_PROVISION_PARTIAL_SUSPENSION"
    assert block.statement["category"] == "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"


def test_lifts_make_no_statement_and_a_rolled_back_strike_leaves_none():
    user = _eligible_user()
    strike = strikes.strike_issue(actor=analyst(), user_id=user, policy="spam",
                                  reason_code="POLICY_VIOLATION")
    assert StatementRecord.objects.count() == 1
    strikes.strike_reverse(actor=analyst(), strike=strike, reason_code="CUSTOMER_REQUEST")
    assert StatementRecord.objects.count() == 1  # the lift is not a restriction

    other = _eligible_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        strikes.strike_issue(actor=analyst(), user_id=other, policy="harassment",
                             reason_code="POLICY_VIOLATION")
        raise RuntimeError
    assert not StatementRecord.objects.filter(user_id=other).exists()


def test_a_suspension_approved_by_a_second_person_makes_one_statement():
    user = _eligible_user()
    requester = analyst()
    strikes.strike_issue(actor=requester, user_id=user, policy="child_safety",
                         reason_code="POLICY_VIOLATION")  # zero tolerance: every step
    assert set(StatementRecord.objects.values_list("source_kind", flat=True)) == {"restriction"}
    assert StatementRecord.objects.count() == 3  # listing_hide, pauses, contact_block
    (approval,) = Approval.objects.filter(operation="user_suspend")
    assert not StatementRecord.objects.filter(source_kind="suspension").exists()  # requested

    outcome = platform.approval_decide(actor=Actor.staff(make_staff(Role.OPS)),
                                       approval=approval, approve=True,
                                       reason_code="POLICY_VIOLATION")
    entry = AuditEntry.objects.get(pk=outcome.command.audit_entry_id)
    (record,) = StatementRecord.objects.filter(source_kind="suspension")
    statement = checked(record)
    assert (record.source_id, record.audit_entry_id, record.user_id) == (entry.id, entry.id, user)
    assert statement["decision_account"] == "DECISION_ACCOUNT_TERMINATED"  # no end date
    assert "end_date_account_restriction" not in statement
    assert statement["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert statement["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert "second person approved" in statement["decision_facts"]


def test_a_suspension_with_days_has_its_end_date_and_an_unsuspension_none():
    user = _eligible_user()
    staff = Actor.staff(make_staff(Role.SUPPORT))
    platform.operation_request(actor=staff, operation="user_suspend",
                               params={"user_id": user, "days": 7},
                               reason_code="POLICY_VIOLATION")
    (record,) = StatementRecord.objects.filter(source_kind="suspension")
    statement = checked(record)
    until = PlatformUser.objects.get(pk=user).suspended_until.astimezone(UTC).date()
    assert statement["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert statement["end_date_account_restriction"] == until.isoformat()
    assert statement["category"] == "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    platform.operation_request(actor=staff, operation="user_unsuspend",
                               params={"user_id": user}, reason_code="CUSTOMER_REQUEST")
    assert StatementRecord.objects.count() == 1


def test_a_previewed_suspension_writes_no_statement():
    user = _eligible_user()
    platform.operation_preview(actor=Actor.staff(make_staff(Role.SUPPORT)),
                               operation="user_suspend", params={"user_id": user},
                               reason_code="POLICY_VIOLATION")
    assert not StatementRecord.objects.exists()


# --- every builder's output ---------------------------------------------------------------------


def _row(decision: str, kind: str = "media", *, by: str = statements.RULES, safe=False,
         hits=None, signals=None) -> ModerationItem:
    moment = now()
    return ModerationItem(
        id=ids.new_mod_id(), kind=kind, item_id="x", subject_user_id="usr_x",
        signals=signals or [], rule_hits=hits if hits is not None else [
            {"rule_id": "r1", "decision": decision, "reason": "a reason " * 80,
             "policy": "hate"}],
        final_decision=decision, safe_mode_required=safe, decided_by=by,
        reason_code="" if by == statements.RULES else "POLICY_VIOLATION",
        rule_set_version=3, audit_id="aud_x", created_at=moment)


def _all_built() -> list[dict]:
    built = []
    for decision in ("blur", "block", "remove"):
        for kind in ("media", "message"):
            for by in (statements.RULES, "stf_someone"):
                for hits in (None, []):
                    built.append(statements.moderation_statement(
                        _row(decision, kind, by=by, safe=decision == "blur", hits=hits)))
    old = datetime(1990, 1, 1, tzinfo=UTC)
    for action in ("listing_hide", "pauses", "contact_block"):
        for strike in (None, Strike(id="stk_x", policy="threats", points=9,
                                    reason_code="POLICY_VIOLATION", case_id=None)):
            change = RestrictionChange(pk=7, user_id="usr_x", action=action, applied=True,
                                       points_active=9, at=now())
            for automated in (True, False):
                built.append(statements.restriction_statement(
                    change, strike=strike, automated=automated, user_created=old))
    for until in (None, now() + timedelta(days=3), now() - timedelta(days=3)):
        built.append(statements.suspension_statement(
            entry_id="aud_1", at=now(), until=until, user_created=now(), strike=None,
            case_id=None, reason_code=None, approved=False, automated=True))
    return built


def test_every_builder_output_validates_with_every_required_field(settings):
    settings.DSA_TERRITORIAL_SCOPE = ["DE", "FR"]
    built = _all_built()
    assert len(built) == 24 + 12 + 3
    for statement in built:
        assert dsa.validate_statement(statement).to_api() == statement
        assert all(f in statement for f in REQUIRED), statement
        assert sum(f in statement for f in dsa.DECISION_FIELDS) == 1
        assert statement["territorial_scope"] == ["DE", "FR"]
        assert statement["content_date"] <= statement["application_date"]
        assert statement["content_date"] >= "2000-01-01"  # the TDB's lower bound


def test_a_builder_bug_never_blocks_the_enforcement(monkeypatch):
    publish()

    def broken(row, **kw):
        return {"puid": "x"}  # nothing else: refused by validate_statement

    monkeypatch.setattr(statements, "moderation_statement", broken)
    row = decide("scam")
    assert row.final_decision == "remove"  # the decision stands
    (record,) = of(row.id)
    assert record.status == "refused"
    assert "not a valid statement" in record.last_error


# --- the trigger --------------------------------------------------------------------------------


def test_a_statement_never_changes_and_is_never_deleted():
    publish()
    record = of(decide("scam").id)[0]
    StatementRecord.objects.filter(pk=record.pk).update(status="dead", attempts=3)  # allowed
    for change in ({"statement": {"puid": "other"}}, {"puid": "casefile-other"},
                   {"user_id": platform_user()}, {"created_at": now()}):
        with pytest.raises(DatabaseError), transaction.atomic():
            StatementRecord.objects.filter(pk=record.pk).update(**change)
    with pytest.raises(DatabaseError), transaction.atomic():
        StatementRecord.objects.filter(pk=record.pk).delete()
    assert StatementRecord.objects.get(pk=record.pk).statement == record.statement


# --- export ----------------------------------------------------------------------------------


def test_export_lines_are_the_tdb_shape_and_revalidate(api_as):
    publish()
    rows = [decide(label) for label in ("nudity", "violence", "scam")]
    refused = of(decide("suggestive").id)[0]
    StatementRecord.objects.filter(pk=refused.pk).update(status="refused")
    response = api_as(Role.LEGAL).call("GET", "/api/v1/trust/statements/export.ndjson")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = b"".join(response.streaming_content).splitlines()
    assert [orjson.loads(line)["puid"] for line in lines] == [
        f"casefile-moderation-{r.id}" for r in rows]  # oldest first; refused left out
    for line in lines:
        assert dsa.validate_statement(orjson.loads(line)).to_api() == orjson.loads(line)

    later = (now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    response = api_as(Role.OPS).call(
        "GET", f"/api/v1/trust/statements/export.ndjson?since={later}")
    assert b"".join(response.streaming_content) == b""


def test_list_filters_and_pages(api_as):
    publish()
    user = profile().user_id
    mine = [decide("scam", user_id=user) for _ in range(3)]
    decide("violence")
    client = api_as(Role.LEGAL)
    body = client.call("GET", f"/api/v1/trust/statements?user_id={user}&limit=2").json()
    assert [i["source_id"] for i in body["items"]] == [mine[2].id, mine[1].id]
    body = client.call("GET", f"/api/v1/trust/statements?user_id={user}&limit=2"
                              f"&cursor={body['next_cursor']}").json()
    assert [i["source_id"] for i in body["items"]] == [mine[0].id]
    assert body["next_cursor"] is None
    body = client.call("GET", f"/api/v1/trust/statements?source_id={mine[0].id}").json()
    assert len(body["items"]) == 1 and body["items"][0]["status"] == "pending"
    assert client.call("GET", "/api/v1/trust/statements?status=dead").json()["items"] == []
    assert api_as(Role.ANALYST).call("GET", "/api/v1/trust/statements").status_code == 403


# --- submission to a fake Transparency Database -------------------------------------------------

TOKEN = "tdb-token"  # noqa: S105 - a test token


class FakeTdb:
    """The API's `POST /api/v1/statements` on 127.0.0.1: checks the Bearer token and the batch
    size, and answers with `script`'s next answer (then 201, echoing each statement)."""

    def __init__(self):
        self.calls: list[list[dict]] = []
        self.script: list = []
        self.created: dict[str, str] = {}
        self.problems: list[str] = []
        tdb = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    tdb.problems.append("bad token")
                    return self._answer(401, {"message": "Unauthenticated."})
                if self.path != dsa.API_PATH:
                    tdb.problems.append(f"path {self.path}")
                    return self._answer(404, {})
                sent = orjson.loads(body)["statements"]
                if not 1 <= len(sent) <= 100:
                    tdb.problems.append(f"batch of {len(sent)}")
                    return self._answer(422, {"message": "between 1 and 100"})
                tdb.calls.append(sent)
                if tdb.script:
                    status, payload, headers = tdb.script.pop(0)(sent)
                    return self._answer(status, payload, headers)
                echoed = []
                for s in sent:
                    tdb.created[s["puid"]] = uuid = f"uuid-{len(tdb.created)}"
                    echoed.append({**s, "uuid": uuid, "permalink": f"https://tdb/{uuid}"})
                return self._answer(201, {"statements": echoed})

            def _answer(self, status, payload, headers=None):
                data = orjson.dumps(payload)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tdb(settings):
    server = FakeTdb()
    settings.DSA_TDB_URL, settings.DSA_TDB_TOKEN = server.url, TOKEN
    yield server
    server.close()
    assert not server.problems


def _many(n: int) -> list[StatementRecord]:
    user = platform_user()
    out = []
    for _ in range(n):
        row = _row("remove")
        row.subject_user_id = user
        out.append(statements.statement_record(
            source_kind="moderation", source_id=row.id, user_id=user, audit_entry_id="aud_x",
            build=lambda row=row: statements.moderation_statement(row)))
    return out


def _status(records) -> list[str]:
    return [StatementRecord.objects.get(pk=r.pk).status for r in records]


def test_250_statements_go_in_three_calls_of_at_most_100(tdb):
    records = _many(250)
    report = statements.statements_submit()
    assert [len(c) for c in tdb.calls] == [100, 100, 50]
    assert report.as_dict()["submitted"] == 250 and report.calls == 3
    assert set(_status(records)) == {"submitted"}
    saved = StatementRecord.objects.get(pk=records[0].pk)
    assert saved.tdb_uuid == tdb.created[saved.puid] and saved.submitted_at is not None
    assert tdb.calls[0][0] == records[0].statement  # sent exactly as stored
    assert statements.statements_submit().calls == 0  # nothing left


@pytest.mark.parametrize(("status", "headers", "at_least"), [
    (500, {}, timedelta(seconds=5)), (503, {}, timedelta(seconds=5)),
    (429, {"Retry-After": "600"}, timedelta(seconds=600))])
def test_a_failed_call_is_retried_later_with_backoff(tdb, status, headers, at_least):
    records = _many(3)
    tdb.script.append(lambda sent: (status, {"message": "busy"}, headers))
    start = now()
    report = statements.statements_submit(now=start)
    assert report.as_dict()["failed"] == 3
    saved = StatementRecord.objects.get(pk=records[0].pk)
    assert (saved.status, saved.attempts, saved.leased_until) == ("pending", 1, None)
    assert saved.next_attempt_at >= start + at_least
    assert "busy" in saved.last_error

    assert statements.statements_submit(now=start + timedelta(seconds=1)).calls == 0  # not due
    due = max(StatementRecord.objects.values_list("next_attempt_at", flat=True))  # jitter
    later = statements.statements_submit(now=due + timedelta(seconds=1))
    assert later.as_dict()["submitted"] == 3
    assert set(_status(records)) == {"submitted"}
    assert len(tdb.calls) == 2


def test_dead_after_the_last_attempt_then_retried_by_hand(tdb, settings, api_as):
    settings.DSA_MAX_ATTEMPTS = 2
    (record,) = _many(1)
    moment = now()
    for _ in range(2):
        tdb.script.append(lambda sent: (500, {}, {}))
        statements.statements_submit(now=moment)
        moment += timedelta(hours=2)
    saved = StatementRecord.objects.get(pk=record.pk)
    assert (saved.status, saved.attempts) == ("dead", 2)
    assert statements.statements_submit(now=moment).calls == 0

    response = api_as(Role.LEGAL).call("POST", f"/api/v1/trust/statements/{record.id}/retry",
                                       {"reason_code": "COMPLIANCE_REVIEW"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending"
    entry = AuditEntry.objects.get(action="STATEMENT_RETRIED")
    assert entry.resource == f"statement:{record.id}" and entry.target_user_id == record.user_id
    assert statements.statements_submit().as_dict()["submitted"] == 1
    with pytest.raises(Conflict):
        statements.statement_retry(actor=Actor.staff(make_staff(Role.LEGAL)),
                                   statement=record, reason_code="COMPLIANCE_REVIEW")


def test_statements_refused_one_by_one_and_the_rest_submitted(tdb):
    records = _many(5)

    def refuse_two(sent):
        return 422, {"message": "invalid", "errors": {
            "statement_1": {"decision_facts": ["The decision facts field is required."]},
            "statement_3": {"category": ["The selected category is invalid."]}}}, {}

    tdb.script.append(refuse_two)
    report = statements.statements_submit()
    assert report.as_dict() == {"submitted": 3, "refused": 2, "failed": 0, "dead": 0,
                                "calls": 2}
    assert _status(records) == ["submitted", "refused", "submitted", "refused", "submitted"]
    refused = StatementRecord.objects.get(pk=records[1].pk)
    assert "decision_facts: The decision facts field is required." in refused.last_error
    assert [s["puid"] for s in tdb.calls[1]] == [records[i].puid for i in (0, 2, 4)]


def test_puids_the_tdb_already_holds_are_submitted_and_the_rest_resent(tdb):
    records = _many(4)
    tdb.script.append(lambda sent: (422, {"message": "exists", "errors": {
        "existing_puids": [records[0].puid, records[2].puid]}}, {}))
    report = statements.statements_submit()
    assert report.as_dict()["submitted"] == 4 and report.calls == 2
    assert set(_status(records)) == {"submitted"}
    assert [s["puid"] for s in tdb.calls[1]] == [records[1].puid, records[3].puid]
    assert StatementRecord.objects.get(pk=records[0].pk).tdb_uuid == ""  # not echoed to us


def test_an_unreachable_tdb_loses_nothing(settings):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.DSA_TDB_URL, settings.DSA_TDB_TOKEN = f"http://127.0.0.1:{port}", TOKEN
    records = _many(2)
    report = statements.statements_submit()
    assert report.as_dict()["failed"] == 2
    for saved in StatementRecord.objects.filter(pk__in=[r.pk for r in records]):
        assert (saved.status, saved.attempts) == ("pending", 1)
        assert "unreachable" in saved.last_error


def test_without_a_url_nothing_is_sent_and_statements_wait(settings):
    settings.DSA_TDB_URL = ""
    records = _many(2)
    assert statements.statements_submit().as_dict() == {
        "submitted": 0, "refused": 0, "failed": 0, "dead": 0, "calls": 0}
    assert set(_status(records)) == {"pending"}


def test_a_leased_statement_is_not_sent_twice(tdb):
    (record,) = _many(1)
    claimed = statements._claim(now(), 100)
    assert [r.pk for r in claimed] == [record.pk]
    assert statements.statements_submit().calls == 0  # another worker holds it
    later = now() + timedelta(seconds=120)  # past the lease: sent
    assert statements.statements_submit(now=later).as_dict()["submitted"] == 1


def test_the_job_is_scheduled_every_minute():
    from casefile.core.schedule import PERIODIC

    (job,) = [j for j in PERIODIC if j.name.endswith("statements_submit")]
    assert job.seconds == 60


@pytest.mark.parametrize("query", ["until=0403-02-16T03:06:37%2B17:47",
                                   "since=2000-02-16T03:06:37%2B17:47&until=1900-01-01T00:00Z"])
def test_the_export_refuses_times_out_of_range(api_as, query):
    response = api_as(Role.LEGAL).call("GET", f"/api/v1/trust/statements/export.ndjson?{query}")
    assert response.status_code == 422, response.content
