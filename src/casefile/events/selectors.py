"""Reads of events: filtered search, analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from pydantic import BeforeValidator, WithJsonSchema

from casefile.core.errors import NotFound, ValidationFailed
from casefile.core.schemas import Column, Instant, IssueId, Schema, SearchText
from casefile.core.sql import contains_pattern
from casefile.core.timeutil import now
from casefile.events.fingerprint import template_of
from casefile.events.models import Event, EventTemplate, Issue
from casefile.events.rollups import HOUR, hour_of, hour_sql
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
# Analytics read the hourly rollups (events.rollups) for the whole hours of a window and the
# events only for the part-hours at its edges, so they are exact and a week reads 168 hours of
# rollups, not every event in it. A rollup knows hour, fingerprint and severity; the source
# (component, service, event type) of a fingerprint is its template's (event_template), since
# a fingerprint computed at ingest is a function of its source. A fingerprint the sender gave
# itself can span sources, and one without a template row (stored before templates were
# registered, or written around ingest) has none on record: where the source matters, those
# fingerprints' events are counted from the events. Filters the rollups cannot answer at all
# (environment, system id, source, text) read the events for the whole window.
def _window(f: EventFilter, default: timedelta) -> tuple[datetime, datetime]:
    until = f.until or now()
    since = f.since or (until - default)
    if since >= until:
        raise ValidationFailed("since must be before until")
    return since, until


def _with(f: EventFilter, since: datetime, until: datetime) -> EventFilter:
    return f.window(since, until)


def _from_rollups(f: EventFilter) -> bool:
    return not (f.environment or f.system_id or f.source or f.q)


def _whole_hours(since: datetime, until: datetime) -> tuple[datetime, datetime] | None:
    first, last = hour_of(since), hour_of(until)
    if first < since:
        first += HOUR
    return (first, last) if first < last else None


def _in(column: str, values: list) -> tuple[str, list]:
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


# Which issues' counts to keep: (issue ids, fingerprints without a template).
Keys = tuple[list[str], list[str]]


def _fingerprints_of(f: EventFilter) -> list[str] | None:
    """The fingerprints the filter keeps, None for any."""
    keep = list(f.fingerprint) if f.fingerprint else None
    if f.issue:
        of_issue = issue_fingerprints(f.issue)
        keep = of_issue if keep is None else [fp for fp in keep if fp in set(of_issue)]
    return keep


def _conditions(f: EventFilter, *, at: str, source_at: str | None,
                keys: Keys | None = None) -> tuple[str, list]:
    """` AND …` for the filters the rollups answer: severity and fingerprints on `at` (a
    rollup's or an event's alias), the source columns on `source_at` (the event or its
    template; None where they do not apply)."""
    out: list[str] = []
    params: list = []
    if f.severity is not None:
        out.append(f"{at}.severity <= %s")
        params.append(int(f.severity))
    fingerprints = _fingerprints_of(f)
    if fingerprints is not None:
        sql, values = _in(f"{at}.fingerprint", fingerprints)
        out.append(sql)
        params += values
    if source_at is not None:
        for name in ("component", "service", "event_type"):
            if getattr(f, name):
                sql, values = _in(f"{source_at}.{name}", getattr(f, name))
                out.append(sql)
                params += values
    if keys is not None:
        issues, pseudo = keys
        of_issues, issue_values = _in("issue_id", issues)
        of_pseudo, pseudo_values = _in(f"{at}.fingerprint", pseudo)
        out.append(f"({at}.fingerprint IN (SELECT fingerprint FROM event_template "  # noqa: S608
                   f"WHERE {of_issues}) OR {of_pseudo})")
        params += issue_values + pseudo_values
    return "".join(f" AND {c}" for c in out), params


def _parts(f: EventFilter, since: datetime, until: datetime, *, hours: bool, sources: bool,
           keys: Keys | None = None) -> tuple[str, list]:
    """SQL for partial counts of the events of [since, until) that `f` keeps, to be summed:
    rows of (hour, fingerprint, severity, component, service, event_type, n, first_seen,
    last_seen). `hours`: hour is filled in (else NULL); `sources`: the source columns are
    (else ''). Whole hours come from the rollups, the edges' part-hours from the events."""
    sources = sources or bool(f.component or f.service or f.event_type)
    adapt = connection.ops.adapt_datetimefield_value
    selects: list[str] = []
    params: list = []

    def from_events(lo: datetime, hi: datetime, only: list[str] | None = None) -> None:
        where, values = _conditions(f, at="e", source_at="e", keys=keys)
        if only is not None:
            sql, more = _in("e.fingerprint", only)
            where, values = f"{where} AND {sql}", values + more
        columns = ["e.fingerprint", "e.severity"]
        columns += [hour_sql("e.occurred_at")] if hours else []
        columns += ["e.component", "e.service", "e.event_type"] if sources else []
        selects.append(
            f"SELECT {hour_sql('e.occurred_at') if hours else 'NULL'} AS hour, "  # noqa: S608
            "e.fingerprint AS fingerprint, e.severity AS severity, "
            f"{'e.component, e.service, e.event_type' if sources else _NO_SOURCE}, "
            "count(*) AS n, min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen "
            f"FROM event e WHERE e.occurred_at >= %s AND e.occurred_at < %s{where} "
            f"GROUP BY {', '.join(columns)}")
        params.extend([adapt(lo), adapt(hi), *values])

    whole = _whole_hours(since, until)
    if whole is None:
        from_events(since, until)
        return " UNION ALL ".join(selects), params
    first, last = whole
    if since < first:
        from_events(since, first)
    if last < until:
        from_events(last, until)
    hour = "r.hour" if hours else "NULL"
    where, values = _conditions(f, at="r", source_at="t" if sources else None, keys=keys)
    if sources:
        selects.append(
            f"SELECT {hour} AS hour, r.fingerprint AS fingerprint, "  # noqa: S608
            "r.severity AS severity, t.component AS component, t.service AS service, "
            f"t.event_type AS event_type, {_COUNTED} "
            "FROM event_rollup r JOIN event_template t "
            "ON t.fingerprint = r.fingerprint AND NOT t.client_fingerprint "
            f"WHERE r.hour >= %s AND r.hour < %s{where}")
        params.extend([adapt(first), adapt(last), *values])
        irregular = _sourceless(f, first, last, keys)
        if irregular:
            from_events(first, last, only=irregular)
    else:
        selects.append(
            f"SELECT {hour} AS hour, r.fingerprint AS fingerprint, "  # noqa: S608
            f"r.severity AS severity, {_NO_SOURCE}, {_COUNTED} "
            f"FROM event_rollup r WHERE r.hour >= %s AND r.hour < %s{where}")
        params.extend([adapt(first), adapt(last), *values])
    return " UNION ALL ".join(selects), params


_NO_SOURCE = "'' AS component, '' AS service, '' AS event_type"
_COUNTED = "r.count AS n, r.first_seen AS first_seen, r.last_seen AS last_seen"


def _sourceless(f: EventFilter, first: datetime, last: datetime,
                keys: Keys | None) -> list[str]:
    """Fingerprints counted in these hours whose source is not on record for certain: the
    sender's own, or without a template row."""
    adapt = connection.ops.adapt_datetimefield_value
    where, values = _conditions(f, at="r", source_at=None, keys=keys)
    return [fp for (fp,) in _fetch(
        "SELECT DISTINCT r.fingerprint FROM event_rollup r "  # noqa: S608
        "LEFT JOIN event_template t "
        "ON t.fingerprint = r.fingerprint WHERE r.hour >= %s AND r.hour < %s "
        f"AND (t.fingerprint IS NULL OR t.client_fingerprint){where}",
        [adapt(first), adapt(last), *values])]


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _as_datetime(value: datetime | str) -> datetime:
    """A time read by hand-written SQL: SQLite hands back its text, in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def top_issues(f: EventFilter, *, limit: int = 10) -> list[dict]:
    """The most frequent recurring issues in the window (default the last 24 hours), with the
    count of the window before it, a sample (the issue's newest message in the window) and how
    many templates the issue has. Events whose fingerprint has no template row yet (stored
    before templates were registered) are not lost: each such fingerprint is an issue of its
    own here, with no id, titled by its sample's template."""
    since, until = _window(f, timedelta(days=1))
    found = _issue_counts(f, since, until, limit=limit)
    if not found:
        return []
    issues = [issue for _, issue, *_ in found if issue]
    pseudo = [key for key, issue, *_ in found if not issue]
    previous = {key: count for key, _, count, *_ in
                _issue_counts(f, since - (until - since), since, keys=(issues, pseudo))}
    titles = dict(Issue.objects.filter(id__in=issues).values_list("id", "title"))
    templates = dict(EventTemplate.objects.filter(issue_id__in=issues).values("issue_id")
                     .annotate(n=Count("*")).values_list("issue_id", "n"))
    rows = []
    for key, issue, count, first_seen, last_seen in found:
        last_seen = _as_datetime(last_seen)
        sample = _sample(f.window(since, until), issue=issue, fingerprint=key,
                         last_seen=last_seen)
        before = previous.get(key, 0)
        rows.append({"issue_id": issue, "title": titles.get(issue) or template_of(sample),
                     "fingerprint": None if issue else key, "count": count,
                     "first_seen": _as_datetime(first_seen), "last_seen": last_seen,
                     "previous_count": before, "trend": _trend(before, count),
                     "sample": sample, "templates": templates.get(issue, 0) if issue else 1})
    return rows


def _issue_counts(f: EventFilter, since: datetime, until: datetime, *, limit: int | None = None,
                  keys: Keys | None = None) -> list[tuple]:
    """(issue id or the fingerprint of one without a template, issue id or None, count,
    first_seen, last_seen), most frequent first."""
    if _from_rollups(f):
        parts, params = _parts(f, since, until, hours=False, sources=False, keys=keys)
        per_fingerprint = ("SELECT fingerprint, CAST(sum(n) AS bigint) AS n, "  # noqa: S608
                           "min(first_seen) AS first_seen, max(last_seen) AS last_seen "
                           f"FROM ({parts}) p GROUP BY fingerprint")
    else:
        query = events(f.window(since, until))
        if keys is not None:
            query = query.filter(
                Q(fingerprint__in=EventTemplate.objects.filter(issue_id__in=keys[0])
                  .values("fingerprint")) | Q(fingerprint__in=keys[1]))
        counted = query.order_by().values("fingerprint").annotate(
            n=Count("*"), first_seen=Min("occurred_at"), last_seen=Max("occurred_at"))
        per_fingerprint, raw_params = counted.query.sql_with_params()
        params = list(raw_params)
    sql = ("SELECT coalesce(t.issue_id, a.fingerprint), t.issue_id, "  # noqa: S608
           "CAST(sum(a.n) AS bigint), min(a.first_seen), max(a.last_seen) "
           f"FROM ({per_fingerprint}) a LEFT JOIN event_template t "
           "ON t.fingerprint = a.fingerprint GROUP BY 1, 2 ORDER BY 3 DESC, 1")
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    return _fetch(sql, params)


def _sample(f: EventFilter, *, issue: str | None, fingerprint: str,
            last_seen: datetime) -> str:
    """The issue's newest message in the window: an event at its last_seen (an index look-up
    per template), else the example its first template was registered with."""
    query = events(f).filter(occurred_at=last_seen)
    of_issue = EventTemplate.objects.filter(issue_id=issue).values("fingerprint")
    query = query.filter(fingerprint__in=of_issue) if issue else query.filter(
        fingerprint=fingerprint)
    found = query.order_by("-id").values_list("message", flat=True).first()
    if found is None and issue:
        found = (EventTemplate.objects.filter(issue_id=issue).order_by("first_seen")
                 .values_list("example", flat=True).first())
    return found or ""


def _trend(before: int, after: int) -> str:
    if before == 0:
        return "new"
    ratio = after / before
    return "rising" if ratio >= 1.5 else "falling" if ratio <= 1 / 1.5 else "steady"


Bucket = Literal["minute", "hour", "day"]
# Each bucket's truncation and its default window.
BUCKETS: dict[str, tuple] = {"minute": (TruncMinute, timedelta(hours=1)),
                             "hour": (TruncHour, timedelta(days=1)),
                             "day": (TruncDay, timedelta(days=30))}


def severity_histogram(f: EventFilter, *, bucket: str) -> list[dict]:
    """Counts per severity and time bucket. Hour and day buckets read the rollups (minutes are
    finer than they are, so minute buckets read the events)."""
    if bucket not in BUCKETS:
        raise ValidationFailed("bucket must be minute, hour or day")
    trunc, default = BUCKETS[bucket]
    since, until = _window(f, default)
    if bucket == "minute" or not _from_rollups(f):
        rows = (events(_with(f, since, until)).annotate(bucket=trunc("occurred_at"))
                .values("bucket", "severity").annotate(count=Count("*"))
                .order_by("bucket", "severity"))
        return [{"bucket": r["bucket"], "severity": Severity(r["severity"]).label,
                 "count": r["count"]} for r in rows]
    parts, params = _parts(f, since, until, hours=True, sources=False)
    counts: dict[tuple[datetime, int], int] = {}
    for hour, severity, count in _fetch(
            f"SELECT hour, severity, CAST(sum(n) AS bigint) FROM ({parts}) p "  # noqa: S608
            "GROUP BY hour, severity", params):
        moment = _as_datetime(hour)
        key = (moment.replace(hour=0) if bucket == "day" else moment, severity)
        counts[key] = counts.get(key, 0) + count
    return [{"bucket": moment, "severity": Severity(severity).label, "count": count}
            for (moment, severity), count in sorted(counts.items())]


BreakdownField = Literal["component", "service", "environment", "system_id", "event_type",
                         "severity"]
BREAKDOWN_FIELDS: tuple[str, ...] = get_args(BreakdownField)
ANALYTICS_MAX_LIMIT = 100


def breakdown(f: EventFilter, *, by: str, limit: int = 20) -> list[dict]:
    """Counts by one field in the window (default the last 24 hours), most first. Severity and
    the source columns read the rollups; environment and system id, which the rollups do not
    hold, read the events."""
    if by not in BREAKDOWN_FIELDS:
        raise ValidationFailed(f"breakdown by one of {', '.join(BREAKDOWN_FIELDS)}")
    since, until = _window(f, timedelta(days=1))
    rows: list[tuple]
    if by in ("environment", "system_id") or not _from_rollups(f):
        rows = list(events(_with(f, since, until)).values(by).annotate(count=Count("*"))
                    .order_by("-count", by)[:limit].values_list(by, "count"))
    else:
        parts, params = _parts(f, since, until, hours=False, sources=by != "severity")
        rows = _fetch(f"SELECT {by}, CAST(sum(n) AS bigint) FROM ({parts}) p "  # noqa: S608
                      "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s", [*params, limit])
    if by == "severity":
        return [{"value": Severity(value).label, "count": count} for value, count in rows]
    return [{"value": value, "count": count} for value, count in rows]


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
