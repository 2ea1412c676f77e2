"""Console screens for the audit ledger: entries with filters, an entry with its diff, and —
for those who may verify — the ledger's state (checkpoint, shipped segment, last verify)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit import selectors
from casefile.audit.actor import Actor
from casefile.audit.registry import ACTIONS, Risk
from casefile.core.console import query_without, screen
from casefile.core.pagination import keyset_page
from casefile.core.validation import from_query

PAGE = 50


@screen(Perm.AUDIT_VIEW)
def entries(request: HttpRequest, actor: Actor) -> HttpResponse:
    f = from_query(selectors.AuditFilter, request.GET)  # the API's filter, 422 as a page
    page = keyset_page(selectors.audit_entries(f), keys=["seq"],
                       cursor=request.GET.get("cursor"), limit=PAGE)
    state = selectors.ledger_state() if has_perm(actor.roles, Perm.AUDIT_VERIFY) else None
    return render(request, "audit/entries.html", {
        "entries": page.items, "next_cursor": page.next_cursor,
        "keep": query_without(request.GET, "cursor"), "get": request.GET,
        "actions": sorted(ACTIONS), "risks": [r.value for r in Risk],
        "filtered": bool(f.as_dict()), "state": state,
    })


@screen(Perm.AUDIT_VIEW)
def entry(request: HttpRequest, actor: Actor, entry_id: str) -> HttpResponse:
    found = selectors.audit_entry_get(entry_id)
    return render(request, "audit/entry.html", {
        "entry": found, "described": ACTIONS.get(found.action),
    })
