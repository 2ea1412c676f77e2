"""Recurring issues in a real browser: from the explorer's top recurring issues to an issue's
page, then a template split off into its own issue (previewed, audited)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.core.timeutil import isoformat, now
from casefile.events.models import EventTemplate, Issue
from tests.conftest import make_staff
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"
NAMES = ["root", "admin", "oracle", "postgres", "ubuntu", "git"]


def test_an_issue_is_found_in_the_explorer_and_split_by_hand(open_browser, screenshot):
    stamp = isoformat(now())
    ingest([{"message": f"Failed password for {name} from 203.0.113.{i} port {40000 + i} ssh2",
             "service": "sshd", "severity": "warning", "timestamp": stamp,
             "event_id": f"{name}-{n}"}
            for i, name in enumerate(NAMES) for n in range(3 + i)]
           + [{"message": "Accepted publickey for deploy from 198.51.100.7 port 51000 ssh2",
               "service": "sshd", "timestamp": stamp, "event_id": "accepted"}])
    page = open_browser(make_staff(Role.ANALYST, password=PASSWORD), PASSWORD)
    page.goto("/events/?service=sshd")
    top = page.locator("#top-recurring tr").first
    expect(top).to_contain_text("Failed password for <*> from <*> port <*>")
    expect(top).to_contain_text(f"{len(NAMES)} templates")
    top.locator("a").click()

    expect(page.locator("#issue-title")).to_have_text("Failed password for <*> from <*> port <*>")
    expect(page.locator("#issue-templates tbody tr")).to_have_count(len(NAMES))
    row = page.locator("#issue-templates tbody tr", has_text="Failed password for git from")
    row.locator("input[name=fingerprint]").check()
    form = page.locator("form", has=page.locator("#issue-templates"))
    form.locator("select[name=reason_code]").select_option("OPERATIONS")
    form.get_by_role("button", name="Preview").click()
    expect(form.locator(".preview")).to_contain_text("ISSUE_SPLIT")
    screenshot(page, "issue-page")
    form.get_by_role("button", name="Split into a new issue").click()
    expect(page.locator(".messages")).to_contain_text("split from")
    expect(page.locator("#issue-templates tbody tr")).to_have_count(len(NAMES) - 1)
    expect(page.locator(".pill", has_text="grouped by hand")).to_be_visible()

    entry = AuditEntry.objects.get(action="ISSUE_SPLIT")
    new = Issue.objects.get(pk=entry.metadata["new_issue"])
    assert new.title == "Failed password for git from <*> port <*>" and new.locked
    assert EventTemplate.objects.filter(issue=new).count() == 1
