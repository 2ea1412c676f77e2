"""Console screens for events: the explorer (the URL holds the whole query, so a view can be
shared and the back button works), an event's page, and the audited export."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.audit.registry import REASON_CODES
from casefile.cases.selectors import case_get
from casefile.cases.services import case_event_link
from casefile.core.console import back, change, query_without, reason, screen
from casefile.core.errors import ValidationFailed
from casefile.core.pagination import keyset_page
from casefile.core.timeutil import isoformat, now
from casefile.core.validation import from_query, validated
from casefile.events import issues, parsing, selectors, services
from casefile.events.charts import severity_chart
from casefile.events.issues_api import MergeIn, SplitIn
from casefile.events.selectors import FILTER_FIELDS, EventFilter
from casefile.events.severity import Severity

PAGE = 50
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
          "30d": timedelta(days=30)}


def event_filter(get: QueryDict) -> EventFilter:
    """The explorer's query (its URL, or the export form that carries it), read by the API's
    filter schema; `last` (a range ending now or at `until`) is the console's own shortcut."""
    f = from_query(EventFilter, get)
    last = get.get("last", "")
    if last in RANGES and f.since is None:
        f = f.window((f.until or now()) - RANGES[last], f.until)
    return f


@screen(Perm.EVENTS_VIEW)
def explorer(request: HttpRequest, actor: Actor) -> HttpResponse:
    f = event_filter(request.GET)
    page = keyset_page(selectors.events(f), keys=["occurred_at", "id"],
                       cursor=request.GET.get("cursor"), limit=PAGE,
                       key_of=lambda e: [isoformat(e.occurred_at), e.id])
    # Each row's addresses from one reverse each, not three {% url %} a row.
    event_url, link_url = (reverse(name, args=["EVENT_ID"]) for name in ("events:event",
                                                                          "events:link"))
    for event in page.items:
        event.url = event_url.replace("EVENT_ID", event.id)
        event.link_url = link_url.replace("EVENT_ID", event.id)
    context: dict[str, Any] = {
        "events": page.items, "next_cursor": page.next_cursor, "here": request.get_full_path(),
        "keep": query_without(request.GET, "cursor"), "get": request.GET,
        "field_values": [(name, name.replace("_", " ").capitalize(), request.GET.get(name, ""))
                         for name in FILTER_FIELDS],
        "severities": [s.label for s in Severity],
        "ranges": list(RANGES), "filtered": bool(f.as_dict()),
        "may_link": has_perm(actor.roles, Perm.CASES_EDIT),
        # Every row's "Link to case" has the same reason list: rendered once, not fifty times
        # (a fifth of the page's rendering).
        "reason_select": render_to_string("console/_reason_code.html",
                                          {"reason_codes": REASON_CODES}),
        "may_export": has_perm(actor.roles, Perm.EVENTS_EXPORT),
        "may_ingest": has_perm(actor.roles, Perm.EVENTS_INGEST),
    }
    if not request.GET.get("cursor"):  # the overview belongs to the first page only
        until = f.until or now()
        since = f.since or until - timedelta(days=1)
        bucket = ("minute" if until - since <= timedelta(hours=3) else
                  "hour" if until - since <= timedelta(days=3) else "day")
        window = f.window(since, until)
        context |= {
            "chart": severity_chart(selectors.severity_histogram(window, bucket=bucket),
                                    since=since, until=until, bucket=bucket),
            "top": [_linked(row, since, until)
                    for row in selectors.top_issues(window, limit=8)],
            "window": (since, until),
        }
    return render(request, "events/explorer.html", context)


def _linked(row: dict, since: datetime, until: datetime) -> dict:
    """A top recurring row with where it leads: the issue's page, or for a fingerprint with no
    issue yet (stored before templates were registered), its events in the window."""
    if row["issue_id"] is None:
        query = QueryDict(mutable=True)
        query.update({"fingerprint": row["fingerprint"], "since": isoformat(since),
                      "until": isoformat(until)})
        return row | {"url": f"{reverse('events:explorer')}?{query.urlencode()}"}
    return row | {"url": reverse("events:issue", args=[row["issue_id"]])}


@screen(Perm.EVENTS_VIEW)
def event_page(request: HttpRequest, actor: Actor, event_id: str) -> HttpResponse:
    event = selectors.event_get(event_id)
    cases = [link.case for link in event.case_links.select_related("case").order_by("linked_at")]
    return render(request, "events/event.html", {
        "event": event, "severity": Severity(event.severity).label, "cases": cases,
        "issue": selectors.issue_of_fingerprint(event.fingerprint),
        "raw_payload": orjson.dumps(event.raw_payload, option=orjson.OPT_INDENT_2).decode(),
        "may_link": has_perm(actor.roles, Perm.CASES_EDIT),
    })


@screen(Perm.EVENTS_INGEST)
def ingest(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Upload a file of events. The page shows the upload's progress (htmx reports it), then
    what was stored and which lines were refused, by line number."""
    if request.method != "POST":
        return render(request, "events/ingest.html", {
            "formats": parsing.FORMATS, "limit_mb": settings.MAX_REQUEST_BYTES // 2**20})
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed("choose a file to upload")
    try:
        result = services.events_ingest(actor=actor, data=upload.read(),  # <= MAX_REQUEST_BYTES
                                        fmt=request.POST.get("format", "auto"), source="console")
    except parsing.UnusableInput as exc:
        raise ValidationFailed(str(exc)) from None
    return render(request, "events/_ingested.html", {"result": result, "name": upload.name})


@require_POST
@screen(Perm.CASES_EDIT)
def link(request: HttpRequest, actor: Actor, event_id: str) -> HttpResponse:
    """"Link to case" from a result or an event's page: back to where it was used."""
    event = selectors.event_get(event_id)
    code, _ticket = reason(request)
    case = case_get(request.POST.get("case_id", "").strip())
    return change(request, lambda: case_event_link(actor=actor, case=case, event_id=event.id,
                                                   reason_code=code),
                  done=f"Event {event.id} linked to {case.id}",
                  redirect_to=back(request, reverse("events:event", args=[event.id])))


@require_POST
@screen(Perm.EVENTS_EXPORT)
def export(request: HttpRequest, actor: Actor) -> StreamingHttpResponse:
    """Stream the filtered events as a download. The export is audited before the first byte;
    the browser's download bar shows its progress as rows arrive."""
    code, _ticket = reason(request)
    fmt = request.POST.get("format", "ndjson")
    # The form carries the explorer's query as hidden fields.
    lines = services.events_export(actor=actor, event_filter=event_filter(request.POST), fmt=fmt,
                                   reason_code=code)
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(lines, content_type="text/csv" if fmt == "csv"
                                     else "application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="events-{stamp}.{fmt}"'
    return response


# --- recurring issues -----------------------------------------------------------------------
@screen(Perm.EVENTS_VIEW)
def issue_page(request: HttpRequest, actor: Actor, issue_id: str) -> HttpResponse:
    issue = selectors.issue_get(issue_id)
    if issue.merged_into_id:  # an old link: the templates live in the other issue now
        messages.info(request, f"{issue.id} was merged into {issue.merged_into_id}")
        return redirect("events:issue", issue.merged_into_id)
    return render(request, "events/issue.html", {
        "issue": issue, "templates": selectors.issue_templates(issue),
        "cases": selectors.issue_cases(issue),
        "may_regroup": has_perm(actor.roles, Perm.EVENTS_ISSUES),
    })


@require_POST
@screen(Perm.EVENTS_ISSUES)
def issue_split(request: HttpRequest, actor: Actor, issue_id: str) -> HttpResponse:
    issue = selectors.issue_get(issue_id)
    code, _ticket = reason(request)
    body = validated(SplitIn, {"fingerprints": request.POST.getlist("fingerprint"),
                               "reason_code": code}, what="the split")
    return change(request, lambda: issues.issue_split(
        actor=actor, issue=issue, fingerprints=body.fingerprints, reason_code=body.reason_code),
        done=f"{len(body.fingerprints)} template(s) split from {issue.id} into a new issue",
        redirect_to=reverse("events:issue", args=[issue.id]))


@require_POST
@screen(Perm.EVENTS_ISSUES)
def issue_merge(request: HttpRequest, actor: Actor, issue_id: str) -> HttpResponse:
    issue = selectors.issue_get(issue_id)
    code, _ticket = reason(request)
    named = request.POST.get("issues", "").replace(",", " ").split()
    body = validated(MergeIn, {"issues": named, "reason_code": code}, what="the merge")
    return change(request, lambda: issues.issue_merge(
        actor=actor, issue=issue, others=body.issues, reason_code=body.reason_code),
        done=f"Merged {', '.join(body.issues)} into {issue.id}",
        redirect_to=reverse("events:issue", args=[issue.id]))
