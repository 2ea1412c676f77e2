"""The variables a booking leg gives its documents — the one place that says what a clause
body may use (docs/documents.md lists them):

- every booking fact at the top level, as the platform sent it: `{{ rate }}`, `{{ hours }}`;
- `leg`: `{{ leg.id }}`, `{{ leg.city }}`, `{{ leg.provider_role }}`, `{{ leg.starts_at }}`,
  `{{ leg.ends_at }}` (ISO 8601 UTC text, or null when the platform sent none);
- each signer role the leg has a party for — `buyer`, `talent`, `studio_owner`, `witness` —
  with `user_id`, `email` and `name`: `{{ buyer.name }}`, `{{ talent.email }}`.

Facts may not use those names (`RESERVED`): the upsert refuses them, so a fact can never hide
a party. What is resolved is stored with each document (`variables_filled`), so a document is
re-rendered from what it was generated with, whatever the leg says later.
"""

from __future__ import annotations

from typing import Any

from casefile.core.timeutil import isoformat
from casefile.documents.models import BookingLeg
from casefile.documents.policy import SignerRole

RESERVED = frozenset({"leg", *SignerRole.values})


def leg_variables(leg: BookingLeg) -> dict[str, Any]:
    variables: dict[str, Any] = {k: v for k, v in (leg.facts or {}).items()
                                 if k not in RESERVED}
    variables["leg"] = {
        "id": leg.id, "city": leg.city, "provider_role": leg.provider_role,
        "starts_at": isoformat(leg.starts_at) if leg.starts_at else None,
        "ends_at": isoformat(leg.ends_at) if leg.ends_at else None,
    }
    for role in SignerRole.values:
        party = (leg.parties or {}).get(role)
        if party:
            variables[role] = {"user_id": party.get("user_id"), "email": party.get("email", ""),
                               "name": party.get("name", "")}
    return variables
