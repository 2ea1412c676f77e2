"""Console screens of the webhook log: the list (filter by vendor, outcome, case, session,
event) and one delivery's page. Read-only: the log is written by vendors' deliveries alone."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.core.console import query_without, screen
from casefile.core.pagination import keyset_page
from casefile.core.validation import from_query
from casefile.trust.vendors import VENDORS
from casefile.webhooks import selectors
from casefile.webhooks.models import Outcome
from casefile.webhooks.schemas import DeliveryFilter

PAGE = 50


@screen(Perm.TRUST_VIEW)
def log(request: HttpRequest, actor: Actor) -> HttpResponse:
    delivery_filter = from_query(DeliveryFilter, request.GET)
    page = keyset_page(selectors.deliveries(delivery_filter), keys=["received_at", "id"],
                       cursor=request.GET.get("cursor"), limit=PAGE)
    return render(request, "webhooks/log.html", {
        "rows": page.items, "next_cursor": page.next_cursor, "filter": delivery_filter,
        "keep": query_without(request.GET, "cursor"), "vendors": sorted(VENDORS),
        "outcomes": Outcome.values,
    })


@screen(Perm.TRUST_VIEW)
def delivery(request: HttpRequest, actor: Actor, delivery_id: str) -> HttpResponse:
    row = selectors.delivery_get(delivery_id)
    return render(request, "webhooks/delivery.html", {
        "d": row, "resolution": getattr(row, "resolution", None),
        "may_evidence": has_perm(actor.roles, Perm.EVIDENCE_VIEW),
    })
