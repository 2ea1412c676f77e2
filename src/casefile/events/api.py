from typing import Annotated, Any, Literal

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Query, Router
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.errors import ValidationFailed
from casefile.core.pagination import MAX_CURSOR_LENGTH, keyset_page
from casefile.core.schemas import Bounded, EventId, Limit, ReasonCode, Schema
from casefile.core.timeutil import isoformat
from casefile.events import otlp, selectors, services
from casefile.events.models import Event
from casefile.events.parsing import UnusableInput
from casefile.events.selectors import EventFilter
from casefile.events.severity import Severity

router = Router(tags=["events"])
otlp_router = Router(tags=["events"])  # mounted at /api/v1/otlp: the path collectors expect

CONTENT_FORMATS = {"application/json": "json", "application/x-ndjson": "ndjson",
                   "application/ndjson": "ndjson", "application/jsonl": "ndjson",
                   "text/csv": "csv"}


class EventOut(Schema):
    id: str
    occurred_at: str
    ingested_at: str
    severity: str
    component: str
    service: str
    environment: str
    system_id: str
    event_type: str
    message: str
    fingerprint: str
    source: str

    @staticmethod
    def of(event: Event) -> "EventOut":
        return EventOut(
            id=event.id, occurred_at=isoformat(event.occurred_at),
            ingested_at=isoformat(event.ingested_at), severity=Severity(event.severity).label,
            component=event.component, service=event.service, environment=event.environment,
            system_id=event.system_id, event_type=event.event_type, message=event.message,
            fingerprint=event.fingerprint, source=event.source)


class LinkedCaseOut(Schema):
    id: str
    title: str
    status: str
    kind: str


class IssueRef(Schema):
    id: str
    title: str


class EventDetailOut(EventOut):
    template: str
    raw_payload: Any
    cases: list[LinkedCaseOut]
    issue: IssueRef | None  # its template's recurring issue (None for rows stored before)


class EventPageOut(Schema):
    items: list[EventOut]
    next_cursor: str | None


class IngestOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    errors: list[dict[str, Any]]


def _media_type(request: HttpRequest) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


def _ingest(request: HttpRequest, fmt: str, source: str):
    actor = require(request, Perm.EVENTS_INGEST)
    try:
        result = services.events_ingest(actor=actor, data=request.body, fmt=fmt, source=source)
    except UnusableInput as exc:
        raise ValidationFailed(str(exc)) from None
    if result.accepted == 0 and result.duplicates == 0 and result.rejected:
        raise ValidationFailed("no event in the request could be read",
                               details=result.as_dict())
    return result.as_dict()


# The ingestion endpoints read the raw body (so that a large NDJSON or CSV body is never a
# pydantic model in memory); their bodies are declared here for the OpenAPI document.
_RECORD = {"type": "object", "additionalProperties": True,
           "properties": {"message": {"type": "string"}}, "required": ["message"]}
_TEXT_BODY = {"type": "string"}
INGEST_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"oneOf": [_RECORD, {"type": "array", "items": _RECORD}]}},
    "application/x-ndjson": {"schema": _TEXT_BODY},
    "text/csv": {"schema": _TEXT_BODY},
}}}
OTLP_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {
        "type": "object", "required": ["resourceLogs"],
        "properties": {"resourceLogs": {"type": "array", "items": {"type": "object"}}}}},
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
}}}
Format = Literal["auto", "ndjson", "json", "otlp", "csv"]
ExportFormat = Literal["csv", "ndjson"]
Cursor = Annotated[str, Bounded(MAX_CURSOR_LENGTH)]
AnalyticsLimit = Annotated[int, Field(ge=1, le=selectors.ANALYTICS_MAX_LIMIT)]


@router.post("", response=IngestOut, summary="Ingest events (JSON, array, NDJSON or CSV)",
             openapi_extra=INGEST_BODY)
def events_ingest(request: HttpRequest, format: Format = "auto"):  # noqa: A002 - the API's name
    fmt = CONTENT_FORMATS.get(_media_type(request), "auto") if format == "auto" else format
    return _ingest(request, fmt, source="api")


@otlp_router.post("/v1/logs", summary="OTLP/HTTP logs, protobuf or JSON, gzip or not (point an "
                  "OpenTelemetry collector here)", openapi_extra=OTLP_BODY)
def otlp_logs(request: HttpRequest):
    actor = require(request, Perm.EVENTS_INGEST)
    protobuf = _media_type(request) == otlp.PROTOBUF
    body = otlp.decoded_body(request.body, request.headers.get("Content-Encoding", ""),
                             limit=settings.MAX_REQUEST_BYTES)
    try:
        data = orjson.dumps(otlp.from_protobuf(body)) if protobuf else body
        result = services.events_ingest(actor=actor, data=data, fmt="otlp", source="otlp")
    except UnusableInput as exc:
        raise otlp.BadExport(str(exc)) from None
    if result.rejected and not (result.accepted or result.duplicates):
        raise otlp.BadExport("no log record in the request could be read",
                             details=result.as_dict())
    answer = otlp.export_response(
        rejected=result.rejected, protobuf=protobuf,
        error_message="; ".join(f"record {e['line']}: {e['error']}" for e in result.errors[:5]))
    if isinstance(answer, bytes):
        return HttpResponse(answer, content_type=otlp.PROTOBUF)
    return answer


@router.get("", response=EventPageOut, summary="Search events, newest first")
def events_search(request: HttpRequest, filters: Query[EventFilter], cursor: Cursor | None = None,
                  limit: Limit = 50):
    require(request, Perm.EVENTS_VIEW)
    page = keyset_page(selectors.events(filters), keys=["occurred_at", "id"],
                       cursor=cursor, limit=limit,
                       key_of=lambda e: [isoformat(e.occurred_at), e.id])
    return {"items": [EventOut.of(e) for e in page.items], "next_cursor": page.next_cursor}


@router.get("/export", summary="Export events as CSV or NDJSON (audited)", response={200: None})
def events_export(request: HttpRequest, filters: Query[EventFilter], reason_code: ReasonCode,
                  format: ExportFormat = "ndjson"):  # noqa: A002
    actor = require(request, Perm.EVENTS_EXPORT)
    lines = services.events_export(actor=actor, event_filter=filters, fmt=format,
                                   reason_code=reason_code)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    response = StreamingHttpResponse(lines, content_type=media)
    response["Content-Disposition"] = f'attachment; filename="events.{format}"'
    return response


@router.get("/analytics/issues", summary="Top recurring issues in a window (default 24 h)")
def analytics_issues(request: HttpRequest, filters: Query[EventFilter],
                     limit: AnalyticsLimit = 10):
    require(request, Perm.EVENTS_VIEW)
    return {"items": selectors.top_issues(filters, limit=limit)}


# Its first name, from when the top recurring were fingerprints: it answers with issues too.
@router.get("/analytics/top", summary="Top recurring issues (the first name of "
            "/analytics/issues)")
def analytics_top(request: HttpRequest, filters: Query[EventFilter], limit: AnalyticsLimit = 10):
    require(request, Perm.EVENTS_VIEW)
    return {"items": selectors.top_issues(filters, limit=limit)}


@router.get("/analytics/severity", summary="Counts by severity in time buckets")
def analytics_severity(request: HttpRequest, filters: Query[EventFilter],
                       bucket: selectors.Bucket = "hour"):
    require(request, Perm.EVENTS_VIEW)
    return {"items": selectors.severity_histogram(filters, bucket=bucket)}


@router.get("/analytics/breakdown", summary="Counts by component, service, environment, …")
def analytics_breakdown(request: HttpRequest, filters: Query[EventFilter],
                        by: selectors.BreakdownField = "component", limit: AnalyticsLimit = 20):
    require(request, Perm.EVENTS_VIEW)
    return {"items": selectors.breakdown(filters, by=by, limit=limit)}


@router.get("/{event_id}", response=EventDetailOut, summary="One event with its raw payload")
def event_detail(request: HttpRequest, event_id: EventId):
    from casefile.events.fingerprint import template_of

    require(request, Perm.EVENTS_VIEW)
    event = selectors.event_get(event_id)
    cases = [LinkedCaseOut(id=link.case.id, title=link.case.title, status=link.case.status,
                           kind=link.case.kind)
             for link in event.case_links.select_related("case").order_by("linked_at")]
    issue = selectors.issue_of_fingerprint(event.fingerprint)
    return EventDetailOut(**EventOut.of(event).model_dump(), template=template_of(event.message),
                          raw_payload=event.raw_payload, cases=cases,
                          issue=IssueRef(id=issue.id, title=issue.title) if issue else None)
