"""Declarative API permission cases (after NetBox's APIViewTestCases).

Every route of the API is declared once in ENDPOINTS with the permission it needs and the audit
entries a successful call writes; one parametrised test then checks, for every endpoint, that
each role the matrix allows gets its success status and writes exactly those entries, by that
person, every other role gets 403 and writes none, and a request without a token gets 401. A
route that is not declared fails `test_every_route_is_declared`, so no endpoint ships without
these tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from casefile.accounts.permissions import Perm


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # as in the OpenAPI document, e.g. "/api/v1/tokens/{token_id}"
    perm: Perm | None  # None: public
    ok: int = 200
    # The JSON body, or a function of the path parameters that builds it.
    body: dict[str, Any] | Callable[[dict[str, str]], dict[str, Any]] | None = None
    # Builds the path parameters (and may create what they refer to) for the acting user.
    params: Callable[[Any], dict[str, str]] = field(default=lambda user: {})
    # The audit actions a successful call records, in order (reads record none, unless they
    # are audited reads).
    audit: tuple[str, ...] = ()

    def request(self, user) -> tuple[str, dict[str, Any] | None]:
        params = self.params(user)
        body = self.body(params) if callable(self.body) else self.body
        return self.route.format(**params), body

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"
