"""Moderation decisions through the API and the services (DESIGN 9.4, issue 12 items 1–3)."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied
from casefile.platform.models import OutboxCommand
from casefile.trust import moderation
from casefile.trust.models import ModerationItem, RuleSetVersion
from tests.conftest import make_staff
from tests.trust.helpers import platform_user, profile

pytestmark = pytest.mark.django_db
_items = itertools.count(1)

PDQ_KNOWN = "f" * 16 + "0" * 48


def flip(pdq: str, bits: int) -> str:
    """`pdq` with its lowest `bits` bits flipped: exactly that Hamming distance away."""
    return f"{int(pdq, 16) ^ ((1 << bits) - 1):064x}"


RULES = {"rules": [
    {"id": "nudity-blur", "description": "likely nudity",
     "condition": {"signal": "nudity", "gte": 0.8},
     "outcome": {"decision": "blur", "safe_mode_required": True, "reason": "nudity"}},
    {"id": "violence-block", "description": "graphic violence",
     "condition": {"signal": "violence", "gte": 0.9},
     "outcome": {"decision": "block", "reason": "violence"}},
    {"id": "known-bad", "description": "known bad file",
     "condition": {"sha256_list": "known_bad"},
     "outcome": {"decision": "remove", "needs_review": True, "reason": "known file"}},
    {"id": "known-bad-pdq", "description": "near a known bad image",
     "condition": {"all": [{"kind": "media"}, {"pdq_list": "known_pdq", "max_distance": 31}]},
     "outcome": {"decision": "remove", "reason": "known image"}},
    {"id": "new-unverified-spam", "description": "spam from new unverified accounts",
     "condition": {"all": [{"kind": "message"}, {"new_account_days": 7}, {"unverified": True},
                           {"signal": "spam", "gte": 0.5}]},
     "outcome": {"decision": "block", "reason": "spam by a new account"}},
], "review_band": {"low": 0.4, "high": 0.6}}


@pytest.fixture(autouse=True)
def _fresh_caches():
    moderation.clear_caches()
    yield
    moderation.clear_caches()


def ops() -> Actor:
    return Actor.staff(make_staff(Role.OPS))


def publish(rules=RULES) -> RuleSetVersion:
    actor = ops()
    for name, kind, values in (("known_bad", "sha256", [hashlib.sha256(b"bad").hexdigest()]),
                               ("known_pdq", "pdq", [PDQ_KNOWN])):
        if not moderation.HashList.objects.filter(pk=name).exists():
            lst = moderation.hash_list_create(actor=actor, name=name, kind=kind,
                                              reason_code="POLICY_VIOLATION")
            moderation.hash_list_add(actor=actor, hash_list=lst, values=values,
                                     reason_code="POLICY_VIOLATION")
    draft = moderation.rule_set_draft_save(actor=actor, rules_json=rules,
                                           reason_code="POLICY_VIOLATION")
    return moderation.rule_set_publish(actor=actor, version=draft.version,
                                       reason_code="POLICY_VIOLATION")


def item(user_id: str | None = None, **fields):
    return {"kind": "media", "item_id": f"med_{next(_items)}",
            "subject_user_id": user_id or profile(idv_status="passed").user_id, **fields}


def decide(api_as, **fields):
    response = api_as(Role.PLATFORM).call("POST", "/api/v1/moderation/items", item(**fields))
    assert response.status_code == 201, response.content
    return response.json()


def sig(label, score):
    return {"source": "hive", "label": label, "score": score, "model": "v1"}


@pytest.mark.parametrize(("signals", "expected"), [
    ([], "allow"),
    ([sig("nudity", 0.85)], "blur"),
    ([sig("violence", 0.95)], "block"),
    ([sig("nudity", 0.9), sig("violence", 0.95)], "block"),  # strictest wins
])
def test_decisions_by_rules_through_the_api(api_as, signals, expected):
    publish()
    body = decide(api_as, signals=signals)
    assert body["final_decision"] == expected
    assert body["rule_set_version"] == 1
    row = ModerationItem.objects.get(pk=body["id"])
    entry = AuditEntry.objects.get(pk=row.audit_id)
    assert entry.action == "MODERATION_DECIDED"
    assert entry.resource == f"moderation:{row.id}"
    assert entry.reason_code == "MODERATION_RULES"
    commands = OutboxCommand.objects.filter(type="content.enforce", audit_entry_id=row.audit_id)
    assert commands.count() == (0 if expected == "allow" else 1)
    if expected != "allow":
        payload = commands.get().payload
        assert payload["decision"] == expected and payload["item_id"] == row.item_id
        assert payload["safe_mode_required"] == any(s["label"] == "nudity" for s in signals)


def test_remove_by_sha256_list_needs_review_and_the_strongest_score_counts(api_as):
    publish()
    body = decide(api_as, sha256=hashlib.sha256(b"bad").hexdigest().upper(),
                  signals=[sig("nudity", 0.1), {**sig("nudity", 0.81), "source": "other"}])
    assert body["final_decision"] == "remove"
    assert body["needs_review"] is True
    assert [h["rule_id"] for h in body["rule_hits"]] == ["nudity-blur", "known-bad"]
    assert decide(api_as, sha256=hashlib.sha256(b"good").hexdigest())["final_decision"] == "allow"


@pytest.mark.parametrize(("distance", "expected"), [(0, "remove"), (31, "remove"),
                                                    (32, "allow")])
def test_pdq_matches_within_the_distance(api_as, distance, expected):
    publish()
    assert decide(api_as, pdq=flip(PDQ_KNOWN, distance))["final_decision"] == expected


def test_profile_fields_in_conditions(api_as):
    publish()
    new_unverified = platform_user()  # no profile: new, unverified
    spam = [sig("spam", 0.7)]
    assert decide(api_as, user_id=new_unverified, kind="message",
                  signals=spam)["final_decision"] == "block"
    verified = profile(idv_status="passed").user_id
    assert decide(api_as, user_id=verified, kind="message",
                  signals=spam)["final_decision"] == "allow"


def test_low_confidence_goes_to_the_queue_and_a_person_overrides(api_as):
    publish()
    first = decide(api_as, signals=[sig("nudity", 0.5)])
    assert first["final_decision"] == "allow" and first["needs_review"] is True
    assert first["low_confidence"] is True
    moderator = api_as(Role.ANALYST)
    queue = moderator.call("GET", "/api/v1/moderation/queue").json()
    assert first["id"] in [i["id"] for i in queue["items"]]
    response = moderator.call("POST", f"/api/v1/moderation/items/{first['id']}/review",
                              {"decision": "blur", "reason_code": "POLICY_VIOLATION"})
    assert response.status_code == 201, response.content
    review = response.json()
    assert review["overrides"] == first["id"]
    assert review["decided_by"].startswith("stf_") and review["final_decision"] == "blur"
    assert AuditEntry.objects.get(pk=review["audit_id"]).action == "MODERATION_REVIEWED"
    assert OutboxCommand.objects.filter(audit_entry_id=review["audit_id"]).count() == 1
    queue = moderator.call("GET", "/api/v1/moderation/queue").json()
    assert first["id"] not in [i["id"] for i in queue["items"]]
    history = moderator.call("GET", f"/api/v1/moderation/items/{first['id']}").json()
    assert [h["id"] for h in history["history"]] == [first["id"], review["id"]]
    assert history["latest"]["id"] == review["id"]
    # The same decision again changes nothing on the platform: no command.
    again = moderator.call("POST", f"/api/v1/moderation/items/{first['id']}/review",
                           {"decision": "blur", "reason_code": "POLICY_VIOLATION"}).json()
    assert OutboxCommand.objects.filter(audit_entry_id=again["audit_id"]).count() == 0


def test_queue_pages_by_cursor(api_as):
    publish()
    wanted = [decide(api_as, signals=[sig("nudity", 0.45)])["id"] for _ in range(3)]
    client, seen, cursor = api_as(Role.SUPPORT), [], None
    while True:
        path = "/api/v1/moderation/queue?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = client.call("GET", path).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == wanted


def test_redeciding_adds_a_row_and_rows_are_append_only(api_as):
    publish()
    fields = item()
    client = api_as(Role.PLATFORM)
    first = client.call("POST", "/api/v1/moderation/items", fields).json()
    second = client.call("POST", "/api/v1/moderation/items",
                         {**fields, "signals": [sig("violence", 0.99)]}).json()
    assert first["id"] != second["id"] and first["audit_id"] != second["audit_id"]
    assert ModerationItem.objects.filter(item_id=fields["item_id"]).count() == 2
    assert second["final_decision"] == "block"
    with pytest.raises(DatabaseError), transaction.atomic():
        ModerationItem.objects.filter(pk=first["id"]).update(final_decision="remove")
    with pytest.raises(DatabaseError), transaction.atomic():
        ModerationItem.objects.filter(pk=first["id"]).delete()


def test_without_a_published_rule_set_everything_is_allowed(api_as):
    body = decide(api_as, signals=[sig("violence", 1.0)])
    assert body["final_decision"] == "allow" and body["rule_set_version"] is None


def test_an_unknown_user_is_404_and_bad_hashes_422(api_as):
    client = api_as(Role.PLATFORM)
    assert client.call("POST", "/api/v1/moderation/items",
                       item(user_id="usr_nobody")).status_code == 404
    assert client.call("POST", "/api/v1/moderation/items",
                       item(sha256="abc")).status_code == 422


def test_the_decision_path_is_short(api_as):
    publish()
    user_id = profile(idv_status="passed").user_id
    moderation.moderation_decide(actor=Actor.system("warm"),
                                 item_data=item(user_id, pdq=PDQ_KNOWN))
    with CaptureQueriesContext(connection) as queries:
        moderation.moderation_decide(actor=Actor.system("platform"),
                                     item_data=item(user_id, pdq=PDQ_KNOWN,
                                                    sha256="0" * 64))
    # profile, published rules, list versions, exact hashes, then the writes (savepoints,
    # the entry, the row, the command)
    reads = [q for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(reads) <= 4, [q["sql"] for q in reads]


def test_draft_replay_counts_changes(api_as):
    publish()
    for score in (0.85, 0.85, 0.3):
        decide(api_as, signals=[sig("nudity", score)])
    stricter = {"rules": [{**RULES["rules"][0], "outcome": {"decision": "block",
                                                            "reason": "nudity"}}]}
    draft = moderation.rule_set_draft_save(actor=ops(), rules_json=stricter,
                                           reason_code="POLICY_VIOLATION")
    assert draft.version == 2
    response = api_as(Role.OPS).call("GET", "/api/v1/moderation/rules/2/replay?last_n=3")
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["items"] == 3 and report["published_version"] == 1
    counts = {(c["before"], c["after"]): c["items"] for c in report["counts"]}
    assert counts == {("blur", "block"): 2, ("allow", "allow"): 1}
    assert len(report["changes"]) == 2


def test_publishing_freezes_a_version_and_retires_the_previous(api_as):
    first = publish()
    client = api_as(Role.OPS)
    response = client.call("PUT", "/api/v1/moderation/rules/draft",
                           {"rules": {"rules": [{"id": "x"}]}, "reason_code": "OPERATIONS"})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["path"].startswith("$.rules[0]")
    response = client.call("PUT", "/api/v1/moderation/rules/draft",
                           {"rules": {"rules": RULES["rules"][:1]}, "reason_code": "OPERATIONS"})
    assert response.status_code == 200 and response.json()["version"] == 2
    response = client.call("POST", "/api/v1/moderation/rules/2/publish",
                           {"reason_code": "OPERATIONS"})
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.status == "retired"
    assert client.call("POST", "/api/v1/moderation/rules/2/publish",
                       {"reason_code": "OPERATIONS"}).status_code == 409
    with pytest.raises(Conflict):
        moderation.rule_set_publish(actor=ops(), version=1, reason_code="OPERATIONS")
    with pytest.raises(DatabaseError), transaction.atomic():
        RuleSetVersion.objects.filter(pk=2).update(rules={"version": 2, "rules": []})
    # A new draft is the next version; the published one is untouched.
    draft = moderation.rule_set_draft_save(actor=ops(), rules_json={"rules": []},
                                           reason_code="OPERATIONS")
    assert draft.version == 3
    assert decide(api_as, signals=[sig("nudity", 0.9)])["rule_set_version"] == 2


def test_publish_needs_the_hash_lists_it_names():
    draft = moderation.rule_set_draft_save(actor=ops(), rules_json={"rules": [
        {"id": "r", "description": "d", "condition": {"md5_list": "nope"},
         "outcome": {"decision": "block", "reason": "r"}}]}, reason_code="OPERATIONS")
    with pytest.raises(moderation.ValidationFailed):
        moderation.rule_set_publish(actor=ops(), version=draft.version, reason_code="OPERATIONS")


def test_hash_list_changes_reach_the_next_decision(api_as):
    publish()
    near = flip("0" * 64, 3)
    assert decide(api_as, pdq=near)["final_decision"] == "allow"
    client = api_as(Role.ADMIN)
    response = client.call("POST", "/api/v1/moderation/hash-lists/known_pdq/entries",
                           {"values": ["0" * 64], "reason_code": "POLICY_VIOLATION"})
    assert response.status_code == 201 and response.json()["entries"] == 2
    assert decide(api_as, pdq=near)["final_decision"] == "remove"
    response = client.call("DELETE", "/api/v1/moderation/hash-lists/known_pdq/entries/"
                           + "0" * 64 + "?reason_code=POLICY_VIOLATION")
    assert response.status_code == 200
    assert decide(api_as, pdq=near)["final_decision"] == "allow"


def test_who_may_do_what():
    user_id = profile().user_id
    for role in (Role.VIEWER, Role.ANALYST, Role.LEGAL):
        with pytest.raises(PermissionDenied):
            moderation.moderation_decide(actor=Actor.staff(make_staff(role)),
                                         item_data=item(user_id), reason_code="OPERATIONS")
    for role in (Role.ANALYST, Role.SUPPORT, Role.VIEWER):
        with pytest.raises(PermissionDenied):
            moderation.rule_set_draft_save(actor=Actor.staff(make_staff(role)),
                                           rules_json={"rules": []}, reason_code="OPERATIONS")
    row = moderation.moderation_decide(actor=Actor.staff(make_staff(Role.OPS)),
                                       item_data=item(user_id), reason_code="OPERATIONS")
    assert AuditEntry.objects.get(pk=row.audit_id).reason_code == "OPERATIONS"
    with pytest.raises(PermissionDenied):
        moderation.moderation_review(actor=Actor.staff(make_staff(Role.VIEWER)), item=row,
                                     decision="block", reason_code="OPERATIONS")


# --- console -------------------------------------------------------------------------------------


def _signed_in(role):
    from tests.conftest import CommittingClient

    client = CommittingClient()
    client.force_login(make_staff(role))
    return client


def test_console_pages_by_role(api_as):
    publish()
    queued = decide(api_as, signals=[sig("nudity", 0.5)])
    moderation.rule_set_draft_save(actor=ops(), rules_json={"rules": RULES["rules"][:1]},
                                   reason_code="OPERATIONS")
    pages = {"/moderation/": "needs a person", f"/moderation/items/{queued['id']}/": "Decide",
             "/moderation/rules/?replay=1&last_n=10": "items replayed"}
    for role in (Role.ANALYST, Role.OPS):
        client = _signed_in(role)
        for url, text in pages.items():
            response = client.get(url)
            assert response.status_code == 200, (url, role)
            if role == Role.OPS or "replay" not in url:
                assert text in response.content.decode(), (url, role)
        assert 'href="/moderation/"' in client.get("/cases/").content.decode()
    viewer = _signed_in(Role.VIEWER)
    for url in pages:
        assert viewer.get(url).status_code == 403
    assert 'href="/moderation/"' not in viewer.get("/cases/").content.decode()


def test_console_review_overrides_the_rules(api_as):
    publish()
    queued = decide(api_as, signals=[sig("nudity", 0.5)])
    client = _signed_in(Role.SUPPORT)
    response = client.post(f"/moderation/items/{queued['id']}/review/",
                           {"decision": "remove", "reason_code": "POLICY_VIOLATION"})
    assert response.status_code == 302
    latest = moderation.latest(queued["id"])
    assert latest.final_decision == "remove" and latest.overrides == queued["id"]
    page = client.get(f"/moderation/items/{queued['id']}/").content.decode()
    assert queued["id"] in page and latest.audit_id in page


def test_console_saves_and_publishes_a_draft(db):
    client = _signed_in(Role.OPS)
    response = client.post("/moderation/rules/draft/", {
        "rules": '{"rules": [{"id": "x"}]}', "reason_code": "OPERATIONS"}, follow=True)
    assert "rule set invalid" in response.content.decode()
    assert not RuleSetVersion.objects.exists()
    client.post("/moderation/rules/draft/", {"rules": '{"rules": []}',
                                             "reason_code": "OPERATIONS"})
    assert RuleSetVersion.objects.get().status == "draft"
    client.post("/moderation/rules/1/publish/", {"reason_code": "OPERATIONS"})
    assert RuleSetVersion.objects.get().status == "published"
