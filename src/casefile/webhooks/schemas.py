"""The webhook log's filter, declared once (the console reads its query string with it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from casefile.core.schemas import Column, IdOf, Schema
from casefile.trust.vendors import VENDORS
from casefile.webhooks.models import Outcome, WebhookDelivery

VendorName = Literal["checkr", "onfido", "persona", "veriff"]
assert set(get_args(VendorName)) == set(VENDORS), "the filter names every vendor"


class DeliveryFilter(Schema):
    vendor: VendorName | None = None
    outcome: Outcome | None = None
    # The case a delivery concerns: applied to it, held for it and then resolved, or logged
    # for its vendor session.
    case_id: Annotated[str, IdOf("vrf")] | None = None
    session_id: Annotated[str, Column(WebhookDelivery, "session_id")] | None = None
    event_id: Annotated[str, Column(WebhookDelivery, "event_id")] | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)
