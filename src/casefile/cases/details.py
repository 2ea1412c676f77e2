"""The case-detail registry: what a case page shows beyond the case itself, by kind.

The cases app knows no other app (apps built later build on cases, not the reverse), yet a
case of kind `report` is a safety report's case and its page shows the report. An app that
keeps the detail of a kind registers a function here in its AppConfig's `ready()` — the trust
app, for `report` (`casefile/trust/apps.py`):

    from casefile.cases import details
    details.register("report", reports_views.case_detail)  # (case, actor) -> Detail | None

The case page includes `Detail.template` with `Detail.context` as `detail`; the function
decides what the actor may see (and returns None when the case has no such detail).

A kind whose detail must be settled before its case is resolved (a report's outcome) also
registers `before_resolve`, (case) -> None, which raises to refuse the move: every way of
resolving a case (the status form, the API, bulk) passes through it in `cases.services`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casefile.audit.actor import Actor
    from casefile.cases.models import Case


@dataclass(frozen=True)
class Detail:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


Provider = Callable[["Case", "Actor"], "Detail | None"]
ResolveCheck = Callable[["Case"], None]
_PROVIDERS: dict[str, Provider] = {}
_BEFORE_RESOLVE: dict[str, ResolveCheck] = {}


def register(kind: str, provider: Provider, *, before_resolve: ResolveCheck | None = None
             ) -> None:
    from casefile.cases.policy import Kind

    if kind not in Kind.values:
        raise ValueError(f"unknown case kind {kind!r}")
    if _PROVIDERS.get(kind, provider) is not provider:
        raise ValueError(f"the {kind} case detail is already registered")
    _PROVIDERS[kind] = provider
    if before_resolve is not None:
        _BEFORE_RESOLVE[kind] = before_resolve


def check_resolve(case: Case) -> None:
    check = _BEFORE_RESOLVE.get(case.kind)
    if check is not None:
        check(case)


def detail_for(case: Case, actor: Actor) -> Detail | None:
    provider = _PROVIDERS.get(case.kind)
    return provider(case, actor) if provider else None
