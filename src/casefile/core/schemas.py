from ninja import Schema as NinjaSchema
from pydantic import ConfigDict


class Schema(NinjaSchema):
    """The base of every API schema: unknown input fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ReasonIn(Schema):
    reason_code: str
    ticket_ref: str | None = None
