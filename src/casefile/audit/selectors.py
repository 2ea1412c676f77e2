from dataclasses import dataclass
from typing import Annotated, Any

from django.db.models import QuerySet
from pydantic import AfterValidator, Field

from casefile.audit.models import AuditCheckpoint, AuditEntry, AuditSegment, VerifyRun
from casefile.audit.registry import ACTIONS, Risk
from casefile.core.errors import NotFound
from casefile.core.schemas import (
    EMAIL_LENGTH,
    Bounded,
    Column,
    Instant,
    PlatformUserId,
    Schema,
    TenantId,
)


def _known_action(key: str) -> str:
    if key not in ACTIONS:
        raise ValueError(f"unknown audit action {key!r}")
    return key


ActionKey = Annotated[str, Bounded(64, min_length=1), AfterValidator(_known_action)]


class AuditFilter(Schema):
    """The audit list's filter, declared once: the API reads it from the query string
    (`Query[AuditFilter]`), the console validates its own query string with it
    (`core.validation.from_query`), and `audit_entries` and the export take it as it is."""

    actor: Annotated[str, Bounded(EMAIL_LENGTH)] | None = Field(
        default=None, description="a staff id (stf_…) or e-mail")
    action: list[ActionKey] | None = Field(default=None, max_length=len(ACTIONS))
    risk: list[Risk] | None = Field(default=None, max_length=len(Risk))
    resource: Annotated[str, Column(AuditEntry, "resource")] | None = Field(
        default=None, description="e.g. case:cas_…")
    target_tenant_id: TenantId | None = None
    target_user_id: PlatformUserId | None = None
    since: Instant | None = Field(default=None, description="from this moment (UTC if no zone)")
    until: Instant | None = Field(default=None, description="before this moment (UTC if no zone)")

    def as_dict(self) -> dict[str, Any]:
        """What was asked for, as JSON (recorded with an export)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v not in (None, [])}


def audit_entries(f: AuditFilter) -> QuerySet[AuditEntry]:
    """Entries in the chain. One committed a moment ago joins it when the sequencer has run
    (on its commit), so lists and exports page by `seq` and never hold an entry without one."""
    query = AuditEntry.objects.filter(seq__isnull=False)
    if f.actor:
        field = "actor_email__iexact" if "@" in f.actor else "actor_user_id"
        query = query.filter(**{field: f.actor})
    if f.action:
        query = query.filter(action__in=f.action)
    if f.risk:
        query = query.filter(risk__in=[str(r) for r in f.risk])
    if f.resource:
        query = query.filter(resource=f.resource)
    if f.target_tenant_id:
        query = query.filter(target_tenant_id=f.target_tenant_id)
    if f.target_user_id:
        query = query.filter(target_user_id=f.target_user_id)
    if f.since:
        query = query.filter(created_at__gte=f.since)
    if f.until:
        query = query.filter(created_at__lt=f.until)
    return query


def audit_entry_get(entry_id: str) -> AuditEntry:
    found = AuditEntry.objects.filter(pk=entry_id).first()
    if found is None:
        raise NotFound(f"no audit entry {entry_id}")
    return found


@dataclass(frozen=True)
class LedgerState:
    head_seq: int | None
    last_checkpoint: AuditCheckpoint | None
    last_segment: AuditSegment | None
    last_verify: VerifyRun | None


def ledger_state() -> LedgerState:
    return LedgerState(
        head_seq=AuditEntry.objects.filter(seq__isnull=False).order_by("-seq")
        .values_list("seq", flat=True).first(),
        last_checkpoint=AuditCheckpoint.objects.order_by("-seq").first(),
        last_segment=AuditSegment.objects.order_by("-last_seq").first(),
        last_verify=VerifyRun.objects.order_by("-finished_at").first(),
    )
