"""Every input about legal holds, declared once: the API parses its bodies and query strings with
these, and the console validates its forms with the same classes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from casefile.core.schemas import Bounded, IdOf, ReasonCode, Schema, TicketRef

HoldId = Annotated[str, IdOf("hld")]
Kind = Literal["evidence", "verification_case", "document", "doc_pack", "case"]
# Every scope's id: an evb_/cas_/vrf_/doc_/dpk_ key (the registry checks the record exists).
ObjectId = Annotated[str, Bounded(40, min_length=1, pattern=r"^[a-z]{3}_[0-9A-Za-z_-]{1,36}$")]
Note = Annotated[str, Bounded(2000)]
Status = Literal["active", "released"]


class PlaceIn(Schema):
    kind: Kind
    object_id: ObjectId
    reason_code: ReasonCode
    ticket_ref: TicketRef | None = None
    note: Note = Field("", description="what the hold is for (the matter, the request)")


class ReleaseIn(Schema):
    reason_code: ReasonCode
    ticket_ref: TicketRef | None = None


class HoldFilter(Schema):
    status: Status | None = None
    kind: Kind | None = None
    object_id: ObjectId | None = None
    ticket_ref: TicketRef | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)
