from django.db import models


class Role(models.TextChoices):
    """Staff roles, most privileged last. A user may hold several.

    `ingest` is for machines feeding Casefile (log shippers, the platform's sync): it may send
    events and upsert tenants and platform users, and nothing else.
    """

    INGEST = "ingest", "Ingest (machine)"
    VIEWER = "viewer", "Viewer"
    ANALYST = "analyst", "Analyst"
    SUPPORT = "support", "Support"
    OPS = "ops", "Operations"
    ADMIN = "admin", "Administrator"


ROLE_ORDER = {role.value: rank for rank, role in enumerate(Role)}


def sorted_roles(roles) -> list[str]:
    """Most privileged first: the order in which roles are shown and snapshotted into audit."""
    return sorted({str(r) for r in roles}, key=lambda r: -ROLE_ORDER.get(r, -1))
