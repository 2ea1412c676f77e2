"""The console in a real browser: each role's view, working a case from the queue to closed,
the event explorer, a four-eyes platform operation, and the audit viewer showing each of them;
a user's trust page as a verification is decided, a legal hold placed by one legal person
and released by two, a moderation rule published and a queued item decided, and a safety
report's case worked to its outcome. Assertions are on what the page shows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from casefile.accounts.permissions import has_perm
from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.core.console import NAVIGATION
from casefile.events.models import Event
from casefile.platform import services as platform
from casefile.platform.models import OutboxCommand, PlatformUser
from tests.cases.helpers import open_case
from tests.conftest import CLI, make_staff
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"
# The sections each role's bar shows: those of the navigation its permissions open.
VISIBLE = {role: {label for label, _url, perm in NAVIGATION if has_perm({role}, perm)}
           for role in (Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS, Role.LEGAL,
                        Role.ADMIN)}
assert VISIBLE[Role.VIEWER] >= {"Cases", "Events", "Tenants", "Approvals"}


def staff(*roles: Role, email: str | None = None):
    return make_staff(*roles, email=email, password=PASSWORD)


def apply(page: Page, form, reason: str = "INVESTIGATION", *, expect_preview: list[str],
          before_applying=None):
    """Choose the reason, preview (assert the before/after shown), then apply."""
    form.locator("select[name=reason_code]").select_option(reason)
    form.get_by_role("button", name="Preview").click()
    preview = form.locator(".preview")
    for text in expect_preview:
        expect(preview).to_contain_text(text)
    if before_applying:
        before_applying(page)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("load")


def open_op(page: Page, summary: str):
    """The form inside the collapsible section titled `summary`, opened."""
    section = page.locator("details.op", has=page.locator("summary", has_text=summary))
    if section.get_attribute("open") is None:
        section.locator("summary").click()
    return section.locator("form")


@pytest.mark.parametrize("role", list(VISIBLE))
def test_each_role_sees_only_what_it_may(open_browser, role, screenshot):
    page = open_browser(staff(role), PASSWORD)
    shown = set(page.locator("header nav a").all_inner_texts())
    assert shown == VISIBLE[role]
    page.goto("/audit/")
    if "Audit" in VISIBLE[role]:
        expect(page.locator("h1")).to_have_text("Audit ledger")
    else:
        expect(page.locator("h1")).to_have_text("Not allowed")
        if role is Role.VIEWER:
            screenshot(page, "forbidden")


def test_sign_in_page(browser, live_server, screenshot):
    page = browser.new_page(base_url=live_server.url)
    page.goto("/cases/")
    expect(page.locator("h1")).to_have_text("Sign in to Casefile")
    page.fill("input[name=username]", "nobody@example.com")
    page.fill("input[name=password]", "wrong password")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".problem")).to_contain_text("Wrong e-mail or password")
    screenshot(page, "sign-in")
    page.close()


def test_work_a_case_from_the_queue_to_closed(open_browser, screenshot):
    ingest([{"message": "card testing burst from 203.0.113.9", "severity": "warning",
             "service": "payments", "component": "gateway"}])
    event = Event.objects.get()
    for i in range(3):
        open_case(title=f"Older report {i}", priority=4)
    platform.platform_user_upsert(actor=CLI, user_id="usr_mallory", email="m@shop.test")
    case = open_case(title="Stolen card used on order 4411", kind="fraud", priority=1,
                     subject_user="usr_mallory")
    analyst = staff(Role.ANALYST, email="ana@example.com")
    page = open_browser(analyst, PASSWORD)

    expect(page.locator(".empty")).to_contain_text("No open cases are assigned to you")
    page.get_by_role("navigation", name="Queues").get_by_role("link", name="Unassigned").click()
    rows = page.locator("#case-rows tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Stolen card used on order 4411")  # P1 first
    screenshot(page, "case-queue")
    rows.first.get_by_role("link", name="Stolen card used on order 4411").click()
    expect(page.locator("h1")).to_contain_text("Stolen card used on order 4411")

    apply(page, open_op(page, "Assign"), expect_preview=["CASE_ASSIGNED", "assigned_to",
                                                          analyst.id])
    expect(page.locator("#case-assignee")).to_have_text("ana@example.com")
    for to in ("triage", "investigating"):
        form = open_op(page, "Change status")
        form.locator("select[name=status]").select_option(to)
        apply(page, form, expect_preview=["CASE_STATUS_CHANGED", "status", to])
        expect(page.locator("#case-status")).to_have_text(to)

    form = open_op(page, "Add a note")
    form.locator("textarea[name=content]").fill("Same BIN as last week's ring.")
    apply(page, form, expect_preview=["CASE_NOTE_ADDED"])
    form = open_op(page, "Tags")
    form.locator("input[name=name]").fill("card-testing")
    apply(page, form, expect_preview=["CASE_TAGGED", "card-testing"])
    expect(page.locator("#case-tags")).to_contain_text("card-testing")
    form = open_op(page, "Link an event")
    form.locator("input[name=event_id]").fill(event.id)
    apply(page, form, expect_preview=["EVENT_LINKED", "linked", "false", "true"])
    expect(page.locator("#linked-events")).to_contain_text("card testing burst")

    action = page.locator("form[action$='/actions/']")
    action.locator("select[name=action]").select_option("suspend")
    action.locator("input[name=days]").fill("7")
    # The suspension is the platform operation itself: its entry is what the preview shows.
    apply(page, action, "FRAUD_SIGNAL", expect_preview=["USER_SUSPEND", "usr_mallory",
                                                        "suspended"])
    timeline = page.locator("#timeline")
    for text in ("new → triage", "triage → investigating", "Same BIN as last week's ring.",
                 "Linked event", "Action suspend"):
        expect(timeline).to_contain_text(text)

    form = open_op(page, "Change status")
    form.locator("select[name=status]").select_option("resolved")
    apply(page, form, expect_preview=["resolved"])
    action = page.locator("form[action$='/actions/']")
    action.locator("select[name=action]").select_option("close")
    action.locator("textarea[name=message]").fill("Account suspended, chargebacks filed.")
    apply(page, action, "FRAUD_SIGNAL", expect_preview=["CASE_ACTION_CLOSE", "closed"])
    expect(page.locator("#case-status")).to_have_text("closed")
    expect(page.locator("#timeline")).to_contain_text("resolved → closed")
    screenshot(page, "case-page")
    assert AuditEntry.objects.filter(resource=f"case:{case.id}").count() == 10
    assert PlatformUser.objects.get(pk="usr_mallory").status == "suspended"
    assert OutboxCommand.objects.filter(type="user.suspend", payload__case_id=case.id).exists()


def test_explorer_filters_in_the_url_and_links_an_event(open_browser, screenshot):
    ingest([{"message": f"disk {i} at 9{i}% on db-{i % 2}", "severity": "warning",
             "service": "storage", "component": f"db-{i % 2}"} for i in range(6)]
           + [{"message": "payment provider timeout", "severity": "error",
               "service": "billing", "component": "psp"},
              {"message": "user logged in", "severity": "info", "service": "auth"}])
    case = open_case(title="Storage pressure on db cluster", kind="incident")
    page = open_browser(staff(Role.OPS), PASSWORD)
    page.goto("/events/")
    expect(page.locator("#event-rows tr")).to_have_count(8)
    filters = page.locator("#event-filters")
    filters.locator("input[name=service]").fill("storage")
    filters.locator("select[name=severity]").select_option("warning")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"service=storage.*severity=warning"))
    expect(page.locator("#event-rows tr")).to_have_count(6)
    expect(page.locator("#top-recurring")).to_contain_text("disk")
    expect(page.locator("svg.chart rect").first).to_be_visible()
    screenshot(page, "event-explorer")

    page.locator("#event-rows a", has_text="disk 3").first.click()
    expect(page.locator("#raw-payload")).to_contain_text('"service": "storage"')
    page.go_back()
    expect(page).to_have_url(re.compile(r"service=storage"))
    expect(page.locator("#event-rows tr")).to_have_count(6)

    page.locator("#event-rows a", has_text="disk 3").first.click()
    page.locator("summary", has_text="Link to case").click()
    form = page.locator("details[open] form")
    form.locator("input[name=case_id]").fill(case.id)
    form.locator("select[name=reason_code]").select_option("INVESTIGATION")
    form.get_by_role("button", name="Link").click()
    expect(page.locator(".messages")).to_contain_text(f"linked to {case.id}")
    expect(page.locator("#event-cases")).to_contain_text("Storage pressure on db cluster")
    screenshot(page, "event-page")


def test_four_eyes_platform_operation_then_audit_viewer(open_browser, settings, screenshot):
    settings.FOUR_EYES_CREDIT_CENTS = 10_000
    platform.tenant_upsert(actor=CLI, tenant_id="ten_acme", name="Acme Corp",
                           policy={"uploads": True}, limits={"seats": 10})
    platform.platform_user_upsert(actor=CLI, user_id="usr_alpha", email="alpha@acme.test",
                                  tenant_id="ten_acme")
    requester = open_browser(staff(Role.SUPPORT, email="sam@example.com"), PASSWORD)
    requester.goto("/platform/tenants/")
    requester.get_by_role("link", name="Acme Corp").click()
    form = open_op(requester, "Add credit")
    form.locator("input[name=amount_cents]").fill("25000")
    apply(requester, form, "CUSTOMER_REQUEST",
          expect_preview=["BILLING_CREDIT_ADD", "credit_balance_cents", "25000", "approval"],
          before_applying=lambda page: screenshot(page, "operation-preview"))
    expect(requester.locator(".messages")).to_contain_text("Sent for approval")
    expect(requester.locator("#tenant-credit")).to_have_text("0¢")
    requester.goto("/platform/approvals/")
    expect(requester.locator("#approval-rows")).to_contain_text("someone else must decide")

    approver = open_browser(staff(Role.ADMIN, email="alex@example.com"), PASSWORD)
    approver.goto("/platform/approvals/")
    expect(approver.locator("#approval-rows")).to_contain_text("tenant_credit_add")
    screenshot(approver, "approvals")
    approver.locator("#approval-rows select[name=reason_code]").select_option("COMPLIANCE_REVIEW")
    approver.get_by_role("button", name="Approve").click()
    expect(approver.locator(".messages")).to_contain_text("approved and applied")
    approver.goto("/platform/tenants/ten_acme/")
    expect(approver.locator("#tenant-credit")).to_have_text("25000¢")
    screenshot(approver, "tenant-page")

    approver.goto("/audit/?action=BILLING_CREDIT_ADD")
    expect(approver.locator("#ledger-state")).to_contain_text("Last verify")
    expect(approver.locator("#audit-rows tr")).to_have_count(1)
    screenshot(approver, "audit-ledger")
    approver.locator("#audit-rows a", has_text="BILLING_CREDIT_ADD").click()
    diff = approver.locator("table.diff")
    expect(diff).to_contain_text("credit_balance_cents")
    expect(diff.locator("td.del")).to_have_text("0")
    expect(diff.locator("td.ins")).to_have_text("25000")
    expect(approver.locator("main")).to_contain_text("sam@example.com")  # the requester acted
    screenshot(approver, "audit-entry")


def test_upload_events_shows_progress_then_the_result(open_browser, tmp_path, screenshot):
    lines = [f'{{"message": "job {i} finished in {i} ms", "service": "batch"}}'
             for i in range(5000)]
    lines[41] = "{broken"
    upload = tmp_path / "events.ndjson"
    upload.write_text("\n".join(lines) + "\n")
    page = open_browser(staff(Role.OPS), PASSWORD)
    page.goto("/events/")
    page.get_by_role("link", name="Upload events").click()
    page.set_input_files("input[name=file]", str(upload))
    page.get_by_role("button", name="Upload and ingest").click()
    summary = page.locator("#ingest-summary")
    expect(summary).to_contain_text("4999 stored")
    expect(summary).to_contain_text("1 refused")
    expect(summary.locator("td.num")).to_have_text("42")
    expect(page.locator("progress[data-upload]")).to_have_attribute("value", "100")
    screenshot(page, "event-upload")
    assert Event.objects.filter(source="console").count() == 4999


def test_trust_page_follows_a_verification_to_its_decision(open_browser, screenshot):
    from casefile.trust import services as trust
    from tests.evidence.helpers import TEXT_MAP, png, upload

    platform.platform_user_upsert(actor=CLI, user_id="usr_robin", email="robin@example.com")
    trust.trust_profile_update(actor=CLI, user_id="usr_robin",
                               changes={"is_18plus_attested": True}, reason_code=None)
    upload(platform_user_id="usr_robin", pii_map=TEXT_MAP)
    upload(platform_user_id="usr_robin", data=png(120, 80), content_type="image/png",
           pii_map=[{"kind": "face", "locator": [30, 20, 40, 40]}])
    analyst = open_browser(staff(Role.ANALYST, email="ana@example.com"), PASSWORD)
    analyst.goto("/trust/users/usr_robin/")
    flags = analyst.locator("#flags")
    expect(flags).to_contain_text("payouts")
    expect(flags).to_contain_text("identity verification is none")
    expect(analyst.locator("#evidence")).to_contain_text("[REDACTED:name]")
    expect(analyst.locator("#evidence")).not_to_contain_text("Alice")

    form = analyst.locator("form[action$='/verifications/']")
    form.locator("select[name=type]").select_option("idv")
    form.locator("input[name=vendor]").fill("persona")
    form.locator("input[name=vendor_session_id]").fill("inq_robin1")
    apply(analyst, form, "INVESTIGATION", expect_preview=["VERIFICATION_CASE_OPENED"])
    expect(analyst.locator(".messages")).to_contain_text("verification opened")
    analyst.locator("a[href^='/trust/verifications/']").first.click()
    expect(analyst.locator("#state")).to_have_text("created")
    for state in ("pending", "in_review", "passed"):
        move = analyst.locator("form[action$='/move/']")
        move.locator("select[name=to]").select_option(state)
        if state == "passed":
            move.locator("input[name=decision]").fill("passed")
        apply(analyst, move, "INVESTIGATION", expect_preview=[state])
        expect(analyst.locator("#state")).to_have_text(state)
    analyst.get_by_role("link", name="usr_robin").first.click()
    expect(analyst.locator("h1")).to_contain_text("robin@example.com")
    payouts = analyst.locator("#flags li", has_text="payouts").first
    expect(payouts).to_contain_text("eligible")
    expect(payouts).not_to_contain_text("not eligible")
    screenshot(analyst, "trust-page")


def test_a_legal_hold_is_placed_by_one_and_released_by_two(open_browser, screenshot):
    from casefile.holds.models import LegalHold
    from casefile.storage import get_store
    from tests.evidence.helpers import upload

    blob = upload()
    first = open_browser(staff(Role.LEGAL, email="lee@example.com"), PASSWORD)
    first.goto(f"/evidence/{blob.id}/")
    section = first.locator("#legal-holds")
    section.locator("summary").click()
    form = section.locator("form")
    form.locator("textarea[name=note]").fill("Smith v. Platform: preserve")
    apply(first, form, "LEGAL_REQUEST", expect_preview=["LEGAL_HOLD_PLACED"])
    expect(first.locator("#blob-state")).to_have_text("legal hold")
    hold = LegalHold.objects.get()
    assert get_store().head(blob.original_key).legal_hold

    first.goto(f"/holds/{hold.id}/")
    expect(first.locator("#hold-state")).to_have_text("active")
    expect(first.locator("#hold-objects")).to_contain_text("ON")
    screenshot(first, "hold-page")
    form = first.locator("form[action$='/release/']")
    apply(first, form, "LEGAL_REQUEST", expect_preview=["LEGAL_HOLD_RELEASED"])
    expect(first.locator("main")).to_contain_text("awaits approval")
    first.goto("/platform/approvals/")
    expect(first.locator("#approval-rows")).to_contain_text("someone else must decide")

    second = open_browser(staff(Role.LEGAL, email="lou@example.com"), PASSWORD)
    second.goto("/platform/approvals/")
    expect(second.locator("#approval-rows")).to_contain_text("legal_hold_release")
    second.locator("#approval-rows select[name=reason_code]").select_option("LEGAL_REQUEST")
    second.get_by_role("button", name="Approve").click()
    expect(second.locator(".messages")).to_contain_text("approved")
    second.goto(f"/holds/{hold.id}/")
    expect(second.locator("#hold-state")).to_have_text("released")
    expect(second.locator("main")).to_contain_text("approved by lou@example.com")
    expect(second.locator("#hold-objects")).to_contain_text("off")
    assert not get_store().head(blob.original_key).legal_hold
    screenshot(second, "hold-released")


def test_a_rule_is_published_then_a_queued_item_is_decided(open_browser, screenshot):
    import json

    from casefile.trust import moderation
    from casefile.trust.models import ModerationItem

    platform.platform_user_upsert(actor=CLI, user_id="usr_kim", email="kim@example.com")
    editor = open_browser(staff(Role.OPS, email="ops@example.com"), PASSWORD)
    editor.goto("/moderation/rules/")
    rules = {"rules": [{"id": "likely-nudity", "description": "likely nudity, a person decides",
                        "condition": {"signal": "nudity", "gte": 0.7},
                        "outcome": {"decision": "blur", "safe_mode_required": True,
                                    "needs_review": True, "reason": "likely nudity"}}]}
    draft = editor.locator("form[action$='/rules/draft/']")
    draft.locator("textarea[name=rules]").fill(json.dumps(rules, indent=2))
    apply(editor, draft, "POLICY_VIOLATION", expect_preview=["likely-nudity"])
    publish = editor.locator("form[action$='/publish/']")
    apply(editor, publish, "POLICY_VIOLATION", expect_preview=["published"])
    expect(editor.locator("main")).to_contain_text("Published: v1")
    screenshot(editor, "moderation-rules")

    # The platform asks for a decision; the rule blurs it and asks a person to look.
    decided = moderation.moderation_decide(actor=moderation_platform(), item_data={
        "kind": "media", "item_id": "med_1", "subject_user_id": "usr_kim",
        "signals": [{"source": "classifier", "label": "nudity", "score": 0.82, "model": "v3"}]})
    assert decided.final_decision == "blur" and decided.needs_review

    moderator = open_browser(staff(Role.ANALYST, email="mo@example.com"), PASSWORD)
    moderator.goto("/moderation/")
    expect(moderator.locator("main")).to_contain_text("likely-nudity")
    screenshot(moderator, "moderation-queue")
    moderator.get_by_role("link", name="media:med_1").click()
    form = moderator.locator("form[action$='/review/']")
    form.locator("select[name=decision]").select_option("remove")
    apply(moderator, form, "POLICY_VIOLATION", expect_preview=["remove"])
    expect(moderator.locator("#decision")).to_have_text("remove")
    latest = ModerationItem.objects.filter(item_id="med_1").order_by("-created_at").first()
    assert latest.final_decision == "remove" and latest.overrides == decided.id
    moderator.goto("/moderation/")
    expect(moderator.locator("main")).not_to_contain_text("med_1")  # decided: off the queue


def moderation_platform():
    from casefile.audit.actor import Actor

    return Actor.staff(make_staff(Role.PLATFORM))


def test_a_report_case_is_worked_and_resolved_with_a_strike(open_browser, screenshot):
    from casefile.trust import reports
    from casefile.trust.models import SafetyReport, Strike

    platform.platform_user_upsert(actor=CLI, user_id="usr_accused", email="acc@example.com")
    filing = reports.report_file(
        actor=moderation_platform(), platform_report_id="plat_rep_1",
        accused_user_id="usr_accused", accuser_user_id="usr_reporter", category="harassment",
        text="Sent me threatening messages after a cancelled booking.",
        linked_items=[{"kind": "message", "id": "msg_77"}])
    case_id = filing.case.id

    support = open_browser(staff(Role.SUPPORT, email="sup@example.com"), PASSWORD)
    support.goto(f"/cases/{case_id}/")
    expect(support.locator("#report-severity")).to_have_text("high")
    expect(support.locator(".accuser")).to_have_text("hidden")  # support talks to the accused

    analyst = open_browser(staff(Role.ANALYST, email="an@example.com"), PASSWORD)
    analyst.goto(f"/cases/{case_id}/")
    expect(analyst.locator(".accuser")).to_have_text("usr_reporter")
    form = open_op(analyst, "Resolve this report")
    form.locator("select[name=outcome]").select_option("strike")
    form.locator("textarea[name=note]").fill("Threats confirmed in the thread.")
    apply(analyst, form, "POLICY_VIOLATION", expect_preview=["strike"])
    expect(analyst.locator("#report-outcome")).to_contain_text("strike")
    expect(analyst.locator("#report-strike-delta")).to_contain_text("3")
    screenshot(analyst, "report-case")
    report = SafetyReport.objects.get(pk=filing.report.pk)
    assert report.case.status == "resolved"
    assert Strike.objects.get(pk=report.strike_id).points == 3
