"""Console screens for trust: a user's trust page (flags with their reasons, holds, risk history,
verification cases), a verification case's page with its moves and appeal, and the three queues.

Reads come from `selectors`; every write goes through `services`, previewed before it applies
(`console.change`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.core.console import change, query_without, reason, screen
from casefile.core.errors import ValidationFailed
from casefile.core.pagination import keyset_page
from casefile.core.validation import validated
from casefile.evidence import selectors as evidence_selectors
from casefile.evidence import services as evidence_services
from casefile.evidence.schemas import EvidenceFilter
from casefile.platform.selectors import platform_user_get
from casefile.trust import policy, selectors, services
from casefile.trust.schemas import (
    AppealIn,
    HoldIn,
    ProfilePatch,
    RiskIn,
    TransitionIn,
    VerificationOpenIn,
)

PAGE = 50
_BOOLEAN_INPUTS = ("is_18plus_attested", "social_ig_verified", "social_yt_verified",
                   "social_tt_verified", "studio_verified", "adult_strike_active")


def _form(request: HttpRequest, schema, names, what: str, **extra):
    data: dict[str, Any] = {name: request.POST[name].strip() for name in names
                            if request.POST.get(name, "").strip()}
    code, _ticket = reason(request)
    return validated(schema, {**data, **extra, "reason_code": code}, what=what)


def _flags(profile) -> list[dict[str, Any]]:
    return [{"name": flag, "eligible": getattr(profile, flag),
             "reasons": getattr(profile, policy.reasons_field(flag))} for flag in policy.FLAGS]


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    return render(request, template, context)


@screen(Perm.TRUST_VIEW)
def user_trust(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    subject = platform_user_get(user_id)
    profile = selectors.profile_read(user_id)
    return _render(request, "trust/user.html", {
        "subject": subject, "profile": profile, "flags": _flags(profile),
        "risk": selectors.risk_history(user_id)[:20],
        "cases": selectors.verification_cases(
            selectors.VerificationFilter(user_id=user_id)).order_by("-created_at")[:50],
        "inputs": policy.INPUTS, "booleans": _BOOLEAN_INPUTS,
        "choices": {"idv_status": policy.IdvStatus.values, "bg_status": policy.BgStatus.values,
                    "safe_mode_preference": policy.SafeMode.values},
        "types": policy.VerificationType.values,
        "threshold": policy.finance_risk_threshold(),
        "may_edit": has_perm(actor.roles, Perm.TRUST_EDIT),
        "may_open": has_perm(actor.roles, Perm.TRUST_VERIFY_OPEN),
        "strikes": _strike_rows(user_id), "may_strike": has_perm(actor.roles, Perm.TRUST_STRIKE),
        "strike_policies": _strike_policies(),
        "evidence": (_evidence_previews(actor, user_id)
                     if has_perm(actor.roles, Perm.EVIDENCE_VIEW) else None),
    })


def _strike_rows(user_id: str):
    from casefile.trust import strikes

    return strikes.strike_history(user_id)[:100]


def _strike_policies():
    from casefile.trust.strikes_policy import POLICIES

    return list(POLICIES.values())


PREVIEW_CHARS = 400


def _evidence_previews(actor: Actor, user_id: str) -> list[tuple[Any, str | None]]:
    """The user's latest evidence with a preview of its redacted copy — the copy every reader
    gets by default: an image is shown by the page (<img>), text is quoted here."""
    previews: list[tuple[Any, str | None]] = []
    for blob in (evidence_selectors.blobs(EvidenceFilter(platform_user_id=user_id))
                 .order_by("-created_at", "-id")[:20]):
        if blob.content_type.startswith("image/"):
            previews.append((blob, None))
            continue
        text = evidence_services.evidence_redacted_read(actor=actor, blob=blob)
        quoted = text[:PREVIEW_CHARS].decode("utf-8", "replace")
        previews.append((blob, quoted + ("…" if len(text) > PREVIEW_CHARS else "")))
    return previews


def _to_user(user_id: str) -> str:
    return reverse("trust:user", args=[user_id])


@require_POST
@screen(Perm.TRUST_EDIT)
def profile_update(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    """The inputs form: only fields that differ from the profile are sent as changes."""
    current = selectors.profile_read(user_id)
    data: dict[str, Any] = {}
    for name in policy.INPUTS:
        raw = request.POST.get(name, "").strip()
        if raw == "":
            continue
        value: Any = raw
        if name in _BOOLEAN_INPUTS:
            value = raw == "true"
        elif name in ("strikes_active_count", "strike_points_active"):
            value = raw
        data[name] = value
    code, _ticket = reason(request)
    body = validated(ProfilePatch, {**data, "reason_code": code}, what="the profile")
    changes = {k: v for k, v in body.changes().items() if getattr(current, k) != v}
    if not changes:
        raise ValidationFailed("nothing to change: the profile already says that")
    return change(request, lambda: services.trust_profile_update(
        actor=actor, user_id=user_id, changes=changes, reason_code=body.reason_code),
        done="Profile updated; its flags were recomputed", redirect_to=_to_user(user_id))


@require_POST
@screen(Perm.TRUST_EDIT)
def risk_set(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    body = _form(request, RiskIn, ("score", "reason"), "the risk score", source="staff")
    return change(request, lambda: services.trust_risk_score_set(
        actor=actor, user_id=user_id, score=body.score, source=body.source, reason=body.reason,
        reason_code=body.reason_code), done=f"Risk score set to {body.score}",
        redirect_to=_to_user(user_id))


@require_POST
@screen(Perm.TRUST_EDIT)
def hold_set(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    body = _form(request, HoldIn, ("hold_type",), "the hold")
    return change(request, lambda: services.trust_hold_set(
        actor=actor, user_id=user_id, hold_type=body.hold_type, reason_code=body.reason_code),
        done=f"{body.hold_type} hold set", redirect_to=_to_user(user_id))


@require_POST
@screen(Perm.TRUST_EDIT)
def hold_clear(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    code, _ticket = reason(request)
    return change(request, lambda: services.trust_hold_clear(
        actor=actor, user_id=user_id, reason_code=code), done="Hold cleared",
        redirect_to=_to_user(user_id))


@require_POST
@screen(Perm.TRUST_VERIFY_OPEN)
def verification_open(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    body = _form(request, VerificationOpenIn, ("type", "vendor", "vendor_session_id"),
                 "the verification", user_id=user_id)
    return change(request, lambda: services.verification_case_open(
        actor=actor, user_id=user_id, type=body.type, vendor=body.vendor,
        vendor_session_id=body.vendor_session_id, reason_code=body.reason_code),
        done=f"{body.type} verification opened", redirect_to=_to_user(user_id))


@screen(Perm.TRUST_VIEW)
def verification_page(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.verification_case_get(case_id)
    return _render(request, "trust/verification.html", {
        "case": case, "timeline": selectors.verification_timeline(case),
        "allowed": sorted(policy.TRANSITIONS[policy.VerificationState(case.state)]),
        "may_verify": has_perm(actor.roles, Perm.TRUST_VERIFY),
        "may_evidence": has_perm(actor.roles, Perm.EVIDENCE_VIEW),
    })


def _to_case(case_id: str) -> str:
    return reverse("trust:verification", args=[case_id])


@require_POST
@screen(Perm.TRUST_VERIFY)
def verification_transition(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.verification_case_get(case_id)
    ids = [i for i in request.POST.get("evidence_ids", "").replace(",", " ").split() if i]
    body = _form(request, TransitionIn, ("to", "decision"), "the move",
                 **({"evidence_ids": ids} if ids else {}))
    return change(request, lambda: services.verification_case_transition(
        actor=actor, case=case, to=body.to, decision=body.decision,
        evidence_ids=body.evidence_ids, reason_code=body.reason_code),
        done=f"Moved to {body.to}", redirect_to=_to_case(case_id))


@require_POST
@screen(Perm.TRUST_VERIFY)
def verification_appeal(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.verification_case_get(case_id)
    body = _form(request, AppealIn, ("note",), "the appeal")
    return change(request, lambda: services.verification_case_appeal(
        actor=actor, case=case, reason_code=body.reason_code, note=body.note),
        done="Appeal opened", redirect_to=_to_case(case_id))


QUEUE_TITLES = {"idv": "Identity verification work (pending, failed, expired)",
                "trusted_pro": "Trusted Pro targeting (background clear)",
                "finance": "Finance holds (risk at or over the threshold, or a risk hold)"}


@screen(Perm.TRUST_VIEW)
def queue(request: HttpRequest, actor: Actor, name: str = "idv") -> HttpResponse:
    if name not in selectors.QUEUES:
        raise ValidationFailed(f"queue must be one of {', '.join(selectors.QUEUES)}")
    keys, descending = selectors.QUEUES[name]
    page = keyset_page(selectors.queue(name), keys=keys, descending=descending,
                       cursor=request.GET.get("cursor"), limit=PAGE)
    return _render(request, "trust/queue.html", {
        "name": name, "title": QUEUE_TITLES[name], "queues": QUEUE_TITLES,
        "rows": [{"profile": p, "flags": _flags(p)} for p in page.items],
        "next_cursor": page.next_cursor, "keep": query_without(request.GET, "cursor"),
        "threshold": policy.finance_risk_threshold()})


# --- strikes (trust.strikes) -------------------------------------------------------------------


@require_POST
@screen(Perm.TRUST_STRIKE)
def strike_issue(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    from casefile.trust import strikes
    from casefile.trust.strikes_api import StrikeIn

    body = _form(request, StrikeIn, ("policy", "points", "reason", "case_id"), "the strike")
    return change(request, lambda: strikes.strike_issue(
        actor=actor, user_id=user_id, policy=body.policy, points=body.points,
        reason=body.reason, case_id=body.case_id, reason_code=body.reason_code),
        done=f"{body.policy} strike issued", redirect_to=_to_user(user_id))


@require_POST
@screen(Perm.TRUST_STRIKE)
def strike_reverse(request: HttpRequest, actor: Actor, strike_id: str) -> HttpResponse:
    from casefile.trust import strikes
    from casefile.trust.strikes_api import ReverseIn

    strike = strikes.strike_get(strike_id)
    body = _form(request, ReverseIn, ("appeal_case_id", "reason"), "the reversal")
    return change(request, lambda: strikes.strike_reverse(
        actor=actor, strike=strike, reason_code=body.reason_code,
        appeal_case_id=body.appeal_case_id, reason=body.reason),
        done=f"{strike.id} reversed", redirect_to=_to_user(strike.user_id))
