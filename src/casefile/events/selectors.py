"""Reads of events: filtered search, analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from pydantic import BeforeValidator, WithJsonSchema

from casefile.core.errors import NotFound, ValidationFailed
from casefile.core.schemas import Column, Instant, IssueId, Schema, SearchText
from casefile.core.sql import contains_pattern
from casefile.core.timeutil import now
from casefile.events.fingerprint import template_of
from casefile.events.models import Event, EventTemplate, Issue
from casefile.events.rollups import ceil_day, ceil_hour, day_of, day_sql, hour_of, hour_sql
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
        # The fingerprints themselves, not a subquery: knowing them, the planner reads the newest
        # events of a frequent issue backwards by time (2 ms) rather than all of them (100 ms).
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
# Analytics read the rollups (events.rollups) for the whole days and hours of a window and the
# events only for the part-hours at its edges, so they are exact and a week reads six days'
# rows and its edge hours, not every event in it. A rollup knows its time, fingerprint and
# severity; the source (component, service, event type) of a fingerprint is its template's
# (event_template), since a fingerprint computed at ingest is a function of its source. A
# fingerprint the sender gave itself can span sources, and one counted while it had no
# template (event_rollup_unplaced) has none on record: where the source matters, their events
# are counted from the events. Filters the rollups cannot answer at all (environment, system
# id, source, text) read the events for the whole window.
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


def _sources_filtered(f: EventFilter) -> bool:
    return bool(f.component or f.service or f.event_type)


Range = tuple[datetime, datetime]


def _segments(since: datetime, until: datetime, *,
              days: bool) -> tuple[list[Range], list[Range], list[Range]]:
    """[since, until) as the part-hours at its edges (read from events), its whole hours and,
    with `days`, its whole days (read from rollups)."""
    first_hour, last_hour = ceil_hour(since), hour_of(until)
    if first_hour >= last_hour:
        return [(since, until)], [], []
    edges = [(lo, hi) for lo, hi in ((since, first_hour), (last_hour, until)) if lo < hi]
    if days:
        first_day, last_day = ceil_day(first_hour), day_of(last_hour)
        if first_day < last_day:
            hours = [(lo, hi) for lo, hi in ((first_hour, first_day), (last_day, last_hour))
                     if lo < hi]
            return edges, hours, [(first_day, last_day)]
    return edges, [(first_hour, last_hour)], []


def _in(column: str, values: list) -> tuple[str, list]:
    if not values:
        return "1 = 0", []
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


# Issues to count, with fingerprints that have no template (for the top issues' follow-ups).
Keys = tuple[list[str], list[str]]

# The templates of an issue, or of the one it was merged into (merges keep a single hop).
_OF_ISSUE = ("SELECT fingerprint FROM event_template WHERE issue_id = coalesce("
             "(SELECT merged_into_id FROM event_issue WHERE id = %s), %s)")


def _scope(f: EventFilter, column: str, *, keys: Keys | None = None,
           placed: bool = False) -> tuple[str, list]:
    """` AND …` on a fingerprint column for the fingerprints to count: those the filter names
    (by fingerprint or issue), those of `keys`, and with `placed` those of the source the
    filter asks for whose rollups are their own (see _parts). Issues and sources stay in the
    query as subqueries: an issue can have thousands of fingerprints."""
    out: list[str] = []
    params: list = []
    if f.fingerprint:
        sql, values = _in(column, list(f.fingerprint))
        out.append(sql)
        params += values
    if f.issue:
        out.append(f"{column} IN ({_OF_ISSUE})")
        params += [f.issue, f.issue]
    if keys is not None:
        issues, pseudo = keys
        of_issues, issue_values = _in("issue_id", issues)
        of_pseudo, pseudo_values = _in(column, pseudo)
        member = f"{column} IN (SELECT fingerprint FROM event_template WHERE {of_issues})"  # noqa: S608
        out.append(f"({member} OR {of_pseudo})" if issues and pseudo else
                   member if issues else of_pseudo)
        params += (issue_values if issues else []) + (pseudo_values if pseudo else [])
    if placed:
        # A fingerprint computed at ingest is a function of its source; one the sender gave
        # is not, so its rollups are not the source's.
        conditions, values = ["NOT client_fingerprint"], []
        for name in ("component", "service", "event_type"):
            if getattr(f, name):
                sql, more = _in(name, getattr(f, name))
                conditions.append(sql)
                values += more
        out.append(f"{column} IN (SELECT fingerprint FROM event_template "  # noqa: S608
                   f"WHERE {' AND '.join(conditions)})")
        params += values
    return "".join(f" AND {c}" for c in out), params


def _conditions(f: EventFilter, *, at: str, source_at: str | None, keys: Keys | None = None,
                placed: bool = False) -> tuple[str, list]:
    """` AND …` for the filters the rollups answer: severity and the fingerprints to count on
    `at` (a rollup's or an event's alias), the source columns on `source_at` (the event's;
    None where they do not apply)."""
    out: list[str] = []
    params: list = []
    if f.severity is not None:
        out.append(f"{at}.severity <= %s")
        params.append(int(f.severity))
    if source_at is not None:
        for name in ("component", "service", "event_type"):
            if getattr(f, name):
                sql, values = _in(f"{source_at}.{name}", getattr(f, name))
                out.append(sql)
                params += values
    scope, values = _scope(f, f"{at}.fingerprint", keys=keys, placed=placed)
    return "".join(f" AND {c}" for c in out) + scope, params + values


_EVENT_TIMES = "min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen"
_ROLLUP_TIMES = "r.first_seen AS first_seen, r.last_seen AS last_seen"


def _parts(f: EventFilter, since: datetime, until: datetime, *, keys: Keys | None = None,
           bucket: str | None = None, fingerprint: bool = False, severity: bool = False,
           sources: bool = False, times: bool = False) -> tuple[str, list]:
    """SQL for partial counts of the events of [since, until) that `f` (and `keys`) keep, to
    be summed: rows of `n` and the columns asked for, only those (each costs on every row):
    `bucket` ("hour": the hour, and days are not read; "day": the day or an hour of it),
    `fingerprint`, `severity`, `sources` (component, service, event_type), `times`
    (first_seen, last_seen)."""
    # The rollups of a source are its templates' fingerprints (the templates' index, then the
    # rollups' own by fingerprint), not a join of every rollup row with its template.
    filtered = _sources_filtered(f)
    adapt = connection.ops.adapt_datetimefield_value
    selects: list[str] = []
    params: list = []

    def columns(alias: str, time: str, source: str) -> list[tuple[str, str]]:
        """(expression, name) of the columns asked for, but n and the times."""
        out = [(time, "bucket")] if bucket else []
        out += [(f"{alias}.fingerprint", "fingerprint")] if fingerprint else []
        out += [(f"{alias}.severity", "severity")] if severity else []
        out += [(f"{source}.{c}", c) for c in ("component", "service", "event_type")
                if sources]
        return out

    def from_events(lo: datetime, hi: datetime, only: list[str] | None = None) -> None:
        where, values = _conditions(f, at="e", source_at="e", keys=keys)
        if only is not None:
            sql, more = _in("e.fingerprint", only)
            where, values = f"{where} AND {sql}", values + more
        groups = columns("e", hour_sql("e.occurred_at"), "e")
        selected = [f"{expression} AS {name}" for expression, name in groups]
        selected += ["count(*) AS n"] + ([_EVENT_TIMES] if times else [])
        selects.append(
            f"SELECT {', '.join(selected)} FROM event e "  # noqa: S608
            f"WHERE e.occurred_at >= %s AND e.occurred_at < %s{where}"
            + (f" GROUP BY {', '.join(expression for expression, _ in groups)}"
               if groups else ""))
        params.extend([adapt(lo), adapt(hi), *values])

    def from_rollups(table: str, column: str, lo: datetime, hi: datetime) -> None:
        where, values = _conditions(f, at="r", source_at=None, keys=keys, placed=filtered)
        # A template the sender fingerprinted spans sources; the rest have theirs on record.
        join = (" JOIN event_template t ON t.fingerprint = r.fingerprint "
                "AND NOT t.client_fingerprint") if sources else ""
        selected = [f"{expression} AS {name}"
                    for expression, name in columns("r", f"r.{column}", "t")]
        selected += ["r.count AS n"] + ([_ROLLUP_TIMES] if times else [])
        selects.append(
            f"SELECT {', '.join(selected)} FROM {table} r{join} "  # noqa: S608
            f"WHERE r.{column} >= %s AND r.{column} < %s{where}")
        params.extend([adapt(lo), adapt(hi), *values])

    edges, hours, days = _segments(since, until, days=bucket != "hour")
    for lo, hi in edges:
        from_events(lo, hi)
    for lo, hi in hours:
        from_rollups("event_rollup", "hour", lo, hi)
    for lo, hi in days:
        from_rollups("event_rollup_day", "day", lo, hi)
    if (sources or filtered) and hours + days:
        lo, hi = min(r[0] for r in hours + days), max(r[1] for r in hours + days)
        sourceless = _sourceless(f, lo, hi, keys)
        if sourceless:
            from_events(lo, hi, only=sourceless)
    return " UNION ALL ".join(selects), params


def _sourceless(f: EventFilter, lo: datetime, hi: datetime, keys: Keys | None) -> list[str]:
    """Fingerprints to count whose rollups cannot tell their source: the sender's own, and
    those counted in [lo, hi) while they had no template."""
    adapt = connection.ops.adapt_datetimefield_value
    scope, values = _scope(f, "s.fingerprint", keys=keys)
    return [fp for (fp,) in _fetch(
        "SELECT s.fingerprint FROM (SELECT fingerprint FROM event_template "  # noqa: S608
        "WHERE client_fingerprint UNION SELECT u.fingerprint FROM event_rollup_unplaced u "
        "WHERE u.first_hour < %s AND u.last_hour >= %s AND NOT EXISTS (SELECT 1 FROM "
        f"event_template t WHERE t.fingerprint = u.fingerprint)) s WHERE 1 = 1{scope}",
        [adapt(hi), adapt(lo), *values])]


def _totals(f: EventFilter, since: datetime, until: datetime) -> tuple[str, list] | None:
    """SQL for (bucket: the hour, severity, n) from the per-hour totals and the edges' events,
    when the filter asks only for severities; else None."""
    if not _from_rollups(f) or _sources_filtered(f) or f.fingerprint or f.issue:
        return None
    adapt = connection.ops.adapt_datetimefield_value
    edges, hours, _ = _segments(since, until, days=False)
    severity, values = _conditions(f, at="e", source_at=None)
    selects: list[str] = []
    params: list = []
    for lo, hi in edges:
        hour = hour_sql("e.occurred_at")
        selects.append(f"SELECT {hour} AS bucket, e.severity AS severity, "  # noqa: S608
                       "count(*) AS n FROM event e WHERE e.occurred_at >= %s "
                       f"AND e.occurred_at < %s{severity} GROUP BY {hour}, e.severity")
        params += [adapt(lo), adapt(hi), *values]
    for lo, hi in hours:
        selects.append("SELECT r.hour AS bucket, r.severity AS severity, r.count AS n "
                       "FROM event_rollup_total r WHERE r.hour >= %s AND r.hour < %s"
                       + severity.replace("e.severity", "r.severity"))
        params += [adapt(lo), adapt(hi), *values]
    return " UNION ALL ".join(selects), params


def _fetch(sql: str, params: list, *, hash_joins: bool = False) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Rollup reads are tens of thousands of rows: starting parallel workers costs more
            # than they save, and takes the cores the web workers are using.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            if hash_joins:
                # The planner cannot count the groups of a union (it assumes 200) and would
                # look each of tens of thousands of fingerprints' template up by index.
                cursor.execute("SET LOCAL enable_nestloop = off")
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
    many templates the issue has. Events whose fingerprint has no template row (stored around
    ingest, which places templates first) are not lost: each such fingerprint is an issue of
    its own here, with no id, titled by its sample's template."""
    since, until = _window(f, timedelta(days=1))
    found = _issue_counts(f, since, until, limit=limit, times=True)
    if not found:
        return []
    issues = [issue for _, issue, *_ in found if issue]
    # The window before for the winners' fingerprints only.
    keys = (issues, [key for key, issue, *_ in found if not issue])
    previous = {key: count for key, _, count, *_ in
                _issue_counts(f, since - (until - since), since, keys=keys)}
    titles = dict(Issue.objects.filter(id__in=issues).values_list("id", "title"))
    templates = dict(EventTemplate.objects.filter(issue_id__in=issues).values("issue_id")
                     .annotate(n=Count("*")).values_list("issue_id", "n"))
    samples = _samples(f.window(since, until), found)
    rows = []
    for key, issue, count, first_seen, last_seen in found:
        sample = samples.get(key, "")
        before = previous.get(key, 0)
        rows.append({"issue_id": issue, "title": titles.get(issue) or template_of(sample),
                     "fingerprint": None if issue else key, "count": count,
                     "first_seen": _as_datetime(first_seen),
                     "last_seen": _as_datetime(last_seen), "previous_count": before,
                     "trend": _trend(before, count), "sample": sample,
                     "templates": templates.get(issue, 0) if issue else 1})
    return rows


def _issue_counts(f: EventFilter, since: datetime, until: datetime, *,
                  keys: Keys | None = None, limit: int | None = None,
                  times: bool = False) -> list[tuple]:
    """(issue id or the fingerprint of one without a template, issue id or None, count,
    first_seen, last_seen), most frequent first, of every issue or those of `keys`; the times
    are None without `times`."""
    if _from_rollups(f):
        parts, params = _parts(f, since, until, keys=keys, fingerprint=True, times=times)
        timing = ("min(first_seen) AS first_seen, max(last_seen) AS last_seen" if times
                  else "NULL AS first_seen, NULL AS last_seen")
        per_fingerprint = ("SELECT fingerprint, CAST(sum(n) AS bigint) AS n, "  # noqa: S608
                           f"{timing} FROM ({parts}) p GROUP BY fingerprint")
    else:
        query = events(f.window(since, until))
        if keys is not None:
            issues, pseudo = keys
            query = query.filter(Q(fingerprint__in=EventTemplate.objects.filter(
                issue_id__in=issues).values("fingerprint")) | Q(fingerprint__in=pseudo))
        counted = query.order_by().values("fingerprint").annotate(
            n=Count("*"), first_seen=Min("occurred_at"), last_seen=Max("occurred_at"))
        try:
            per_fingerprint, raw_params = counted.query.sql_with_params()
        except EmptyResultSet:  # a filter that can match nothing (an issue with no templates)
            return []
        params = list(raw_params)
    sql = ("SELECT coalesce(t.issue_id, a.fingerprint), t.issue_id, "  # noqa: S608
           "CAST(sum(a.n) AS bigint), min(a.first_seen), max(a.last_seen) "
           f"FROM ({per_fingerprint}) a LEFT JOIN event_template t "
           "ON t.fingerprint = a.fingerprint GROUP BY 1, 2 ORDER BY 3 DESC, 1")
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    # Every fingerprint's rows: joined to their templates by hash. (Not with an issue, a source
    # or `keys`: their subqueries are best read by index, fingerprint by fingerprint.)
    every = _from_rollups(f) and keys is None and not f.issue and not _sources_filtered(f)
    return _fetch(sql, params, hash_joins=every)


def _samples(f: EventFilter, found: list[tuple]) -> dict[str, str]:
    """Each issue's newest message in the window: its event at its last_seen (the events at
    those instants are few, found at once), else the example its first template was placed
    with."""
    instants = {key: _as_datetime(last_seen) for key, _, _, _, last_seen in found}
    candidates = list(events(f).filter(occurred_at__in=sorted(set(instants.values())))
                      .order_by("-id").values_list("fingerprint", "occurred_at", "message"))
    issue_of = dict(EventTemplate.objects.filter(
        fingerprint__in={fp for fp, _, _ in candidates}).values_list("fingerprint", "issue_id"))
    samples: dict[str, str] = {}
    for fp, at, message in candidates:
        key = issue_of.get(fp, fp)
        if key not in samples and instants.get(key) == at:
            samples[key] = message
    missing = [issue for key, issue, *_ in found if issue and key not in samples]
    for issue, example in (EventTemplate.objects.filter(issue_id__in=missing)
                           .order_by("-first_seen").values_list("issue_id", "example")):
        samples[issue] = example  # the earliest placed is written last
    return samples


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
    """Counts per severity and time bucket. Hour and day buckets read the rollups (the
    per-hour totals when only severities are asked for); minutes are finer than they are, so
    minute buckets read the events."""
    if bucket not in BUCKETS:
        raise ValidationFailed("bucket must be minute, hour or day")
    trunc, default = BUCKETS[bucket]
    since, until = _window(f, default)
    if bucket == "minute" or not _from_rollups(f):
        counted = (events(_with(f, since, until)).annotate(bucket=trunc("occurred_at"))
                   .values("bucket", "severity").annotate(count=Count("*"))
                   .order_by("bucket", "severity"))
        return [{"bucket": r["bucket"], "severity": Severity(r["severity"]).label,
                 "count": r["count"]} for r in counted]
    parts, params = _totals(f, since, until) or _parts(f, since, until, bucket=bucket,
                                                       severity=True)
    moment = day_sql("bucket") if bucket == "day" else "bucket"  # days hold hours too
    rows = _fetch(f"SELECT {moment}, severity, CAST(sum(n) AS bigint) "  # noqa: S608
                  f"FROM ({parts}) p GROUP BY 1, 2 ORDER BY 1, 2", params)
    return [{"bucket": _as_datetime(start), "severity": Severity(severity).label,
             "count": count} for start, severity, count in rows]


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
        totals = _totals(f, since, until) if by == "severity" else None
        parts, params = totals or _parts(f, since, until, severity=by == "severity",
                                         sources=by != "severity")
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
