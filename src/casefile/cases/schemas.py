"""Every input about cases, declared once: the API parses request bodies and query strings with
these, the console validates its forms and query strings with the same classes
(`core.validation`), and the selectors take the filter as it is."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from casefile.cases.models import Case, Tag
from casefile.cases.policy import Kind, Status
from casefile.core.schemas import (
    CaseId,
    Column,
    EventId,
    Instant,
    JsonObject,
    LongText,
    ReasonCode,
    Schema,
    SearchText,
    StaffId,
    TicketRef,
)

Priority = Annotated[int, Field(ge=1, le=5)]
Title = Annotated[str, Column(Case, "title", min_length=1)]
Summary = Annotated[str, Column(Case, "summary")]
Reference = Annotated[str, Column(Case, "subject_user")]  # subject, order, thread, listing ids
TagName = Annotated[str, Column(Tag, "name", min_length=1)]
MAX_BULK = 500


class CaseFilter(Schema):
    q: SearchText | None = None
    kind: list[Kind] | None = None
    status: list[Status] | None = None
    priority: list[Priority] | None = None
    assignee: StaffId | Literal["none"] | None = None  # "none": unassigned
    tag: list[TagName] | None = None
    subject_user: Reference | None = None
    event_id: EventId | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


class Reasoned(Schema):
    reason_code: ReasonCode


class CaseIn(Reasoned):
    kind: Kind
    title: Title
    priority: Priority = 3
    summary: Summary = ""
    description: LongText = ""
    opened_by: Annotated[str, Column(Case, "opened_by", min_length=1)] | None = None
    subject_user: Reference = ""
    order_id: Reference = ""
    thread_id: Reference = ""
    listing_id: Reference = ""
    opened_at: Instant | None = None  # when the report came in, if earlier: the SLA counts from it


class CasePatch(Reasoned):
    """Only the fields given change; none of them may be null."""

    title: Title | None = None
    summary: Summary | None = None
    description: LongText | None = None
    priority: Priority | None = None
    kind: Kind | None = None
    subject_user: Reference | None = None
    order_id: Reference | None = None
    thread_id: Reference | None = None
    listing_id: Reference | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> CasePatch:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"cannot be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"reason_code"})


class AssignIn(Reasoned):
    assignee_id: StaffId | None  # null to unassign


class StatusIn(Reasoned):
    status: Status


class NoteIn(Reasoned):
    content: Annotated[LongText, Field(min_length=1)]


class TagIn(Reasoned):
    name: TagName


class LinkIn(Reasoned):
    event_id: EventId


class ActionIn(Reasoned):
    action: Annotated[str, Field(max_length=40)]
    payload: JsonObject = {}
    ticket_ref: TicketRef | None = None


class BulkIn(Reasoned):
    case_ids: Annotated[list[CaseId], Field(min_length=1, max_length=MAX_BULK)]
    operation: Literal["assign", "tag", "status", "close"]
    value: Annotated[str, Field(max_length=60)] | None = None  # tag, status, or assignee id
    # All cases change or none does (the first refusal undoes the rest); otherwise each case
    # changes on its own and every refusal is reported.
    all_or_nothing: bool = False
