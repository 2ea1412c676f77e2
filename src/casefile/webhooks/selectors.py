"""Reads of the webhook log."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from casefile.core.errors import NotFound
from casefile.webhooks.models import WebhookDelivery
from casefile.webhooks.schemas import DeliveryFilter


def _about_case(case_id: str) -> Q:
    """Deliveries about a verification case: applied to it (or logged against it), or held and
    later resolved for it, or anything logged for its vendor session."""
    about = Q(verification_case_id=case_id) | Q(resolution__verification_case_id=case_id)
    from casefile.trust.models import VerificationCase

    case = VerificationCase.objects.filter(pk=case_id).values("vendor",
                                                             "vendor_session_id").first()
    if case and case["vendor"] and case["vendor_session_id"]:
        about |= Q(vendor=case["vendor"], session_id=case["vendor_session_id"])
    return about


def deliveries(f: DeliveryFilter) -> QuerySet[WebhookDelivery]:
    query = WebhookDelivery.objects.select_related("resolution")
    if f.vendor:
        query = query.filter(vendor=f.vendor)
    if f.outcome:
        # A held delivery that was resolved counts under its resolution's outcome as well.
        query = query.filter(Q(outcome=f.outcome) | Q(resolution__outcome=f.outcome))
    if f.case_id:
        query = query.filter(_about_case(f.case_id))
    if f.session_id:
        query = query.filter(session_id=f.session_id)
    if f.event_id:
        query = query.filter(event_id=f.event_id)
    return query


def deliveries_for_case(case: Any, *, limit: int = 100) -> list[WebhookDelivery]:
    """The deliveries about a verification case, newest first (for its page)."""
    return list(WebhookDelivery.objects.select_related("resolution")
                .filter(_about_case(case.pk)).order_by("-received_at", "-id")[:limit])


def delivery_get(delivery_id: str) -> WebhookDelivery:
    found = WebhookDelivery.objects.select_related("resolution").filter(pk=delivery_id).first()
    if found is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    return found


def evidence_ids_for_case(case_id: str) -> list[str]:
    """The evidence (raw bodies) of every delivery about a verification case, applied or not:
    what a hold on the case covers and what expires with its PII."""
    return sorted(set(WebhookDelivery.objects.filter(_about_case(case_id))
                      .exclude(evidence_id="").values_list("evidence_id", flat=True)))


def cases_of_evidence(blob_id: str) -> list[str]:
    """The verification cases whose deliveries' bodies include this blob."""
    pairs = (WebhookDelivery.objects.filter(evidence_id=blob_id)
             .values_list("verification_case_id", "resolution__verification_case_id"))
    return sorted({case_id for pair in pairs for case_id in pair if case_id})
