"""API authentication: `Authorization: Bearer <token>`."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from casefile.accounts.models import ApiToken
from casefile.accounts.services import api_token_touch, hash_token


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        found = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if found is None:
            return None
        api_token_touch(found)
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user
