"""DSA statements of reasons under /api/v1/trust (docs/trust.md, "Statements of reasons"): the
list, the NDJSON export in the Transparency Database's own format, and retrying a dead or
refused statement. Mounted by `trust.api` on its router."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.pagination import keyset_page
from casefile.core.schemas import IdOf, Instant, Limit, PlatformUserId, ReasonCode, Schema
from casefile.trust import statements
from casefile.trust.models import StatementRecord

router = Router(tags=["trust"])
StatementId = Annotated[str, IdOf("sor")]
Status = Literal["pending", "submitted", "refused", "dead"]
SourceKind = Literal["moderation", "restriction", "suspension"]


class StatementOut(Schema):
    id: str
    puid: str
    source_kind: str
    source_id: str
    user_id: str
    statement: dict[str, Any]  # exactly what is sent to the Transparency Database
    audit_entry_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    tdb_uuid: str | None
    submitted_at: datetime | None
    created_at: datetime

    @staticmethod
    def of(r: StatementRecord) -> StatementOut:
        return StatementOut(id=r.id, puid=r.puid, source_kind=r.source_kind,
                            source_id=r.source_id, user_id=r.user_id, statement=r.statement,
                            audit_entry_id=r.audit_entry_id, status=r.status,
                            attempts=r.attempts, next_attempt_at=r.next_attempt_at,
                            last_error=r.last_error, tdb_uuid=r.tdb_uuid or None,
                            submitted_at=r.submitted_at, created_at=r.created_at)


class StatementPageOut(Schema):
    items: list[StatementOut]
    next_cursor: str | None


class StatementFilterIn(Schema):
    status: Status | None = None
    user_id: PlatformUserId | None = None
    source_kind: SourceKind | None = None
    source_id: Annotated[str, Field(min_length=1, max_length=60)] | None = None


class RetryIn(Schema):
    reason_code: ReasonCode


@router.get("/statements", response=StatementPageOut,
            summary="Statements of reasons, newest first (filters: status, user, source)")
def statement_list(request: HttpRequest, filters: Query[StatementFilterIn],
                   cursor: str | None = None, limit: Limit = 50):
    require(request, Perm.TRUST_STATEMENTS)
    rows = statements.statements_filtered(status=filters.status, user_id=filters.user_id,
                                          source_kind=filters.source_kind,
                                          source_id=filters.source_id)
    page = keyset_page(rows, keys=["created_at", "id"], cursor=cursor, limit=limit)
    return {"items": [StatementOut.of(r) for r in page.items], "next_cursor": page.next_cursor}


@router.get("/statements/export.ndjson", response={200: None},
            summary="Statements written in [since, until) as NDJSON, one per line in the "
                    "Transparency Database's API format (refused ones left out)")
def statement_export(request: HttpRequest, since: Instant | None = None,
                     until: Instant | None = None):
    require(request, Perm.TRUST_STATEMENTS)
    lines = statements.statements_export(since=since, until=until)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Content-Disposition"] = 'attachment; filename="statements-of-reasons.ndjson"'
    return response


@router.post("/statements/{statement_id}/retry", response=StatementOut,
             summary="Send a dead or refused statement again (audited; 409 otherwise)")
def statement_retry(request: HttpRequest, statement_id: StatementId, body: RetryIn):
    actor = require(request, Perm.TRUST_STATEMENTS)
    row = statements.statement_retry(actor=actor,
                                     statement=statements.statement_get(statement_id),
                                     reason_code=body.reason_code)
    return StatementOut.of(row)
