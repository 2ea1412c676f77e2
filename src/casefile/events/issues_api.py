"""Recurring issues under /api/v1/events/issues (docs/events.md, "Issues"): list, read, split,
merge. The console's split and merge forms read the same `SplitIn` and `MergeIn`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.pagination import MAX_CURSOR_LENGTH, keyset_page
from casefile.core.schemas import Bounded, Column, IssueId, Limit, ReasonCode, Schema
from casefile.events import issues, selectors
from casefile.events.models import EventTemplate, Issue

router = Router(tags=["events"])

Fingerprint = Annotated[str, Column(EventTemplate, "fingerprint", min_length=1)]
MAX_PICKED = 1000


class TemplateOut(Schema):
    fingerprint: str
    template: str
    example: str
    first_seen: datetime
    client_fingerprint: bool  # the sender grouped these itself


class CaseRef(Schema):
    id: str
    title: str
    status: str


class IssueOut(Schema):
    id: str
    title: str
    component: str
    service: str
    event_type: str
    created_at: datetime
    locked: bool  # staff split or merged it: automatic merges leave it as it is
    merged_into: str | None

    @staticmethod
    def of(issue: Issue) -> IssueOut:
        return IssueOut(id=issue.id, title=issue.title, component=issue.component,
                        service=issue.service, event_type=issue.event_type,
                        created_at=issue.created_at, locked=issue.locked,
                        merged_into=issue.merged_into_id)


class IssueDetailOut(IssueOut):
    templates: list[TemplateOut]
    cases: list[CaseRef]

    @staticmethod
    def detail(issue: Issue) -> IssueDetailOut:
        return IssueDetailOut(
            **IssueOut.of(issue).model_dump(),
            templates=[TemplateOut(fingerprint=t.fingerprint, template=t.template,
                                   example=t.example, first_seen=t.first_seen,
                                   client_fingerprint=t.client_fingerprint)
                       for t in selectors.issue_templates(issue)],
            cases=[CaseRef(id=c.id, title=c.title, status=c.status)
                   for c in selectors.issue_cases(issue)])


class IssuePageOut(Schema):
    items: list[IssueOut]
    next_cursor: str | None


class IssueQuery(Schema):
    service: Annotated[str, Column(Issue, "service")] | None = None
    component: Annotated[str, Column(Issue, "component")] | None = None
    event_type: Annotated[str, Column(Issue, "event_type")] | None = None


class SplitIn(Schema):
    fingerprints: list[Fingerprint] = Field(min_length=1, max_length=MAX_PICKED)
    reason_code: ReasonCode


class MergeIn(Schema):
    issues: list[IssueId] = Field(min_length=1, max_length=MAX_PICKED)
    reason_code: ReasonCode


class SplitOut(Schema):
    issue: IssueDetailOut
    new_issue: IssueDetailOut


@router.get("", response=IssuePageOut, summary="Recurring issues, newest first (not merged away)")
def issues_list(request: HttpRequest, filters: Query[IssueQuery],
                cursor: Annotated[str, Bounded(MAX_CURSOR_LENGTH)] | None = None,
                limit: Limit = 50):
    require(request, Perm.EVENTS_VIEW)
    page = keyset_page(selectors.issues_list(**filters.model_dump()), keys=["id"],
                       cursor=cursor, limit=limit, key_of=lambda i: [i.id])
    return {"items": [IssueOut.of(i) for i in page.items], "next_cursor": page.next_cursor}


@router.get("/{issue_id}", response=IssueDetailOut,
            summary="An issue with its templates and the cases holding its events")
def issue_detail(request: HttpRequest, issue_id: IssueId):
    require(request, Perm.EVENTS_VIEW)
    return IssueDetailOut.detail(selectors.issue_get(issue_id))


@router.post("/{issue_id}/split", response=SplitOut,
             summary="Move some templates of an issue into a new issue (audited)")
def issue_split(request: HttpRequest, issue_id: IssueId, body: SplitIn):
    actor = require(request, Perm.EVENTS_ISSUES)
    issue = selectors.issue_get(issue_id)
    new = issues.issue_split(actor=actor, issue=issue, fingerprints=body.fingerprints,
                             reason_code=body.reason_code)
    return SplitOut(issue=IssueDetailOut.detail(selectors.issue_get(issue_id)),
                    new_issue=IssueDetailOut.detail(new))


@router.post("/{issue_id}/merge", response=IssueDetailOut,
             summary="Merge other issues into this one (audited)")
def issue_merge(request: HttpRequest, issue_id: IssueId, body: MergeIn):
    actor = require(request, Perm.EVENTS_ISSUES)
    issue = issues.issue_merge(actor=actor, issue=selectors.issue_get(issue_id),
                               others=body.issues, reason_code=body.reason_code)
    return IssueDetailOut.detail(issue)
