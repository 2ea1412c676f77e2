"""Writes for recurring issues: new templates placed as ingest meets them (events.grouping
decides where), and staff's split and merge, audited.

Events are never rewritten: an event's issue is its template's issue, so a merge or a split
moves template rows (a handful) however many events they hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import connection, transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.core.errors import Conflict, ValidationFailed
from casefile.core.timeutil import now
from casefile.events import grouping
from casefile.events.fingerprint import fingerprint
from casefile.events.grouping import Slot, Source
from casefile.events.models import EventTemplate, Issue, TemplateSlot

# Serialises placing new templates (PostgreSQL; SQLite has one writer anyway): the grouping is
# a function of the set of templates only if each placement sees every one placed before it.
_PLACEMENT_LOCK = 0x6576_6973  # "evis"


class DatabaseStore:
    """events.grouping's state in the tables: issues, templates, their slots."""

    def __init__(self, *, examples: dict[str, tuple[str, datetime, bool]]) -> None:
        self.examples = examples  # fingerprint -> (first message, its time, sender's own)

    def slot_members(self, keys: list[str]) -> dict[str, list[tuple[str, str]]]:
        members: dict[str, list[tuple[str, str]]] = {}
        for slot, word, fp in TemplateSlot.objects.filter(slot__in=keys).values_list(
                "slot", "word", "template_id"):
            members.setdefault(slot, []).append((word, fp))
        return members

    def issues_of(self, fingerprints: Iterable[str]) -> set[str]:
        return set(EventTemplate.objects.filter(fingerprint__in=list(fingerprints))
                   .values_list("issue_id", flat=True))

    def locked(self, issues: set[str]) -> set[str]:
        return set(Issue.objects.filter(id__in=issues, locked=True)
                   .values_list("id", flat=True))

    def issue_new(self, source: Source, title: str) -> str:
        return Issue.objects.create(component=source.component, service=source.service,
                                    event_type=source.event_type, title=title,
                                    created_at=now()).id

    def issues_merge(self, into: str, others: list[str]) -> None:
        _merge(into, others)

    def template_add(self, fingerprint: str, source: Source, template: str, slots: list[Slot],
                     issue: str) -> None:
        example, seen, own = self.examples[fingerprint]
        EventTemplate.objects.create(
            fingerprint=fingerprint, issue_id=issue, component=source.component,
            service=source.service, event_type=source.event_type, template=template,
            example=example, first_seen=seen, client_fingerprint=own)
        TemplateSlot.objects.bulk_create(
            [TemplateSlot(slot=s.key, template_id=fingerprint, word=s.word[:200]) for s in slots])
        current = Issue.objects.get(pk=issue)
        title = grouping.pattern(current.title, template)
        if title != current.title:
            Issue.objects.filter(pk=issue).update(title=title)


def _merge(into: str, others: list[str]) -> None:
    EventTemplate.objects.filter(issue_id__in=others).update(issue_id=into)
    # Issues merged into these earlier point at the survivor too: one hop to the live issue.
    Issue.objects.filter(merged_into_id__in=others).update(merged_into_id=into)
    Issue.objects.filter(id__in=others).update(merged_into_id=into)
    title = _title([Issue.objects.get(pk=into).title, *Issue.objects.filter(
        id__in=others).order_by("id").values_list("title", flat=True)])
    Issue.objects.filter(pk=into).update(title=title)


class Seen(Protocol):
    """What placing a template needs of an event: ingest's EventRow, or a stored event."""

    @property
    def fingerprint(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def message(self) -> str: ...
    @property
    def component(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def event_type(self) -> str: ...


@dataclass(frozen=True)
class StoredEvent:
    """A stored event's part that `templates_register` reads (migration 0007)."""

    fingerprint: str
    occurred_at: datetime
    message: str
    component: str
    service: str
    event_type: str


def _title(templates: list[str]) -> str:
    """The common pattern of templates (their first, where lengths differ)."""
    title = templates[0]
    for template in templates[1:]:
        title = grouping.pattern(title, template)
    return title


def templates_register(rows: Iterable[Seen]) -> int:
    """Place the fingerprints of a batch not seen before; returns how many were new. Ingest
    calls it before storing the batch, so every stored event's template has its issue."""
    first: dict[str, Seen] = {}
    for row in rows:
        earliest = first.get(row.fingerprint)
        if earliest is None or row.occurred_at < earliest.occurred_at:
            first[row.fingerprint] = row
    if not first:
        return 0
    new = _unknown(first)
    if not new:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PLACEMENT_LOCK])
        new = _unknown({fp: first[fp] for fp in new})  # placed by another ingest meanwhile
        examples = {}
        for fp in new:
            row = first[fp]
            ours = fingerprint(message=row.message, component=row.component, service=row.service,
                               event_type=row.event_type)
            examples[fp] = (row.message, row.occurred_at, ours[0] != fp, ours[1])
        store = DatabaseStore(examples={fp: e[:3] for fp, e in examples.items()})
        for fp in sorted(new):  # any order gives the same issues; sorted gives the same ids too
            row = first[fp]
            grouping.place(store, fingerprint=fp, template=examples[fp][3],
                           source=Source(row.component, row.service, row.event_type),
                           mergeable=not examples[fp][2])
    return len(new)


def _unknown(first: dict[str, Seen]) -> list[str]:
    known = set(EventTemplate.objects.filter(fingerprint__in=list(first))
                .values_list("fingerprint", flat=True))
    return [fp for fp in first if fp not in known]


def issue_split(*, actor: Actor, issue: Issue, fingerprints: list[str],
                reason_code: str) -> Issue:
    """Move some of an issue's templates into a new issue. Both are locked: automatic merging
    adds new templates to them but never joins them again."""
    actor.require(Perm.EVENTS_ISSUES)
    with transaction.atomic(durable=True):
        issue = _live(issue.id)
        moved = sorted(set(fingerprints))
        held = set(issue.templates.values_list("fingerprint", flat=True))
        strangers = [fp for fp in moved if fp not in held]
        if strangers:
            raise ValidationFailed("these templates are not in the issue",
                                   details={"fingerprints": strangers})
        if not moved or len(moved) == len(held):
            raise ValidationFailed("choose some of the issue's templates, not none or all")
        title = _title(list(EventTemplate.objects.filter(fingerprint__in=moved)
                            .order_by("template").values_list("template", flat=True)))
        new = Issue.objects.create(component=issue.component, service=issue.service,
                                   event_type=issue.event_type, title=title, created_at=now(),
                                   locked=True)
        EventTemplate.objects.filter(fingerprint__in=moved).update(issue=new)
        kept_title = _title(list(issue.templates.order_by("template")
                                 .values_list("template", flat=True)))
        Issue.objects.filter(pk=issue.pk).update(locked=True, title=kept_title)
        ledger.record(actor=actor, action="ISSUE_SPLIT", resource=f"issue:{issue.id}",
                      reason_code=reason_code,
                      before={"title": issue.title, "templates": len(held)},
                      after={"title": kept_title, "templates": len(held) - len(moved)},
                      metadata={"new_issue": new.id, "new_title": title, "moved": moved})
    return new


def issue_merge(*, actor: Actor, issue: Issue, others: list[str], reason_code: str) -> Issue:
    """Merge other issues into this one; it is locked, so it stays as staff made it."""
    actor.require(Perm.EVENTS_ISSUES)
    with transaction.atomic(durable=True):
        issue = _live(issue.id)
        merged = sorted(set(others) - {issue.id})
        if not merged:
            raise ValidationFailed("name at least one other issue to merge into this one")
        found = {i.id: i for i in Issue.objects.filter(id__in=merged)}
        missing = [i for i in merged if i not in found]
        if missing:
            raise ValidationFailed("no such issues", details={"issues": missing})
        gone = [i for i in merged if found[i].merged_into_id is not None]
        if gone:
            raise Conflict("already merged into another issue", details={"issues": gone})
        before = issue.title
        _merge(issue.id, merged)
        Issue.objects.filter(pk=issue.pk).update(locked=True)
        issue.refresh_from_db()
        ledger.record(actor=actor, action="ISSUE_MERGED", resource=f"issue:{issue.id}",
                      reason_code=reason_code, before={"title": before},
                      after={"title": issue.title},
                      metadata={"merged": merged,
                                "titles": {i: found[i].title for i in merged}})
    return issue


def _live(issue_id: str) -> Issue:
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    if issue.merged_into_id is not None:
        raise Conflict(f"{issue.id} was merged into {issue.merged_into_id}",
                       details={"merged_into": issue.merged_into_id})
    return issue
