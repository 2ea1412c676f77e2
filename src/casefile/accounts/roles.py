from django.db import models


class Role(models.TextChoices):
    """Staff roles, most privileged last. A user may hold several.

    Two roles are for machines, not people: `ingest` (log shippers) may send events and nothing
    else; `platform` (the platform's own machine identity) may upsert its tenants and users
    and nothing else. Their audit entries carry the system reason the registry declares.

    `legal` (DESIGN 9.1) places and releases legal holds and reads evidence originals; it
    ranks below `admin` and above the operational roles.
    """

    INGEST = "ingest", "Ingest (machine)"
    PLATFORM = "platform", "Platform sync (machine)"
    VIEWER = "viewer", "Viewer"
    ANALYST = "analyst", "Analyst"
    SUPPORT = "support", "Support"
    OPS = "ops", "Operations"
    LEGAL = "legal", "Legal"
    ADMIN = "admin", "Administrator"


MACHINE_ROLES = frozenset({Role.INGEST, Role.PLATFORM})
ROLE_ORDER = {role.value: rank for rank, role in enumerate(Role)}


def is_machine(roles) -> bool:
    """A machine identity holds only machine roles (a person's account never is one)."""
    roles = {str(r) for r in roles}
    return bool(roles) and roles <= {str(r) for r in MACHINE_ROLES}


def sorted_roles(roles) -> list[str]:
    """Most privileged first: the order in which roles are shown and snapshotted into audit."""
    return sorted({str(r) for r in roles}, key=lambda r: -ROLE_ORDER.get(r, -1))
