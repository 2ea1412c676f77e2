from django.db.models import QuerySet

from casefile.accounts.models import ApiToken, StaffUser
from casefile.core.errors import NotFound


def staff_users() -> QuerySet[StaffUser]:
    return StaffUser.objects.prefetch_related("role_grants").order_by("email")


def staff_user_get(*, user_id: str | None = None, email: str | None = None) -> StaffUser:
    query = StaffUser.objects.all()
    found = (query.filter(pk=user_id) if user_id else query.filter(email__iexact=email)).first()
    if found is None:
        raise NotFound(f"no staff user {user_id or email}")
    return found


def api_tokens_of(user: StaffUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def api_token_get(token_id: str) -> ApiToken:
    found = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if found is None:
        raise NotFound(f"no API token {token_id}")
    return found
