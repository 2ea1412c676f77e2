"""Console screens for legal holds: the list (with the place-hold form), a hold's page (scope,
objects with the store's hold state, history from the ledger, the release form), and the forms'
posts. Placing is reachable from an evidence blob's page too (`next` brings the user back).

Reads come from `selectors`, every write goes through `services` (`console.change`: preview,
then apply).
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.core.console import back, query_without, screen
from casefile.core.errors import ValidationFailed
from casefile.core.pagination import keyset_page
from casefile.core.validation import from_query, validated
from casefile.holds import scopes, selectors, services
from casefile.holds.models import KINDS
from casefile.holds.schemas import HoldFilter, PlaceIn, ReleaseIn
from casefile.platform import services as platform
from casefile.storage import ObjectStoreError, get_store

PAGE = 50


def _form(request: HttpRequest, names) -> dict:
    return {name: request.POST[name].strip() for name in names
            if request.POST.get(name, "").strip()}


@screen(Perm.HOLDS_VIEW)
def hold_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    hold_filter = from_query(HoldFilter, request.GET)
    page = keyset_page(selectors.holds(hold_filter), keys=["placed_at", "id"],
                       cursor=request.GET.get("cursor"), limit=PAGE)
    return render(request, "holds/list.html", {
        "rows": page.items, "next_cursor": page.next_cursor, "filter": hold_filter,
        "keep": query_without(request.GET, "cursor"), "kinds": KINDS,
        "registered": scopes.registered(),
        "may_place": has_perm(actor.roles, Perm.HOLDS_PLACE),
    })


def _objects(keys: list[str]) -> list[dict]:
    """Each key with the store's hold as the store reports it now."""
    store, rows = get_store(), []
    for key in keys:
        try:
            info = store.head(key)
            rows.append({"key": key, "legal_hold": info.legal_hold,
                         "retain_until": info.retain_until})
        except ObjectStoreError as exc:
            rows.append({"key": key, "problem": exc.message})
    return rows


@screen(Perm.HOLDS_VIEW)
def hold_page(request: HttpRequest, actor: Actor, hold_id: str) -> HttpResponse:
    hold = selectors.hold_get(hold_id)
    try:
        keys = sorted({*scopes.objects_of(hold.kind, hold.object_id), *hold.object_keys})
    except ValidationFailed:  # a scope no longer registered: the keys recorded at placing
        keys = list(hold.object_keys)
    pending = selectors.pending_release(hold) if hold.is_active else None
    return render(request, "holds/hold.html", {
        "hold": hold, "scope": scopes.resource_of(hold.kind, hold.object_id),
        "objects": _objects(keys), "history": selectors.history(hold), "pending": pending,
        "may_release": has_perm(actor.roles, Perm.HOLDS_RELEASE) and hold.is_active,
        "may_audit": has_perm(actor.roles, Perm.AUDIT_VIEW),
    })


@require_POST
@screen(Perm.HOLDS_PLACE)
def hold_place(request: HttpRequest, actor: Actor) -> HttpResponse:
    body = validated(PlaceIn, _form(request, PlaceIn.model_fields), what="the hold")
    placed: list = []

    def apply() -> None:
        placed.append(services.legal_hold_place(
            actor=actor, kind=body.kind, object_id=body.object_id,
            reason_code=body.reason_code, ticket_ref=body.ticket_ref, note=body.note))

    if request.POST.get("preview"):
        return render(request, "console/_preview.html", {"preview": ledger.preview(apply)})
    with transaction.atomic(durable=True):
        apply()
    hold = placed[0]
    messages.success(request, f"{hold.id} placed: the store's legal hold is on every object "
                              f"in {scopes.resource_of(hold.kind, hold.object_id)}")
    return redirect(back(request, reverse("holds:hold", args=[hold.id])))


@require_POST
@screen(Perm.HOLDS_RELEASE)
def hold_release(request: HttpRequest, actor: Actor, hold_id: str) -> HttpResponse:
    """Creates the four-eyes request; another legal person approves it in the approvals inbox.
    The preview shows the LEGAL_HOLD_RELEASED entry that approval will write."""
    hold = selectors.hold_get(hold_id)
    body = validated(ReleaseIn, _form(request, ReleaseIn.model_fields), what="the reason")
    if request.POST.get("preview"):
        preview = platform.operation_preview(
            actor=actor, operation="legal_hold_release", params={"hold_id": hold.id},
            reason_code=body.reason_code, ticket_ref=body.ticket_ref)
        return render(request, "console/_preview.html", {
            "preview": preview, "note": "Needs a second legal person's approval before it "
                                        "takes effect."})
    with transaction.atomic(durable=True):
        approval = services.legal_hold_release_request(
            actor=actor, hold=hold, reason_code=body.reason_code, ticket_ref=body.ticket_ref)
    messages.success(request, f"Release of {hold.id} sent for approval ({approval.id}): "
                              "another legal person must approve it")
    return redirect(reverse("holds:hold", args=[hold.id]))

