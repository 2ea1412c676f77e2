"""The rules page and the API show what a rule set version changes against the one before it."""

from __future__ import annotations

import copy
import html

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.trust import moderation
from tests.conftest import CommittingClient, make_staff
from tests.trust.test_rules_diff import KNOWN, NUDITY, VIOLENCE

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches():
    moderation.clear_caches()
    yield
    moderation.clear_caches()


def signed_in(role: Role) -> CommittingClient:
    client = CommittingClient()
    client.force_login(make_staff(role))
    return client


def save(actor: Actor, *rules, band=None, publish=True) -> int:
    data = {"rules": list(rules), **({"review_band": band} if band else {})}
    draft = moderation.rule_set_draft_save(actor=actor, rules_json=data,
                                           reason_code="POLICY_VIOLATION")
    if publish:
        moderation.rule_set_publish(actor=actor, version=draft.version,
                                    reason_code="POLICY_VIOLATION")
    return draft.version


@pytest.fixture
def versions():
    """v1 published then retired, v2 published, v3 the draft."""
    ops = Actor.staff(make_staff(Role.OPS))
    moderation.hash_list_create(actor=ops, name="known_bad", kind="sha256",
                                reason_code="POLICY_VIOLATION")
    save(ops, NUDITY, VIOLENCE)
    stricter = copy.deepcopy(VIOLENCE)
    stricter["outcome"]["decision"] = "remove"
    save(ops, stricter, KNOWN, band={"low": 0.4, "high": 0.6})
    retitled = copy.deepcopy(KNOWN)
    retitled["description"] = "a <b>known</b> bad file"
    save(ops, stricter, retitled, band={"low": 0.4, "high": 0.6}, publish=False)


def diff_panel(page: str) -> str:
    return page[page.index('id="diff"'):page.index("</section>", page.index('id="diff"'))]


def test_the_rules_page_shows_the_drafts_diff_by_default(versions):
    page = signed_in(Role.ANALYST).get("/moderation/rules/").content.decode()
    panel = diff_panel(page)
    assert "What v3 changes against v2" in panel
    assert "0 added, 0 removed, 1 changed, 1 unchanged" in panel
    assert "known-bad" in panel and "description" in panel
    assert "known bad file" in panel
    assert html.escape("a <b>known</b> bad file") in panel  # escaped, not markup
    assert "<b>known</b>" not in page
    assert 'href="?diff=1#diff"' in page and 'href="?diff=3#diff"' in page


def test_any_version_against_the_one_before_it(versions):
    client = signed_in(Role.ANALYST)
    panel = diff_panel(client.get("/moderation/rules/?diff=2").content.decode())
    assert "What v2 changes against v1" in panel
    assert "1 added, 1 removed, 1 changed, 0 unchanged" in panel
    added = panel[panel.index("<h3>Added</h3>"):panel.index("<h3>Removed</h3>")]
    removed = panel[panel.index("<h3>Removed</h3>"):]
    assert "known-bad" in added and "nudity-blur" in removed
    assert ('<td class="mono">outcome.decision</td><td class="del mono">block</td>'
            '<td class="ins mono">remove</td>') in panel
    assert ('<td class="mono">review_band</td><td class="del mono">—</td>'
            '<td class="ins mono">{&quot;high&quot;:0.6,&quot;low&quot;:0.4}</td>') in panel
    first = diff_panel(client.get("/moderation/rules/?diff=1").content.decode())
    assert "What v1 changes (the first version)" in first and "2 added" in first


@pytest.mark.parametrize("asked,problem", [("99", "no rule set version 99"),
                                           ("x", "no rule set version x")])
def test_an_unknown_version_is_said_so(versions, asked, problem):
    response = signed_in(Role.ANALYST).get(f"/moderation/rules/?diff={asked}")
    assert response.status_code == 200
    assert problem in diff_panel(response.content.decode())


def test_without_a_draft_no_diff_is_shown_until_asked(db):
    ops = Actor.staff(make_staff(Role.OPS))
    save(ops, NUDITY)
    client = signed_in(Role.OPS)
    assert 'id="diff"' not in client.get("/moderation/rules/").content.decode()
    assert "What v1 changes" in client.get("/moderation/rules/?diff=1").content.decode()


def test_the_page_is_a_read(versions):
    client = signed_in(Role.SUPPORT)
    before = AuditEntry.objects.count()
    assert client.get("/moderation/rules/?diff=2").status_code == 200
    assert AuditEntry.objects.count() == before
    assert signed_in(Role.VIEWER).get("/moderation/rules/?diff=2").status_code == 403


def test_the_api_gives_the_diff(versions, api_as):
    client = api_as(Role.ANALYST)
    found = client.call("GET", "/api/v1/moderation/rules/2/diff").json()
    assert (found["old_version"], found["new_version"]) == (1, 2)
    assert [r["id"] for r in found["added"]] == ["known-bad"]
    assert [r["id"] for r in found["removed"]] == ["nudity-blur"]
    assert found["changed"] == [{"rule_id": "violence-block", "parts": [
        {"part": "outcome.decision", "old": "block", "new": "remove"}]}]
    assert found["review_band"] == {"old": None, "new": {"low": 0.4, "high": 0.6}}
    draft = client.call("GET", "/api/v1/moderation/rules/3/diff").json()
    assert draft["old_version"] == 2 and draft["changed"][0]["parts"] == [
        {"part": "description", "old": "known bad file", "new": "a <b>known</b> bad file"}]
    assert client.call("GET", "/api/v1/moderation/rules/99/diff").status_code == 404
    assert api_as(Role.VIEWER).call("GET", "/api/v1/moderation/rules/2/diff").status_code == 403
