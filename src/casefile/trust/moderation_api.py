"""Moderation under /api/v1/moderation (docs/trust.md, "Moderation"): the platform's decision
call, an item's history, the moderator queue and review, rule set versions, hash lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.pagination import keyset_page
from casefile.core.schemas import Limit, ReasonCode, Schema
from casefile.trust import moderation
from casefile.trust.models import HashList, HashListEntry, ModerationItem, RuleSetVersion
from casefile.trust.rules_diff import version_diff

router = Router(tags=["moderation"])


class SignalIn(Schema):
    source: str = Field("", max_length=64)
    label: str = Field(min_length=1, max_length=64)
    score: float = Field(ge=0, le=1)
    model: str = Field("", max_length=64)


class ItemIn(Schema):
    kind: Literal["media", "message"]
    item_id: str = Field(min_length=1, max_length=200)
    subject_user_id: str = Field(min_length=1, max_length=40)
    signals: list[SignalIn] = Field(default_factory=list, max_length=100)
    sha256: str | None = Field(None, max_length=64)
    md5: str | None = Field(None, max_length=32)
    pdq: str | None = Field(None, max_length=64)
    reason_code: str | None = None  # staff only; the platform records the rules' reason


class DecisionOut(Schema):
    id: str
    kind: str
    item_id: str
    subject_user_id: str
    final_decision: str
    safe_mode_required: bool
    needs_review: bool
    low_confidence: bool
    rule_hits: list[dict[str, Any]]
    decided_by: str
    overrides: str | None
    reason_code: str | None
    rule_set_version: int | None
    audit_id: str
    created_at: datetime

    @staticmethod
    def of(r: ModerationItem) -> DecisionOut:
        return DecisionOut(
            id=r.id, kind=r.kind, item_id=r.item_id, subject_user_id=r.subject_user_id,
            final_decision=r.final_decision, safe_mode_required=r.safe_mode_required,
            needs_review=r.needs_review, low_confidence=r.low_confidence,
            rule_hits=r.rule_hits, decided_by=r.decided_by, overrides=r.overrides or None,
            reason_code=r.reason_code or None, rule_set_version=r.rule_set_version,
            audit_id=r.audit_id, created_at=r.created_at)


class ItemOut(DecisionOut):
    signals: list[dict[str, Any]]
    sha256: str | None
    md5: str | None
    pdq: str | None

    @staticmethod
    def of(r: ModerationItem) -> ItemOut:  # type: ignore[override]
        return ItemOut(**DecisionOut.of(r).model_dump(), signals=r.signals,
                       sha256=r.sha256 or None, md5=r.md5 or None, pdq=r.pdq or None)


class HistoryOut(Schema):
    latest: ItemOut
    history: list[ItemOut]  # oldest first


class QueuePageOut(Schema):
    items: list[ItemOut]
    next_cursor: str | None


class ReviewIn(Schema):
    decision: Literal["allow", "blur", "block", "remove"]
    safe_mode_required: bool | None = None
    reason_code: ReasonCode


class RuleSetOut(Schema):
    version: int
    status: str
    rules: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_by: str | None
    published_at: datetime | None
    retired_at: datetime | None

    @staticmethod
    def of(r: RuleSetVersion) -> RuleSetOut:
        return RuleSetOut(version=r.version, status=r.status, rules=r.rules,
                          created_by=r.created_by, created_at=r.created_at,
                          updated_at=r.updated_at, published_by=r.published_by or None,
                          published_at=r.published_at, retired_at=r.retired_at)


class RuleSetSummaryOut(Schema):
    version: int
    status: str
    rules: int
    updated_at: datetime
    published_at: datetime | None


class DraftIn(Schema):
    rules: dict[str, Any]
    reason_code: ReasonCode


class PublishIn(Schema):
    reason_code: ReasonCode


class HashListIn(Schema):
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["sha256", "md5", "pdq"]
    description: str = Field("", max_length=500)
    reason_code: ReasonCode


class HashListOut(Schema):
    name: str
    kind: str
    description: str
    version: int
    entries: int
    updated_at: datetime


class EntriesIn(Schema):
    values: list[str] = Field(min_length=1, max_length=10_000)
    note: str = Field("", max_length=200)
    reason_code: ReasonCode


class EntryOut(Schema):
    id: int
    value: str
    note: str
    added_by: str
    audit_id: str
    created_at: datetime

    @staticmethod
    def of(e: HashListEntry) -> EntryOut:
        return EntryOut(id=e.id, value=e.value, note=e.note, added_by=e.added_by,
                        audit_id=e.audit_id, created_at=e.created_at)


class EntryPageOut(Schema):
    items: list[EntryOut]
    next_cursor: str | None


def _list_out(h: HashList, count: int | None = None) -> HashListOut:
    return HashListOut(name=h.name, kind=h.kind, description=h.description, version=h.version,
                       entries=h.entries.count() if count is None else count,
                       updated_at=h.updated_at)


@router.post("/items", response={201: DecisionOut},
             summary="Decide an item by the published rules (the platform's upload path)")
def item_decide(request: HttpRequest, body: ItemIn):
    actor = require(request, Perm.MODERATION_DECIDE)
    data = body.model_dump()
    data["signals"] = [s.model_dump() for s in body.signals]
    row = moderation.moderation_decide(actor=actor, item_data=data,
                                       reason_code=data.pop("reason_code"))
    return Status(201, DecisionOut.of(row))


@router.get("/items/{mod_id}", response=HistoryOut,
            summary="An item's decisions, oldest first, and the one that stands")
def item_get(request: HttpRequest, mod_id: str):
    require(request, Perm.MODERATION_REVIEW)
    latest = moderation.latest(mod_id)
    return {"latest": ItemOut.of(latest),
            "history": [ItemOut.of(r) for r in moderation.history(latest)]}


@router.get("/queue", response=QueuePageOut,
            summary="Items whose latest decision needs a person, oldest first")
def queue(request: HttpRequest, cursor: str | None = None, limit: Limit = 50):
    require(request, Perm.MODERATION_REVIEW)
    page = keyset_page(moderation.review_queue(), keys=["created_at", "id"], cursor=cursor,
                       limit=limit, descending=False)
    return {"items": [ItemOut.of(r) for r in page.items], "next_cursor": page.next_cursor}


@router.post("/items/{mod_id}/review", response={201: DecisionOut},
             summary="A person's decision: overrides the rules' (a new row)")
def item_review(request: HttpRequest, mod_id: str, body: ReviewIn):
    actor = require(request, Perm.MODERATION_REVIEW)
    row = moderation.moderation_review(actor=actor, item=moderation.latest(mod_id),
                                       decision=body.decision, reason_code=body.reason_code,
                                       safe_mode_required=body.safe_mode_required)
    return Status(201, DecisionOut.of(row))


@router.get("/rules", response=list[RuleSetSummaryOut], summary="Rule set versions, newest first")
def rules_list(request: HttpRequest):
    require(request, Perm.MODERATION_REVIEW)
    return [RuleSetSummaryOut(version=r.version, status=r.status,
                              rules=len(r.rules.get("rules", [])), updated_at=r.updated_at,
                              published_at=r.published_at)
            for r in RuleSetVersion.objects.order_by("-version")[:200]]


@router.put("/rules/draft", response=RuleSetOut,
            summary="Save the draft (the next version when there is none); 422 names each "
                    "problem's path")
def rules_draft_save(request: HttpRequest, body: DraftIn):
    actor = require(request, Perm.MODERATION_RULES)
    return RuleSetOut.of(moderation.rule_set_draft_save(actor=actor, rules_json=body.rules,
                                                        reason_code=body.reason_code))


@router.get("/rules/{version}", response=RuleSetOut, summary="One rule set version")
def rules_get(request: HttpRequest, version: int):
    require(request, Perm.MODERATION_REVIEW)
    return RuleSetOut.of(moderation.rule_set_get(version))


@router.get("/rules/{version}/replay",
            summary="What the version would decide differently over the last N items")
def rules_replay(request: HttpRequest, version: int, last_n: int = 500) -> dict[str, Any]:
    require(request, Perm.MODERATION_RULES)
    return moderation.rule_set_replay(draft_version=version, last_n=last_n).to_dict()


@router.get("/rules/{version}/diff",
            summary="What the version changes against the one before it (the latest published "
                    "below it), rule by rule")
def rules_diff(request: HttpRequest, version: int) -> dict[str, Any]:
    require(request, Perm.MODERATION_REVIEW)
    return version_diff(version).to_dict()


@router.post("/rules/{version}/publish", response=RuleSetOut,
             summary="Publish a draft (frozen from then on; the previous version retired)")
def rules_publish(request: HttpRequest, version: int, body: PublishIn):
    actor = require(request, Perm.MODERATION_RULES)
    return RuleSetOut.of(moderation.rule_set_publish(actor=actor, version=version,
                                                     reason_code=body.reason_code))


@router.get("/hash-lists", response=list[HashListOut], summary="Hash lists")
def hash_lists(request: HttpRequest):
    require(request, Perm.MODERATION_RULES)
    from django.db.models import Count

    return [_list_out(h, h.n) for h in
            HashList.objects.annotate(n=Count("entries")).order_by("name")]


@router.post("/hash-lists", response={201: HashListOut}, summary="Create a hash list")
def hash_list_create(request: HttpRequest, body: HashListIn):
    actor = require(request, Perm.MODERATION_RULES)
    row = moderation.hash_list_create(actor=actor, name=body.name, kind=body.kind,
                                      description=body.description,
                                      reason_code=body.reason_code)
    return Status(201, _list_out(row, 0))


@router.get("/hash-lists/{name}/entries", response=EntryPageOut,
            summary="A hash list's entries, newest first")
def hash_list_entries(request: HttpRequest, name: str, cursor: str | None = None,
                      limit: Limit = 100):
    require(request, Perm.MODERATION_RULES)
    found = moderation.hash_list_get(name)
    page = keyset_page(found.entries.all(), keys=["id"], cursor=cursor, limit=limit)
    return {"items": [EntryOut.of(e) for e in page.items], "next_cursor": page.next_cursor}


@router.post("/hash-lists/{name}/entries", response={201: HashListOut},
             summary="Add hashes to a list")
def hash_list_add(request: HttpRequest, name: str, body: EntriesIn):
    actor = require(request, Perm.MODERATION_RULES)
    found = moderation.hash_list_get(name)
    moderation.hash_list_add(actor=actor, hash_list=found, values=body.values, note=body.note,
                             reason_code=body.reason_code)
    return Status(201, _list_out(moderation.hash_list_get(name)))


@router.delete("/hash-lists/{name}/entries/{value}", response=HashListOut,
               summary="Remove a hash from a list")
def hash_list_remove(request: HttpRequest, name: str, value: str, reason_code: ReasonCode):
    actor = require(request, Perm.MODERATION_RULES)
    moderation.hash_list_remove(actor=actor, hash_list=moderation.hash_list_get(name),
                                value=value, reason_code=reason_code)
    return _list_out(moderation.hash_list_get(name))
