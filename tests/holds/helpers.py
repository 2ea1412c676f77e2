"""Legal holds set up through the real services."""

from __future__ import annotations

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.holds import services
from casefile.holds.models import LegalHold
from casefile.platform import services as platform
from casefile.platform.models import Approval
from tests.evidence.helpers import staff


def place(kind: str, object_id: str, *, actor: Actor | None = None, ticket: str | None = "LIT-7",
          reason: str = "LEGAL_REQUEST") -> LegalHold:
    return services.legal_hold_place(actor=actor or staff(Role.LEGAL), kind=kind,
                                     object_id=object_id, reason_code=reason, ticket_ref=ticket,
                                     note="preserve for litigation")


def request_release(hold: LegalHold, requester: Actor | None = None) -> Approval:
    return services.legal_hold_release_request(actor=requester or staff(Role.LEGAL), hold=hold,
                                               reason_code="LEGAL_REQUEST", ticket_ref="LIT-7")


def release(hold: LegalHold, *, requester: Actor | None = None,
            approver: Actor | None = None) -> LegalHold:
    """Asked for by one legal person, approved by another."""
    approval = request_release(hold, requester)
    platform.approval_decide(actor=approver or staff(Role.LEGAL), approval=approval,
                             approve=True, reason_code="LEGAL_REQUEST")
    return LegalHold.objects.get(pk=hold.pk)
