"""`{% load webhooks %}{% webhook_deliveries case %}`: a verification case's deliveries, for its
page (the trust app's), without its view having to know about the webhook log."""

from typing import Any

from django import template

from casefile.webhooks import selectors

register = template.Library()


@register.inclusion_tag("webhooks/_case_deliveries.html")
def webhook_deliveries(case: Any) -> dict[str, Any]:
    return {"case": case, "rows": selectors.deliveries_for_case(case)}
