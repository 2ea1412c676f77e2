"""Evidence set up through the real services."""

from __future__ import annotations

import io
from typing import Any

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.evidence import services
from casefile.evidence.models import EvidenceBlob
from tests.conftest import make_staff

TEXT = b"Report from Alice Example <alice@example.com>, phone +44 20 7946 0958."
# "Alice Example" is [12, 25), the e-mail [27, 44), the phone [53, 69)
TEXT_MAP = [{"kind": "name", "locator": [12, 25]}, {"kind": "email", "locator": [27, 44]},
            {"kind": "phone", "locator": [53, 69]}]
JSON_DOC = (b'{"user": {"name": "Alice", "email": "a@example.com", "ids": ["X1", "X2"]}, '
            b'"status": "approved", "a/b": {"~k": 1}}')


def staff(*roles: Role) -> Actor:
    return Actor.staff(make_staff(*roles))


def png(width: int = 40, height: int = 30, colour=(200, 120, 40)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), colour)
    for x in range(width):  # a gradient, so "unchanged" means something
        for y in range(height):
            image.putpixel((x, y), (x * 5 % 256, y * 7 % 256, (x + y) % 256))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(actor: Actor | None = None, *, data: bytes = TEXT,
           content_type: str = "text/plain", pii_map: list[dict[str, Any]] | None = None,
           **links) -> EvidenceBlob:
    actor = actor or staff(Role.ANALYST)
    return services.evidence_upload(
        actor=actor, data=data, filename="report.txt",
        content_type=content_type, pii_map=TEXT_MAP if pii_map is None else pii_map,
        reason_code=None if actor.is_machine else "INVESTIGATION", **links)


def place_hold(blob: EvidenceBlob, kind: str = "evidence", object_id: str | None = None):
    """A legal hold over the blob (or `kind:object_id`), placed by legal through the service."""
    from casefile.holds.services import legal_hold_place

    return legal_hold_place(actor=staff(Role.LEGAL), kind=kind, object_id=object_id or blob.id,
                            reason_code="LEGAL_REQUEST", ticket_ref="LIT-1")
