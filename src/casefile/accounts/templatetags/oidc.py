"""`{% oidc_sign_in next %}`: the login page's "Sign in with …" button, shown only when an
identity provider is configured (the local form is there either way, for break-glass).
`{% oidc_step_up next %}`: on the step-up page, "Prove it with …" for someone who signed in
through the IdP (it authenticates them again there, with a second factor)."""

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


@register.inclusion_tag("accounts/oidc_button.html", takes_context=True)
def oidc_step_up(context: template.Context, next_url: str = "") -> dict:
    from casefile.accounts import oidc

    request = context.get("request")
    if request is None or not oidc.may_step_up(getattr(request, "user", None)):
        return {"enabled": False}
    query = {"step_up": "1", **({"next": next_url} if next_url else {})}
    return {"enabled": True, "step_up": True,
            "url": reverse("accounts:oidc_start") + "?" + urlencode(query),
            "provider_name": settings.OIDC_PROVIDER_NAME or "your identity provider"}
