"""From an authenticated request to the acting staff member, and the permission check on it."""

from django.http import HttpRequest

from casefile.accounts import stepup
from casefile.accounts.permissions import Perm
from casefile.audit.actor import Actor
from casefile.core.errors import NotAuthenticated


def actor_of(request: HttpRequest) -> Actor:
    from casefile.platform.selectors import active_impersonation_id

    user = getattr(request, "auth", None) or getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAuthenticated("sign in or send an API token")
    stepup.prove_by_header(request, user)  # an API call's X-Casefile-TOTP, checked once
    # While someone impersonates a platform user, every entry they cause says so.
    session = active_impersonation_id(user.pk)
    context = {"impersonation_id": session} if session else {}
    return Actor.staff(user, request=request, **context)


def require(request: HttpRequest, perm: Perm) -> Actor:
    """The acting staff member, once they are known to hold `perm` (else 401/403)."""
    actor = actor_of(request)
    actor.require(perm)
    return actor
