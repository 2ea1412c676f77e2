"""Analytics read hourly rollups for whole hours and events for the edges: every answer must be
the one counting the events gives, for any window, with any filter (those the rollups answer
and those that fall back to the events), grouped by issue."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casefile.accounts.roles import Role
from casefile.core.timeutil import now
from casefile.events import selectors
from casefile.events.fingerprint import template_of
from casefile.events.models import (
    Event,
    EventRollup,
    EventRollupDay,
    EventRollupTotal,
    EventTemplate,
    Issue,
)
from casefile.events.normalise import normalise
from casefile.events.selectors import EventFilter
from casefile.events.severity import Severity
from casefile.events.store import store_batch
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # the corpus: 78 hours, over three midnights
H = timedelta(hours=1)
SPAN = 78 * H
NAMES = ["root", "uucp", "ftp", "git", "mysql", "sshd"]
JOBS = ["backup", "reindex", "vacuum"]
MESSAGES = [
    lambda i: f"Failed password for {NAMES[i // 4 % 6]} from 10.0.0.{i % 250} port 22 ssh2",
    lambda i: f"request {i} failed after {i * 3} ms",
    lambda i: "disk full",
    lambda i: f"cache miss for key user:{i}",
]


@pytest.fixture
def corpus():
    """800 events over 78 hours (some exactly on an hour or at midnight), two services and
    components, four levels, three environments; some with the sender's own fingerprint,
    shared by both services; and a few stored without their templates (as if around ingest),
    so the rollups have no source for them."""
    rng = random.Random(14)
    records = []
    for i in range(800):
        moment = BASE + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
        if i % 40 == 0:
            moment = BASE + H * (i // 40 * 4 % 78)
        record = {"event_id": f"e{i}", "timestamp": moment.isoformat(),
                  "level": rng.choice(["error", "warning", "info", "debug"]),
                  "service": rng.choice(["api", "worker"]),
                  "component": rng.choice(["db", "http"]),
                  "environment": rng.choice(["prod", "prod", "staging"]),
                  "host": f"h{i % 3}", "message": MESSAGES[i % 4](i)}
        if i % 9 == 0:
            record["fingerprint"] = "client-grouped"
        records.append(record)
    assert ingest(records).accepted == 800
    received = now()
    loose = [normalise({"event_id": f"loose{i}", "service": "legacy", "level": "error",
                        "timestamp": (BASE + timedelta(minutes=487 * i + 5)).isoformat(),
                        "message": f"legacy job {JOBS[i % 3]} crashed"},
                       default_source="tests", received_at=received) for i in range(9)]
    assert store_batch(loose) == 9
    return records


def in_window(since, until, keep=lambda e: True, every=None):
    return [e for e in (every or Event.objects.all()) if since <= e.occurred_at < until
            and keep(e)]


def issue_key(event, issues=None) -> str:
    """The issue an event is counted in: its template's, else its fingerprint on its own."""
    if issues is None:
        issues = dict(EventTemplate.objects.values_list("fingerprint", "issue_id"))
    return issues.get(event.fingerprint, event.fingerprint)


def window(since, until, **filters) -> EventFilter:
    return EventFilter(since=since, until=until, **filters)


DAY = timedelta(days=1)
MIDNIGHT = BASE + 4 * H
# Windows whose edges fall on the hour, inside hours, at midnight or inside days; holding whole
# days, only whole hours, part of one hour; and around everything.
WINDOWS = [
    (BASE, BASE + SPAN),
    (BASE + timedelta(minutes=17), BASE + 60 * H + timedelta(minutes=3, seconds=5)),
    (MIDNIGHT, MIDNIGHT + 2 * DAY),
    (MIDNIGHT + timedelta(microseconds=1), MIDNIGHT + DAY + 5 * H),
    (MIDNIGHT - timedelta(seconds=1), MIDNIGHT + DAY + timedelta(seconds=1)),
    (BASE + H, BASE + 3 * H + timedelta(microseconds=1)),
    (BASE + timedelta(minutes=59, seconds=59), BASE + H + timedelta(seconds=1)),
    (BASE + 2 * H + timedelta(minutes=5), BASE + 2 * H + timedelta(minutes=55)),
    (BASE + 30 * H, BASE + 31 * H),
    (BASE - DAY, BASE + 5 * DAY),
]
# Filters the rollups answer, with a predicate that says the same of an event.
ROLLUP_FILTERS = [
    ({}, lambda e: True),
    ({"severity": "warning"}, lambda e: e.severity <= Severity.WARNING),
    ({"service": ["api"]}, lambda e: e.service == "api"),
    ({"component": ["db"], "severity": "error"},
     lambda e: e.component == "db" and e.severity <= Severity.ERROR),
    ({"service": ["worker", "legacy"], "component": ["http", ""]},
     lambda e: e.service in ("worker", "legacy") and e.component in ("http", "")),
    ({"fingerprint": ["client-grouped"], "service": ["api"]},
     lambda e: e.fingerprint == "client-grouped" and e.service == "api"),
]
# Filters the rollups do not hold: the events are read.
EVENT_FILTERS = [
    ({"environment": ["staging"]}, lambda e: e.environment == "staging"),
    ({"system_id": ["h1"], "severity": "info"},
     lambda e: e.system_id == "h1" and e.severity <= Severity.INFO),
    ({"q": "password"}, lambda e: "password" in e.message.lower()),
    ({"source": ["tests"], "service": ["api"]}, lambda e: e.service == "api"),
]


@pytest.mark.parametrize(("filters", "keep"), ROLLUP_FILTERS + EVENT_FILTERS)
def test_top_issues_histograms_and_breakdowns_equal_counting_events(corpus, filters, keep):
    every = list(Event.objects.all())
    issues = dict(EventTemplate.objects.values_list("fingerprint", "issue_id"))
    for since, until in WINDOWS:
        f = window(since, until, **filters)
        events = in_window(since, until, keep, every)
        by_issue = Counter(issue_key(e, issues) for e in events)
        top = selectors.top_issues(f, limit=100)
        assert {r["issue_id"] or r["fingerprint"]: r["count"] for r in top} == by_issue, (
            since, until)
        assert [r["count"] for r in top] == sorted(by_issue.values(), reverse=True)
        for row in top:
            mine = [e for e in events
                    if issue_key(e, issues) == (row["issue_id"] or row["fingerprint"])]
            assert row["first_seen"] == min(e.occurred_at for e in mine)
            assert row["last_seen"] == max(e.occurred_at for e in mine)
        for bucket, trunc in (("hour", lambda t: t.replace(minute=0, second=0, microsecond=0)),
                              ("day", lambda t: t.replace(hour=0, minute=0, second=0,
                                                          microsecond=0))):
            expected = Counter((trunc(e.occurred_at), Severity(e.severity).label)
                               for e in events)
            got = selectors.severity_histogram(f, bucket=bucket)
            assert {(r["bucket"], r["severity"]): r["count"] for r in got} == expected
            assert [(r["bucket"], r["severity"]) for r in got] == sorted(
                expected, key=lambda k: (k[0], Severity[k[1].upper()]))
        for by in selectors.BREAKDOWN_FIELDS:
            expected = Counter(Severity(e.severity).label if by == "severity" else getattr(e, by)
                               for e in events)
            got = selectors.breakdown(f, by=by, limit=100)
            assert {r["value"]: r["count"] for r in got} == expected, (by, since, until)
            assert [r["count"] for r in got] == sorted(expected.values(), reverse=True)


def test_rollup_filters_read_rollups_and_the_others_read_events(corpus):
    """Spoil the rollups: what they answer changes (so it is read from them), what falls back
    does not (so it is not)."""
    whole = window(MIDNIGHT, MIDNIGHT + 2 * DAY)
    asked = [whole, whole.model_copy(update={"service": ["api"]}),
             whole.model_copy(update={"environment": ["staging"]})]
    before = [selectors.breakdown(f, by="severity") for f in asked]
    for model in (EventRollup, EventRollupDay, EventRollupTotal):
        model.objects.update(count=1000)
    after = [selectors.breakdown(f, by="severity") for f in asked]
    assert after[0] != before[0] and all(r["count"] % 1000 == 0 for r in after[0])
    # By service: the rollups, but the sender's own fingerprint (it spans services) from events.
    assert after[1] != before[1] and not all(r["count"] % 1000 == 0 for r in after[1])
    assert after[2] == before[2]


def test_only_the_edges_read_events(corpus):
    """A window on whole hours reads no event: its severity chart and its counts by severity
    and component come from the rollups alone, but for the events of fingerprints whose source
    the rollups cannot tell (the sender's own, those counted without a template); with
    part-hours, only those are read."""
    for f in (window(BASE + H, BASE + 50 * H), window(MIDNIGHT, MIDNIGHT + DAY, service=["api"])):
        with CaptureQueriesContext(connection) as queries:
            selectors.severity_histogram(f, bucket="hour")
            selectors.severity_histogram(f, bucket="day")
            selectors.breakdown(f, by="severity")
            selectors.breakdown(f, by="component")
        for sql in [q["sql"] for q in queries]:
            assert '"event"' not in sql
            assert sql.count("FROM event e WHERE") == (sql.count("AND e.fingerprint IN (")
                                                       + sql.count("AND e.fingerprint = ANY("))
    f = window(BASE + timedelta(minutes=30), BASE + 50 * H + timedelta(minutes=10))
    with CaptureQueriesContext(connection) as queries:
        selectors.severity_histogram(f, bucket="day")
    (sql,) = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert sql.count("FROM event e WHERE") == 2  # the two part-hours


def test_top_issues_group_templates_by_issue(corpus):
    """The names after "Failed password for" vary: one issue per source, its templates counted
    together, titled by their common pattern."""
    f = window(BASE, BASE + SPAN, service=["api"], component=["db"])
    top = selectors.top_issues(f, limit=100)
    (row,) = [r for r in top if r["title"] == "Failed password for <*> from <*> port <*>"]
    issue = Issue.objects.get(pk=row["issue_id"])
    assert row["templates"] == issue.templates.count() > 1
    events = in_window(*f_window(f), lambda e: e.service == "api" and e.component == "db"
                       and e.message.startswith("Failed password")
                       and e.fingerprint != "client-grouped")
    assert row["count"] == len(events) and row["fingerprint"] is None
    newest = max(events, key=lambda e: e.occurred_at)
    assert row["sample"] == newest.message


def f_window(f):
    return f.since, f.until


def test_fingerprints_without_a_template_are_issues_of_their_own(corpus):
    f = window(BASE, BASE + SPAN, service=["legacy"])
    top = selectors.top_issues(f, limit=100)
    assert len(top) == 3  # a fingerprint per job
    for row in top:
        assert row["issue_id"] is None and row["templates"] == 1 and row["count"] == 3
        newest = Event.objects.filter(fingerprint=row["fingerprint"]).latest("occurred_at")
        assert row["sample"] == newest.message
        assert row["title"] == template_of(newest.message) == newest.message


def test_issues_made_by_hand_group_their_fingerprints(corpus):
    """Two unrelated templates put in one issue (as staff's merge does): counted as one."""
    disk = Event.objects.filter(message="disk full").values_list("fingerprint", flat=True)
    cache = Event.objects.filter(message__startswith="cache miss").values_list("fingerprint",
                                                                               flat=True)
    issue = Issue.objects.create(title="storage trouble", created_at=now())
    EventTemplate.objects.filter(fingerprint__in=set(disk) | set(cache)).update(issue=issue)
    f = window(BASE + timedelta(minutes=10), BASE + 5 * H + timedelta(minutes=50))
    (row,) = [r for r in selectors.top_issues(f, limit=100) if r["issue_id"] == issue.id]
    expected = in_window(f.since, f.until, lambda e: e.fingerprint in set(disk) | set(cache))
    assert row["count"] == len(expected) and row["title"] == "storage trouble"
    assert row["templates"] == len(set(disk) | set(cache))


def test_previous_window_and_trend(corpus):
    since, until = BASE + 3 * H + timedelta(minutes=20), BASE + SPAN
    f = window(since, until, severity="error")
    span = until - since
    issues = dict(EventTemplate.objects.values_list("fingerprint", "issue_id"))
    for row in selectors.top_issues(f, limit=100):
        key = row["issue_id"] or row["fingerprint"]
        before = [e for e in in_window(since - span, since, lambda e: e.severity <= 3)
                  if issue_key(e, issues) == key]
        assert row["previous_count"] == len(before)
        assert row["trend"] == selectors._trend(len(before), row["count"])


def test_issue_filter_counts_the_issues_templates(corpus):
    event = Event.objects.filter(message__startswith="Failed password", service="worker").first()
    issue = EventTemplate.objects.get(fingerprint=event.fingerprint).issue_id
    fingerprints = set(EventTemplate.objects.filter(issue_id=issue)
                       .values_list("fingerprint", flat=True))
    since, until = BASE + timedelta(minutes=30), BASE + 5 * H
    f = window(since, until, issue=issue)
    expected = Counter(Severity(e.severity).label
                       for e in in_window(since, until, lambda e: e.fingerprint in fingerprints))
    got = selectors.breakdown(f, by="severity", limit=100)
    assert {r["value"]: r["count"] for r in got} == expected


def test_api_names_top_recurring_issues_at_both_urls(api_as, corpus):
    client = api_as(Role.VIEWER)
    query = f"since={BASE.isoformat()}&until={(BASE + SPAN).isoformat()}".replace("+", "%2B")
    issues = client.call("GET", f"/api/v1/events/analytics/issues?{query}&limit=5").json()
    top = client.call("GET", f"/api/v1/events/analytics/top?{query}&limit=5").json()
    assert issues == top and len(issues["items"]) == 5
    first = issues["items"][0]
    assert set(first) == {"issue_id", "title", "fingerprint", "count", "first_seen",
                          "last_seen", "previous_count", "trend", "sample", "templates"}


def test_explorer_links_each_top_issue_to_its_page(client, staff_factory, corpus):
    client.force_login(staff_factory(Role.VIEWER))
    since, until = BASE.isoformat()[:16], (BASE + SPAN).isoformat()[:16]
    page = client.get(f"/events/?since={since}&until={until}")
    assert page.status_code == 200
    body = page.content.decode()
    top = selectors.top_issues(window(BASE, BASE + SPAN), limit=8)
    assert "Top recurring issues" in body
    for row in top:
        if row["issue_id"]:
            assert f'/events/issues/{row["issue_id"]}/"' in body
    legacy = window(BASE, BASE + SPAN, service=["legacy"])
    page = client.get(f"/events/?since={since}&until={until}&service=legacy")
    fingerprint = selectors.top_issues(legacy, limit=1)[0]["fingerprint"]
    assert f"?fingerprint={fingerprint}&amp;since=" in page.content.decode()


def test_an_empty_window_and_a_reversed_one():
    f = window(BASE, BASE + H)
    assert selectors.top_issues(f) == []
    assert selectors.severity_histogram(f, bucket="hour") == []
    assert selectors.breakdown(f, by="service") == []
    from casefile.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        selectors.top_issues(window(BASE + H, BASE))
