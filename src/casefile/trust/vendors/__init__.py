"""Identity and background-check vendors whose webhooks Casefile accepts.

`vendor(name)` is what `/api/v1/webhooks/{vendor}` resolves its path segment with: `verify` the
raw body against that vendor's secrets first, then `parse` it. Each vendor's module says which
documentation it follows and holds the one table mapping its statuses to case states.
"""

from __future__ import annotations

from casefile.core.errors import NotFound
from casefile.trust.vendors.base import Delivery, PayloadInvalid, SignatureInvalid, Vendor
from casefile.trust.vendors.checkr import Checkr
from casefile.trust.vendors.onfido import Onfido
from casefile.trust.vendors.persona import Persona
from casefile.trust.vendors.veriff import Veriff

__all__ = [
    "VENDORS",
    "Delivery",
    "PayloadInvalid",
    "SignatureInvalid",
    "UnknownVendor",
    "Vendor",
    "vendor",
]

VENDORS: dict[str, Vendor] = {
    v.name: v for v in (Persona(), Onfido(), Veriff(), Checkr())
}


class UnknownVendor(NotFound):
    code = "unknown_vendor"

    def __init__(self, name: str):
        known = ", ".join(sorted(VENDORS))
        super().__init__(
            f"unknown webhook vendor {name!r} (known: {known})",
            details={"vendor": name, "known": sorted(VENDORS)},
        )
        self.name = name


def vendor(name: str) -> Vendor:
    """The vendor registered under `name` (exact, lowercase, as in the URL)."""
    try:
        return VENDORS[name]
    except KeyError:
        raise UnknownVendor(name) from None
