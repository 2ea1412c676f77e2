"""Reads of events: filtered search, analytics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal, get_args

from django.db import connection
from django.db.models import Count, Max, Min, QuerySet
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from pydantic import BeforeValidator, WithJsonSchema

from casefile.core.errors import NotFound, ValidationFailed
from casefile.core.schemas import Column, Instant, IssueId, Schema, SearchText
from casefile.core.sql import contains_pattern
from casefile.core.timeutil import now
from casefile.events.fingerprint import template_of
from casefile.events.models import Event, EventTemplate, Issue
from casefile.events.severity import Severity, parse_severity

FILTER_FIELDS = ("component", "service", "environment", "system_id", "event_type",
                 "fingerprint", "source")


def _severity(value: object) -> Severity | None:
    if value in (None, ""):
        return None
    return parse_severity(value)  # its ValueError is a validation error


# Repeatable filters, each value bounded by the column it is compared with.
Components = list[Annotated[str, Column(Event, "component")]] | None
Services = list[Annotated[str, Column(Event, "service")]] | None
Environments = list[Annotated[str, Column(Event, "environment")]] | None
SystemIds = list[Annotated[str, Column(Event, "system_id")]] | None
EventTypes = list[Annotated[str, Column(Event, "event_type")]] | None
Fingerprints = list[Annotated[str, Column(Event, "fingerprint")]] | None
Sources = list[Annotated[str, Column(Event, "source")]] | None


class EventFilter(Schema):
    """What every reader of events filters by: the API's query string, the console's URL and
    the export's audit entry all go through this one schema."""

    component: Components = None
    service: Services = None
    environment: Environments = None
    system_id: SystemIds = None
    event_type: EventTypes = None
    fingerprint: Fingerprints = None
    source: Sources = None
    # A recurring issue (`iss_…`): the events of its templates, whatever it merged since.
    issue: IssueId | None = None
    # The least severe level to include: a name ("warning", "err") or a number 0-7.
    severity: Annotated[Severity | None, BeforeValidator(_severity),
                        WithJsonSchema({"type": "string", "examples": ["warning", "3"]})] = None
    since: Instant | None = None
    until: Instant | None = None
    q: SearchText | None = None  # text search on the message (substring, case-insensitive)

    @property
    def min_severity(self) -> Severity | None:
        return self.severity

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.model_dump().items() if v not in (None, [], "")}
        if self.severity is not None:
            out.pop("severity")
            out["min_severity"] = self.severity.label
        return out

    def window(self, since: datetime, until: datetime | None) -> EventFilter:
        return self.model_copy(update={"since": since, "until": until})


def events(f: EventFilter) -> QuerySet[Event]:
    query = Event.objects.all()
    for name in FILTER_FIELDS:
        values = getattr(f, name)
        if values:
            query = query.filter(**({name: values[0]} if len(values) == 1
                                    else {f"{name}__in": values}))
    if f.issue:
        query = query.filter(fingerprint__in=issue_fingerprints(f.issue))
    if f.severity is not None:
        query = query.filter(severity__lte=int(f.severity))
    if f.since:
        query = query.filter(occurred_at__gte=f.since)
    if f.until:
        query = query.filter(occurred_at__lt=f.until)
    if f.q:
        query = _text_search(query, f.q)
    return query


def _text_search(query: QuerySet[Event], text: str) -> QuerySet[Event]:
    if connection.vendor == "postgresql":
        pattern = contains_pattern(text)
        return query.extra(where=["event.message ILIKE %s"], params=[pattern])  # noqa: S610
    if len(text) >= 3:  # the trigram tokenizer matches substrings of three or more characters
        phrase = '"' + text.replace('"', '""') + '"'
        return query.extra(  # noqa: S610
            where=["event.rowid IN (SELECT rowid FROM event_fts WHERE event_fts MATCH %s)"],
            params=[phrase])
    return query.filter(message__icontains=text)


def event_get(event_id: str) -> Event:
    found = Event.objects.filter(pk=event_id).first()
    if found is None:
        raise NotFound(f"no event {event_id}")
    return found


# --- analytics --------------------------------------------------------------------------------
def _window(f: EventFilter, default: timedelta) -> tuple[datetime, datetime]:
    until = f.until or now()
    since = f.since or (until - default)
    if since >= until:
        raise ValidationFailed("since must be before until")
    return since, until


def top_fingerprints(f: EventFilter, *, limit: int = 10) -> list[dict]:
    """The most frequent fingerprints in the window, with the count of the window before it."""
    since, until = _window(f, timedelta(days=1))
    span = until - since
    current = (
        events(_with(f, since, until)).values("fingerprint")
        .annotate(count=Count("*"), first_seen=Min("occurred_at"), last_seen=Max("occurred_at"))
        .order_by("-count", "fingerprint")[:limit]
    )
    rows: list[dict] = [dict(r) for r in current]
    keys = [r["fingerprint"] for r in rows]
    previous = dict(
        events(_with(f, since - span, since)).filter(fingerprint__in=keys)
        .values("fingerprint").annotate(count=Count("*")).values_list("fingerprint", "count")
    )
    for row in rows:
        sample = (Event.objects.filter(fingerprint=row["fingerprint"], occurred_at__gte=since,
                                       occurred_at__lt=until)
                  .order_by("-occurred_at").values_list("message", flat=True).first()) or ""
        before = previous.get(row["fingerprint"], 0)
        row.update(sample=sample, template=template_of(sample), previous_count=before,
                   trend=_trend(before, row["count"]))
    return rows


def _trend(before: int, after: int) -> str:
    if before == 0:
        return "new"
    ratio = after / before
    return "rising" if ratio >= 1.5 else "falling" if ratio <= 1 / 1.5 else "steady"


def _with(f: EventFilter, since: datetime, until: datetime) -> EventFilter:
    return f.window(since, until)


Bucket = Literal["minute", "hour", "day"]
# Each bucket's truncation and its default window.
BUCKETS: dict[str, tuple] = {"minute": (TruncMinute, timedelta(hours=1)),
                             "hour": (TruncHour, timedelta(days=1)),
                             "day": (TruncDay, timedelta(days=30))}


def severity_histogram(f: EventFilter, *, bucket: str) -> list[dict]:
    if bucket not in BUCKETS:
        raise ValidationFailed("bucket must be minute, hour or day")
    trunc, default = BUCKETS[bucket]
    since, until = _window(f, default)
    rows = (events(_with(f, since, until)).annotate(bucket=trunc("occurred_at"))
            .values("bucket", "severity").annotate(count=Count("*")).order_by("bucket",
                                                                               "severity"))
    return [{"bucket": r["bucket"], "severity": Severity(r["severity"]).label,
             "count": r["count"]} for r in rows]


BreakdownField = Literal["component", "service", "environment", "system_id", "event_type",
                         "severity"]
BREAKDOWN_FIELDS: tuple[str, ...] = get_args(BreakdownField)
ANALYTICS_MAX_LIMIT = 100


def breakdown(f: EventFilter, *, by: str, limit: int = 20) -> list[dict]:
    if by not in BREAKDOWN_FIELDS:
        raise ValidationFailed(f"breakdown by one of {', '.join(BREAKDOWN_FIELDS)}")
    since, until = _window(f, timedelta(days=1))
    rows = (events(_with(f, since, until)).values(by).annotate(count=Count("*"))
            .order_by("-count", by)[:limit])
    if by == "severity":
        return [{"value": Severity(r[by]).label, "count": r["count"]} for r in rows]
    return [{"value": r[by], "count": r["count"]} for r in rows]


# --- issues -----------------------------------------------------------------------------------
def issue_get(issue_id: str) -> Issue:
    found = Issue.objects.filter(pk=issue_id).first()
    if found is None:
        raise NotFound(f"no issue {issue_id}")
    return found


def issue_fingerprints(issue_id: str) -> list[str]:
    live = Issue.objects.filter(pk=issue_id).values_list("merged_into_id", flat=True).first()
    return list(EventTemplate.objects.filter(issue_id=live or issue_id)
                .values_list("fingerprint", flat=True))


def issue_templates(issue: Issue) -> list[EventTemplate]:
    return list(issue.templates.order_by("first_seen", "fingerprint"))


def issue_of_fingerprint(fingerprint: str) -> Issue | None:
    template = EventTemplate.objects.select_related("issue").filter(
        fingerprint=fingerprint).first()
    return template.issue if template else None


def issues_of_fingerprints(fingerprints: list[str]) -> dict[str, Issue]:
    return {t.fingerprint: t.issue for t in EventTemplate.objects.select_related("issue")
            .filter(fingerprint__in=set(fingerprints))}


def issue_cases(issue: Issue, *, limit: int = 50) -> list:
    """The cases holding an event of the issue: linked events are few, so start from them."""
    from casefile.cases.models import Case

    fingerprints = issue_fingerprints(issue.id)
    return list(Case.objects.filter(event_links__event__fingerprint__in=fingerprints)
                .distinct().order_by("-created_at")[:limit])


def issues_list(*, service: str | None = None, component: str | None = None,
                event_type: str | None = None) -> QuerySet[Issue]:
    """Live issues (not merged away), newest first."""
    query = Issue.objects.filter(merged_into=None)
    for name, value in (("service", service), ("component", component),
                        ("event_type", event_type)):
        if value is not None:
            query = query.filter(**{name: value})
    return query
