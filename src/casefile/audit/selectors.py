from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from casefile.audit.models import AuditCheckpoint, AuditEntry, AuditSegment, VerifyRun
from casefile.core.errors import NotFound


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None  # a staff id or e-mail
    action: list[str] | None = None
    risk: list[str] | None = None
    resource: str | None = None
    target_tenant_id: str | None = None
    target_user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


def audit_entries(f: AuditFilter) -> QuerySet[AuditEntry]:
    query = AuditEntry.objects.all()
    if f.actor:
        field = "actor_email__iexact" if "@" in f.actor else "actor_user_id"
        query = query.filter(**{field: f.actor})
    if f.action:
        query = query.filter(action__in=f.action)
    if f.risk:
        query = query.filter(risk__in=f.risk)
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
        head_seq=AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first(),
        last_checkpoint=AuditCheckpoint.objects.order_by("-seq").first(),
        last_segment=AuditSegment.objects.order_by("-last_seq").first(),
        last_verify=VerifyRun.objects.order_by("-finished_at").first(),
    )
