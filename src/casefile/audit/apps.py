from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class AuditConfig(AppConfig):
    name = "casefile.audit"
    label = "audit"

    def ready(self) -> None:
        # Migrations are the one sanctioned way to change the ledger's schema: the DDL guard
        # is off while they run (for a role allowed to switch it) and on again after.
        pre_migrate.connect(_guard_off, sender=self, dispatch_uid="audit-ddl-guard-off")
        post_migrate.connect(_guard_on, sender=self, dispatch_uid="audit-ddl-guard-on")


def _guard_off(using="default", **kwargs) -> None:
    _switch(using, enable=False)


def _guard_on(using="default", **kwargs) -> None:
    _switch(using, enable=True)


def _switch(using: str, *, enable: bool) -> None:
    from django.db import DatabaseError, connections, transaction

    from casefile.audit.triggers import ddl_guard_switch_sql

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(ddl_guard_switch_sql(enable=enable))
    except DatabaseError:  # not a superuser: the guard stays as it is, and verify says so
        pass
