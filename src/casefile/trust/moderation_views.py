"""Console screens for moderation (DESIGN 9.4): the moderator queue, an item's page with its
history and the review form, the rules page (versions; what a version changes against the one
before it, the draft's by default, any other's with `?diff=<version>`; the draft's JSON editor,
replay, publish).

Reads come from `trust.moderation`'s selectors; every write goes through its services, previewed
before it applies (`console.change`)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.core.console import change, query_without, reason, screen
from casefile.core.errors import AppError, ValidationFailed
from casefile.core.pagination import keyset_page
from casefile.evidence import selectors as evidence_selectors
from casefile.evidence.schemas import EvidenceFilter
from casefile.trust import moderation, rules_diff
from casefile.trust.models import HashList, RuleSetVersion
from casefile.trust.moderation_rules import DECISIONS

PAGE = 50


def _evidence(actor: Actor, user_ids: set[str]) -> dict[str, list[Any]]:
    """The subjects' evidence (ids and links only: the redacted copy opens on its own page)."""
    if not has_perm(actor.roles, Perm.EVIDENCE_VIEW):
        return {}
    return {u: list(evidence_selectors.blobs(EvidenceFilter(platform_user_id=u))
                    .order_by("-created_at", "-id")[:5]) for u in user_ids}


@screen(Perm.MODERATION_REVIEW)
def queue(request: HttpRequest, actor: Actor) -> HttpResponse:
    page = keyset_page(moderation.review_queue(), keys=["created_at", "id"], descending=False,
                       cursor=request.GET.get("cursor"), limit=PAGE)
    evidence = _evidence(actor, {r.subject_user_id for r in page.items})
    return render(request, "trust/moderation_queue.html", {
        "rows": [{"item": r, "evidence": evidence.get(r.subject_user_id)} for r in page.items],
        "next_cursor": page.next_cursor, "keep": query_without(request.GET, "cursor"),
        "may_evidence": has_perm(actor.roles, Perm.EVIDENCE_VIEW)})


@screen(Perm.MODERATION_REVIEW)
def item(request: HttpRequest, actor: Actor, mod_id: str) -> HttpResponse:
    latest = moderation.latest(mod_id)
    return render(request, "trust/moderation_item.html", {
        "item": latest, "history": moderation.history(latest), "decisions": DECISIONS,
        "evidence": _evidence(actor, {latest.subject_user_id}).get(latest.subject_user_id),
        "may_evidence": has_perm(actor.roles, Perm.EVIDENCE_VIEW)})


@require_POST
@screen(Perm.MODERATION_REVIEW)
def review(request: HttpRequest, actor: Actor, mod_id: str) -> HttpResponse:
    latest = moderation.latest(mod_id)
    decision = request.POST.get("decision", "")
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision must be one of {', '.join(DECISIONS)}")
    safe = request.POST.get("safe_mode_required")
    code, _ticket = reason(request)
    return change(request, lambda: moderation.moderation_review(
        actor=actor, item=latest, decision=decision, reason_code=code,
        safe_mode_required=None if not safe else safe == "true"),
        done=f"Decided: {decision} (overrides the rules)",
        redirect_to=reverse("moderation:item", args=[latest.id]))


@screen(Perm.MODERATION_REVIEW)
def rules(request: HttpRequest, actor: Actor) -> HttpResponse:
    versions = list(RuleSetVersion.objects.order_by("-version")[:50])
    draft = next((v for v in versions if v.status == "draft"), None)
    current = next((v for v in versions if v.status == "published"), None)
    may_rules = has_perm(actor.roles, Perm.MODERATION_RULES)
    report, problem = None, None
    if draft is not None and may_rules and request.GET.get("replay"):
        try:
            last_n = int(request.GET.get("last_n") or 500)
            report = moderation.rule_set_replay(draft_version=draft.version, last_n=last_n)
        except (AppError, ValueError) as exc:
            problem = str(exc)
    diff, diff_problem = _diff(request.GET.get("diff"), draft)
    editing = draft or current
    return render(request, "trust/moderation_rules.html", {
        "versions": versions, "draft": draft, "current": current, "may_rules": may_rules,
        "text": json.dumps({k: v for k, v in (editing.rules if editing else {"rules": []}).items()
                            if k != "version"}, indent=2),
        "current_text": json.dumps(current.rules, indent=2) if current else "",
        "report": report, "changed": report.changed_counts() if report else None,
        "problem": problem, "diff": diff, "diff_problem": diff_problem,
        "lists": HashList.objects.order_by("name") if may_rules else None})


def _diff(asked: str | None, draft: RuleSetVersion | None
          ) -> tuple[rules_diff.RulesDiff | None, str | None]:
    """The version asked for (else the draft) against the one before it."""
    if not asked:
        return (rules_diff.version_diff(draft.version), None) if draft else (None, None)
    try:
        return rules_diff.version_diff(int(asked)), None
    except (AppError, ValueError) as exc:
        return None, str(exc) if isinstance(exc, AppError) else f"no rule set version {asked}"


@require_POST
@screen(Perm.MODERATION_RULES)
def draft_save(request: HttpRequest, actor: Actor) -> HttpResponse:
    code, _ticket = reason(request)
    text = request.POST.get("rules", "")
    return change(request, lambda: moderation.rule_set_draft_save(
        actor=actor, rules_json=text, reason_code=code), done="Draft saved",
        redirect_to=reverse("moderation:rules"))


@require_POST
@screen(Perm.MODERATION_RULES)
def publish(request: HttpRequest, actor: Actor, version: int) -> HttpResponse:
    code, _ticket = reason(request)
    return change(request, lambda: moderation.rule_set_publish(
        actor=actor, version=version, reason_code=code), done=f"Version {version} published",
        redirect_to=reverse("moderation:rules"))
