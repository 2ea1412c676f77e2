"""Legal holds' API, under /api/v1/holds (docs/holds.md). Releasing creates a four-eyes request;
it is approved or rejected through /api/v1/platform/approvals/{id}/approve|reject."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Status

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.pagination import MAX_CURSOR_LENGTH, keyset_page
from casefile.core.schemas import Bounded, Limit, Schema
from casefile.holds import scopes, selectors, services
from casefile.holds.models import LegalHold
from casefile.holds.schemas import HoldFilter, HoldId, PlaceIn, ReleaseIn
from casefile.platform.api import ApprovalOut

router = Router(tags=["holds"])
Cursor = Annotated[str, Bounded(MAX_CURSOR_LENGTH)]


class HoldOut(Schema):
    id: str
    kind: str
    object_id: str
    scope: str  # the record as the ledger names it, e.g. "evidence:evb_…"
    reason_code: str
    ticket_ref: str
    note: str
    object_keys: list[str]  # the object-store keys in scope when it was placed
    status: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    release_approved_by: str | None
    released_at: datetime | None
    release_approval_id: str | None

    @staticmethod
    def of(hold: LegalHold) -> HoldOut:
        return HoldOut(
            id=hold.id, kind=hold.kind, object_id=hold.object_id,
            scope=scopes.resource_of(hold.kind, hold.object_id), reason_code=hold.reason_code,
            ticket_ref=hold.ticket_ref, note=hold.note, object_keys=list(hold.object_keys),
            status=hold.status, placed_by=hold.placed_by_id, placed_at=hold.placed_at,
            released_by=hold.released_by_id, release_approved_by=hold.release_approved_by_id,
            released_at=hold.released_at, release_approval_id=hold.release_approval_id)


class HoldPageOut(Schema):
    items: list[HoldOut]
    next_cursor: str | None


@router.get("", response=HoldPageOut, summary="Legal holds, newest first")
def hold_list(request: HttpRequest, filters: Query[HoldFilter], cursor: Cursor | None = None,
              limit: Limit = 50):
    require(request, Perm.HOLDS_VIEW)
    page = keyset_page(selectors.holds(filters), keys=["placed_at", "id"], cursor=cursor,
                       limit=limit)
    return {"items": [HoldOut.of(h) for h in page.items], "next_cursor": page.next_cursor}


@router.post("", response={200: HoldOut, 201: HoldOut},
             summary="Place a legal hold: the store's hold is set on every object in scope "
                     "(audited as LEGAL_HOLD_PLACED; 200 with the same hold when it is already "
                     "active for this scope, reason and ticket)")
def hold_place(request: HttpRequest, body: PlaceIn):
    actor = require(request, Perm.HOLDS_PLACE)
    with transaction.atomic(durable=True):
        before = set(selectors.holds(HoldFilter(status="active", kind=body.kind,
                                                object_id=body.object_id))
                     .values_list("id", flat=True))
        hold = services.legal_hold_place(actor=actor, kind=body.kind, object_id=body.object_id,
                                         reason_code=body.reason_code,
                                         ticket_ref=body.ticket_ref, note=body.note)
    return Status(200 if hold.id in before else 201, HoldOut.of(hold))


@router.get("/{hold_id}", response=HoldOut, summary="One legal hold")
def hold_get(request: HttpRequest, hold_id: HoldId):
    require(request, Perm.HOLDS_VIEW)
    return HoldOut.of(selectors.hold_get(hold_id))


@router.post("/{hold_id}/release", response={202: ApprovalOut},
             summary="Ask for the hold's release: a four-eyes request another legal person "
                     "approves at /platform/approvals/{id}/approve (audited as "
                     "APPROVAL_REQUESTED, then LEGAL_HOLD_RELEASED once approved)")
def hold_release(request: HttpRequest, hold_id: HoldId, body: ReleaseIn):
    actor = require(request, Perm.HOLDS_RELEASE)
    hold = selectors.hold_get(hold_id)
    with transaction.atomic(durable=True):
        approval = services.legal_hold_release_request(
            actor=actor, hold=hold, reason_code=body.reason_code, ticket_ref=body.ticket_ref)
    return Status(202, ApprovalOut.of(approval))
