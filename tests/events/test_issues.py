"""Issues in the database: placed at ingest, stable under re-ingest, split and merged by staff."""

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied, ValidationFailed
from casefile.events import issues
from casefile.events.models import Event, EventTemplate, Issue
from tests.conftest import make_staff
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["root", "uucp", "ftp", "git", "mysql", "sshd"]


def records(service="sshd", names=NAMES, start=0):
    return [{"message": f"Failed password for {name} from 10.0.0.{i} port 22 ssh2",
             "service": service, "timestamp": f"2026-11-20T10:00:{(start + i) % 60:02d}Z",
             "event_id": f"{service}-{start + i}"}
            for i, name in enumerate(names)] + [
        {"message": "Connection closed by 10.0.0.9 [preauth]", "service": service,
         "timestamp": "2026-11-20T10:01:00Z", "event_id": f"{service}-closed-{start}"}]


def state(service: str) -> set[frozenset[str]]:
    """The partition of a source's templates into issues (ids aside)."""
    by_issue: dict[str, set[str]] = {}
    for fp, issue in EventTemplate.objects.filter(service=service).values_list("fingerprint",
                                                                                "issue_id"):
        by_issue.setdefault(issue, set()).add(fp)
    return {frozenset(v) for v in by_issue.values()}


def issue_of(message: str) -> Issue:
    event = Event.objects.filter(message=message).first()
    return EventTemplate.objects.get(fingerprint=event.fingerprint).issue


def test_ingest_places_every_template_in_an_issue():
    ingest(records())
    fingerprints = set(Event.objects.values_list("fingerprint", flat=True))
    assert set(EventTemplate.objects.values_list("fingerprint", flat=True)) == fingerprints
    issue = issue_of("Failed password for root from 10.0.0.0 port 22 ssh2")
    assert issue.title == "Failed password for <*> from <*> port <*>"
    assert issue.templates.count() == len(NAMES)
    assert issue.service == "sshd"
    closed = issue_of("Connection closed by 10.0.0.9 [preauth]")
    assert closed != issue
    template = issue.templates.order_by("first_seen").first()
    assert template.example.startswith("Failed password for root")


def test_the_same_events_in_another_order_or_batches_give_the_same_issues():
    ingest(records("a"))
    rows = list(reversed(records("b")))
    for row in rows:  # one event per batch: each template placed on its own
        ingest([row])
    assert len(state("a")) == len(state("b")) == 2
    sizes = lambda s: sorted(len(m) for m in s)  # noqa: E731
    assert sizes(state("a")) == sizes(state("b")) == [1, len(NAMES)]


def test_reingest_changes_nothing():
    ingest(records())
    before = (state("sshd"), list(Issue.objects.order_by("id").values()))
    result = ingest(records())
    assert result.accepted == 0
    assert (state("sshd"), list(Issue.objects.order_by("id").values())) == before


def test_issues_merge_as_the_fourth_word_arrives():
    ingest(records(names=NAMES[:3]))
    assert len(state("sshd")) == 4  # three names, and the closed connection
    first = issue_of("Failed password for root from 10.0.0.0 port 22 ssh2")
    ingest(records(names=["news"], start=10))
    assert len(state("sshd")) == 2
    merged = issue_of("Failed password for uucp from 10.0.0.1 port 22 ssh2")
    assert merged.id == first.id  # the oldest issue survives
    gone = Issue.objects.exclude(merged_into=None)
    assert gone.count() == 2 and {i.merged_into_id for i in gone} == {first.id}


def test_a_manual_split_survives_new_events(db):
    analyst = Actor.staff(make_staff(Role.ANALYST))
    ingest(records())
    issue = issue_of("Failed password for root from 10.0.0.0 port 22 ssh2")
    root = Event.objects.filter(message__contains="for root").first().fingerprint
    new = issues.issue_split(actor=analyst, issue=issue, fingerprints=[root],
                             reason_code="OPERATIONS")
    entry = AuditEntry.objects.get(action="ISSUE_SPLIT")
    assert entry.resource == f"issue:{issue.id}"
    assert entry.details["before"]["templates"] == len(NAMES)
    assert entry.details["after"]["templates"] == len(NAMES) - 1
    assert entry.metadata["new_issue"] == new.id and entry.metadata["moved"] == [root]
    assert new.title == "Failed password for root from <*> port <*>" and new.locked
    # More events, old and new templates alike: the split stays.
    ingest(records(names=[*NAMES, "admin", "oracle"], start=20))
    assert EventTemplate.objects.get(fingerprint=root).issue_id == new.id
    others = issue_of("Failed password for admin from 10.0.0.6 port 22 ssh2")
    assert others.id == issue.id
    assert Issue.objects.get(pk=new.id).templates.count() == 1


def test_a_manual_merge_locks_and_is_audited(db):
    ops = Actor.staff(make_staff(Role.OPS))
    ingest(records())
    failed = issue_of("Failed password for root from 10.0.0.0 port 22 ssh2")
    closed = issue_of("Connection closed by 10.0.0.9 [preauth]")
    kept = issues.issue_merge(actor=ops, issue=failed, others=[closed.id],
                              reason_code="OPERATIONS")
    assert kept.locked and kept.templates.count() == len(NAMES) + 1
    assert Issue.objects.get(pk=closed.id).merged_into_id == failed.id
    entry = AuditEntry.objects.get(action="ISSUE_MERGED")
    assert entry.metadata["merged"] == [closed.id]
    with pytest.raises(Conflict):
        issues.issue_merge(actor=ops, issue=Issue.objects.get(pk=closed.id),
                           others=[failed.id], reason_code="OPERATIONS")


def test_split_and_merge_refuse_bad_requests(db):
    analyst = Actor.staff(make_staff(Role.ANALYST))
    viewer = Actor.staff(make_staff(Role.VIEWER))
    ingest(records())
    issue = issue_of("Failed password for root from 10.0.0.0 port 22 ssh2")
    every = list(issue.templates.values_list("fingerprint", flat=True))
    with pytest.raises(PermissionDenied):
        issues.issue_split(actor=viewer, issue=issue, fingerprints=every[:1],
                           reason_code="OPERATIONS")
    with pytest.raises(ValidationFailed):
        issues.issue_split(actor=analyst, issue=issue, fingerprints=every,
                           reason_code="OPERATIONS")
    with pytest.raises(ValidationFailed):
        issues.issue_split(actor=analyst, issue=issue, fingerprints=["nope"],
                           reason_code="OPERATIONS")
    with pytest.raises(ValidationFailed):
        issues.issue_merge(actor=analyst, issue=issue, others=["iss_nope"],
                           reason_code="OPERATIONS")
    with pytest.raises(ValidationFailed):
        issues.issue_merge(actor=analyst, issue=issue, others=[issue.id],
                           reason_code="OPERATIONS")
    assert not AuditEntry.objects.filter(action__startswith="ISSUE_").exists()


def test_a_senders_fingerprint_is_its_own_issue():
    ingest([{"message": f"removing {name} now", "fingerprint": f"client-{name}",
             "event_id": name} for name in NAMES])
    rows = EventTemplate.objects.filter(fingerprint__startswith="client-")
    assert rows.count() == len(NAMES)
    assert all(t.client_fingerprint for t in rows)
    assert len({t.issue_id for t in rows}) == len(NAMES)


def test_the_database_groups_a_loghub_sample_as_the_benchmark_does():
    """OpenSSH through the real ingest, in a shuffled order and in small batches: the issues in
    the tables are the in-memory grouping's (bench/fingerprint.py), and as accurate."""
    import random
    import sys
    from pathlib import Path

    from tests.events.test_fingerprint import loghub_or_skip

    loghub = loghub_or_skip()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from fingerprint import grouping_accuracy, issues, load

    messages, truth = load(loghub, "OpenSSH")
    order = list(range(len(messages)))
    random.Random(14).shuffle(order)
    for start in range(0, len(order), 250):
        ingest([{"message": messages[i], "event_id": str(i), "timestamp": "2026-11-20T10:00:00Z"}
                for i in order[start:start + 250]])
    by_line = {int(key): fp for key, fp in Event.objects.values_list("raw_payload__event_id",
                                                                      "fingerprint")}
    assert len(by_line) == len(messages)
    issue_of_fp = dict(EventTemplate.objects.values_list("fingerprint", "issue_id"))
    stored = [issue_of_fp[by_line[i]] for i in range(len(messages))]
    in_memory = issues(messages)

    def lines_by_group(groups):
        out: dict[str, set[int]] = {}
        for line, group in enumerate(groups):
            out.setdefault(group, set()).add(line)
        return {frozenset(v) for v in out.values()}

    assert lines_by_group(stored) == lines_by_group(in_memory)
    assert grouping_accuracy(stored, truth) >= 0.99


def test_migration_0007_places_the_templates_of_events_stored_before_issues():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("casefile.events.migrations.0007_issues_from_events")
    ingest(records())
    expected = state("sshd")
    from casefile.events.models import TemplateSlot

    TemplateSlot.objects.all().delete()
    EventTemplate.objects.all().delete()
    Issue.objects.update(merged_into=None)
    Issue.objects.all().delete()
    migration.forward(apps, None)
    assert state("sshd") == expected
    assert set(EventTemplate.objects.values_list("fingerprint", flat=True)) == set(
        Event.objects.values_list("fingerprint", flat=True))
    migration.backward(apps, None)
    assert not Issue.objects.exists() and not EventTemplate.objects.exists()
