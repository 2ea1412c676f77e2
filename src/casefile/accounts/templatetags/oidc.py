"""`{% oidc_sign_in next %}`: the login page's "Sign in with …" button, shown only when an
identity provider is configured (the local form is there either way, for break-glass)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.inclusion_tag("accounts/oidc_button.html")
def oidc_sign_in(next_url: str = "") -> dict:
    if not settings.OIDC_ISSUER:
        return {"enabled": False}
    url = reverse("accounts:oidc_start")
    if next_url:
        url += "?" + urlencode({"next": next_url})
    return {"enabled": True, "url": url,
            "provider_name": settings.OIDC_PROVIDER_NAME or "your identity provider"}
