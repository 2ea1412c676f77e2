from django.db import connection
from django.db.models import Q, QuerySet

from casefile.core.errors import NotFound
from casefile.core.timeutil import now
from casefile.platform.models import Approval, Impersonation, OutboxCommand, PlatformUser, Tenant


def _get(model, pk, label):
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"no {label} {pk}")
    return found


def tenant_get(tenant_id: str) -> Tenant:
    return _get(Tenant, tenant_id, "tenant")


def platform_user_get(user_id: str) -> PlatformUser:
    return _get(PlatformUser, user_id, "platform user")


def approval_get(approval_id: str) -> Approval:
    return _get(Approval, approval_id, "approval request")


def impersonation_get(session_id: str) -> Impersonation:
    return _get(Impersonation, session_id, "impersonation")


def command_get(command_id: str) -> OutboxCommand:
    return _get(OutboxCommand, command_id, "command")


def tenants(q: str = "") -> QuerySet[Tenant]:
    """Tenants by name; `q` matches a part of the name or the whole id."""
    query = Tenant.objects.order_by("name", "id")
    return query.filter(Q(name__icontains=q) | Q(id=q)) if q else query


def platform_users_matching(q: str) -> QuerySet[PlatformUser]:
    return PlatformUser.objects.filter(Q(email__icontains=q) | Q(id=q)).order_by("email", "id")


def approvals(status: str | None = None) -> QuerySet[Approval]:
    query = Approval.objects.select_related("requested_by").order_by("-created_at")
    return query.filter(status=status) if status else query


def commands(status: str | None = None) -> QuerySet[OutboxCommand]:
    query = OutboxCommand.objects.order_by("-created_at")
    return query.filter(status=status) if status else query


def active_impersonation_id(staff_id: str) -> str | None:
    """The session a member of staff is in right now (time-boxed), if any. Asked on every API
    request, so in plain SQL: building the ORM query cost four times running it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Impersonation._meta.db_table} "  # noqa: S608
                       "WHERE staff_id = %s AND ended_at IS NULL AND expires_at > %s "
                       "ORDER BY id LIMIT 1",
                       [staff_id, connection.ops.adapt_datetimefield_value(now())])
        row = cursor.fetchone()
    return row[0] if row else None
