"""Who is acting: a member of staff (with the request they came through) or Casefile itself."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from casefile.accounts.permissions import Perm, require

if TYPE_CHECKING:
    from django.http import HttpRequest

    from casefile.accounts.models import StaffUser

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    user: StaffUser | None
    ip_address: str | None = None
    user_agent: str = ""
    # Extra context written into every audit entry's metadata (e.g. the CLI, an impersonation id).
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def staff(cls, user: StaffUser, *, request: HttpRequest | None = None, **context) -> Actor:
        if request is None:
            return cls(user=user, context=context)
        return cls(
            user=user,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            context=context,
        )

    @classmethod
    def system(cls, via: str, **context) -> Actor:
        return cls(user=None, context={"via": via, **context})

    @property
    def is_system(self) -> bool:
        return self.user is None

    @property
    def staff_user(self) -> StaffUser:
        """The acting member of staff, for code that only staff reach (the API)."""
        if self.user is None:
            raise TypeError("Casefile itself is acting, not a member of staff")
        return self.user

    @property
    def roles(self):
        return frozenset() if self.user is None else self.user.roles

    def require(self, perm: Perm) -> None:
        """Casefile's own jobs and the operator's CLI run with the host's authority."""
        if self.user is not None:
            require(self.user.roles, perm)

    def snapshot(self) -> dict[str, Any]:
        """The actor columns of an audit entry, as they are at this moment."""
        if self.user is None:
            return {"actor_user_id": None, "actor_email": None, "actor_role": SYSTEM_ROLE}
        return {
            "actor_user_id": self.user.id,
            "actor_email": self.user.email,
            "actor_role": self.user.role_label,
        }


def client_ip(request: HttpRequest) -> str | None:
    raw = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            raw = forwarded.split(",")[0].strip()
    return normalise_ip(raw)


def normalise_ip(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return ipaddress.ip_address(raw).compressed
    except ValueError:
        return None
