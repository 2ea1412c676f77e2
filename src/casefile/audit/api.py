from typing import Annotated, Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.audit import selectors, services
from casefile.audit.ledger import entry_document
from casefile.audit.receipts import receipt_for
from casefile.audit.selectors import AuditFilter
from casefile.audit.signing import public_pem, signing_key
from casefile.core.pagination import MAX_CURSOR_LENGTH, keyset_page
from casefile.core.schemas import AuditId, Bounded, Limit, ReasonCode, Schema

router = Router(tags=["audit"])
Cursor = Annotated[str, Bounded(MAX_CURSOR_LENGTH)]


class AuditEntryOut(Schema):
    id: str
    seq: int | None  # None for the moment between its commit and the sequencer's pass
    created_at: str
    actor_user_id: str | None
    actor_email: str | None
    actor_role: str
    ip_address: str | None
    user_agent: str
    action: str
    risk: str
    resource: str
    target_tenant_id: str | None
    target_user_id: str | None
    reason_code: str
    ticket_ref: str | None
    details: dict[str, Any]
    metadata: dict[str, Any]
    prev_hash: str | None
    hash: str | None


class AuditPageOut(Schema):
    items: list[AuditEntryOut]
    next_cursor: str | None


class LedgerStateOut(Schema):
    head_seq: int | None
    last_checkpoint: dict[str, Any] | None
    last_segment: dict[str, Any] | None
    last_verify: dict[str, Any] | None
    public_key: str


@router.get("/entries", response=AuditPageOut, summary="Audit entries, newest first")
def entries_list(request: HttpRequest, filters: Query[AuditFilter], cursor: Cursor | None = None,
                 limit: Limit = 50):
    require(request, Perm.AUDIT_VIEW)
    page = keyset_page(selectors.audit_entries(filters), keys=["seq"],
                       cursor=cursor, limit=limit)
    return {"items": [entry_document(e) for e in page.items],
            "next_cursor": page.next_cursor}


@router.get("/entries/{entry_id}", response=AuditEntryOut, summary="One audit entry")
def entries_get(request: HttpRequest, entry_id: AuditId):
    require(request, Perm.AUDIT_VIEW)
    return entry_document(selectors.audit_entry_get(entry_id))


class ReceiptOut(Schema):
    entry: AuditEntryOut
    leaf_index: int
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str


@router.get("/entries/{entry_id}/receipt", response=ReceiptOut,
            summary="A receipt for one entry: inclusion proof and signed checkpoint, checkable "
                    "offline with `casefile audit verify-receipt`")
def entries_receipt(request: HttpRequest, entry_id: AuditId):
    require(request, Perm.AUDIT_VIEW)
    return receipt_for(selectors.audit_entry_get(entry_id))


@router.get("/export", summary="Export entries as NDJSON (audited as EXPORT_REQUESTED)",
            response={200: None})
def entries_export(request: HttpRequest, filters: Query[AuditFilter], reason_code: ReasonCode):
    actor = require(request, Perm.AUDIT_EXPORT)
    lines = services.audit_export(actor=actor, audit_filter=filters, reason_code=reason_code)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Content-Disposition"] = 'attachment; filename="audit.ndjson"'
    return response


@router.get("/state", response=LedgerStateOut,
            summary="Ledger head, last checkpoint, last shipped segment, last verify")
def ledger_state(request: HttpRequest):
    require(request, Perm.AUDIT_VERIFY)
    state = selectors.ledger_state()
    cp, seg, run = state.last_checkpoint, state.last_segment, state.last_verify
    return LedgerStateOut(
        head_seq=state.head_seq,
        last_checkpoint=None if cp is None else {
            "seq": cp.seq, "hash": cp.hash, "created_at": cp.created_at, "key_id": cp.key_id},
        last_segment=None if seg is None else {
            "key": seg.object_key, "first_seq": seg.first_seq, "last_seq": seg.last_seq,
            "shipped_at": seg.shipped_at, "retain_until": seg.retain_until},
        last_verify=None if run is None else {
            "finished_at": run.finished_at, "ok": run.ok, "worm": run.worm,
            "entries": run.entries, "report": run.report},
        public_key=public_pem(signing_key().public),
    )
