"""Moderation decisions, reviews, rule set versions and hash lists (DESIGN 9.4, issue 12).

What decides is `trust.moderation_rules` (pure). This module stores its inputs and outputs:

- `moderation_decide`: the platform posts an item; the published rule set decides it against
  the item, the hash lists and the subject's trust profile; one `ModerationItem` row, one ledger
  entry (`MODERATION_DECIDED`, its id the row's `audit_id`) and, for blur/block/remove, one
  `content.enforce` outbox command — one transaction. The decision is also the HTTP response.
- `moderation_review`: a person decides; a new row that `overrides` the latest one.
- Rule sets: one draft edited at a time, replayed over recent items, published (frozen; the
  previous version retired). Hash lists: named, of one kind, each change audited.

The decision path is kept short: the published rule set is parsed once per version and the PDQ
lists once per list version (cached in-process: a published version never changes, and a list's
version grows with each change), exact hashes are looked up by index in one query, the profile
in one query.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Max, OuterRef, QuerySet
from django.utils.dateparse import parse_datetime

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.core import ids
from casefile.core.errors import Conflict, NotFound, ValidationFailed
from casefile.core.timeutil import now
from casefile.platform.models import OutboxCommand, PlatformUser
from casefile.trust import statements
from casefile.trust.models import (
    HashList,
    HashListEntry,
    ModerationItem,
    RuleSetVersion,
    TrustProfile,
)
from casefile.trust.moderation_rules import (
    DECISIONS,
    RANK,
    Decision,
    HashLists,
    Item,
    ReplayReport,
    RuleSet,
    evaluate,
    parse_rule_set,
    replay,
    strongest_scores,
)
from casefile.trust.pdq_index import PdqIndex

ENFORCE_COMMAND = "content.enforce"
RESTRICTIVE = frozenset({"blur", "block", "remove"})
RULES = "rules"  # `decided_by` when the rules decided
MAX_SIGNALS = 100
REPLAY_MAX = 5000
PROFILE_FIELDS = ("created_at", "idv_status", "bg_status", "risk_score", "is_18plus_attested",
                  "hold_type", "strikes_active_count", "strike_points_active",
                  "safe_mode_preference")
_HEX = {"sha256": re.compile(r"[0-9a-f]{64}"), "md5": re.compile(r"[0-9a-f]{32}"),
        "pdq": re.compile(r"[0-9a-f]{64}")}
_DIGITS = {"sha256": 64, "md5": 32, "pdq": 64}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _actor_id(actor: Actor) -> str:
    return actor.user.id if actor.user else "system"


def _reason(actor: Actor, reason_code: str | None) -> str | None:
    return None if actor.is_machine else actor.reason(reason_code)


# --- caches ------------------------------------------------------------------------------------

_lock = threading.Lock()
# Keyed with the moment the version was made, so that a database rebuilt under a running process
# (tests) cannot serve another database's version 1.
_rule_sets: dict[tuple[int, Any], RuleSet] = {}  # published/retired versions: immutable
_pdq: dict[tuple[str, int, Any], PdqIndex] = {}  # (list, version, at) → its hashes, indexed
_full: dict[tuple[str, int, Any], frozenset[str]] = {}  # (list, version, at) → values


def clear_caches() -> None:
    with _lock:
        _rule_sets.clear()
        _pdq.clear()
        _full.clear()


def _rule_set_of(row: RuleSetVersion) -> RuleSet:
    if row.status == "draft":  # drafts change: never cached
        return parse_rule_set(row.rules)
    key = (row.version, row.published_at)
    found = _rule_sets.get(key)
    if found is None:
        found = parse_rule_set(row.rules)
        with _lock:
            _rule_sets[key] = found
    return found


def published() -> RuleSet | None:
    """The published rule set: one small query for which version it is; its rules (a large
    JSON) are read and parsed only the first time a process meets that version."""
    head = (RuleSetVersion.objects.filter(status="published")
            .values_list("version", "published_at").first())
    return None if head is None else _rule_set_at(head)


def _rule_set_at(head: tuple[int, Any]) -> RuleSet | None:
    """The published version `head` (version, published_at as read), from the cache."""
    found = _rule_sets.get(head)
    if found is not None:
        return found
    row = RuleSetVersion.objects.filter(pk=head[0]).only(
        "version", "status", "rules", "published_at").first()
    if row is None:
        return None
    found = _rule_set_of(row)
    with _lock:  # also under the key as read: plain SQL reads SQLite's times as text
        _rule_sets[head] = found
    return found


# What a decision reads before it decides, in one round trip: which rule set version is
# published, and each hash list's version with whether the item's SHA-256 or MD5 is in it (an
# indexed probe per exact list). Plain SQL: through the ORM, building these queries cost more
# than the rest of the decision's reads together. There are few lists (named by people).
_HEAD_SQL = (  # names from the models only; the digests are parameters
    f"SELECT 'rules', NULL, NULL, version, published_at, FALSE, FALSE"  # noqa: S608
    f" FROM {RuleSetVersion._meta.db_table} WHERE status = 'published'"
    f" UNION ALL"
    f" SELECT 'list', l.name, l.kind, l.version, l.updated_at,"
    f" l.kind <> 'pdq' AND EXISTS (SELECT 1 FROM {HashListEntry._meta.db_table} e"
    f"  WHERE e.hash_list_id = l.name AND e.value = %s),"
    f" l.kind <> 'pdq' AND EXISTS (SELECT 1 FROM {HashListEntry._meta.db_table} e"
    f"  WHERE e.hash_list_id = l.name AND e.value = %s)"
    f" FROM {HashList._meta.db_table} l")


def _decision_inputs(sha256: str, md5: str) -> tuple[RuleSet | None, HashLists]:
    """The published rule set and the hash lists it names, for an item with these digests."""
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_SQL, [sha256, md5])
        rows = cursor.fetchall()
    head = next(((version, at) for tag, _, _, version, at, _, _ in rows if tag == "rules"), None)
    rules = None if head is None else _rule_set_at(head)
    if rules is None:
        return None, HashLists()
    return rules, _lists_for(rules, rows, sha256, md5)


def _pdq_values(name: str, version: int, at: Any) -> PdqIndex:
    key = (name, version, at)
    found = _pdq.get(key)
    if found is None:
        found = PdqIndex(int(v, 16) for v in HashListEntry.objects.filter(hash_list_id=name)
                         .values_list("value", flat=True))
        with _lock:
            for old in [k for k in _pdq if k[0] == name]:
                del _pdq[old]
            _pdq[key] = found
    return found


class _StoredLists(HashLists):
    """`moderation_rules.HashLists` over the stored lists: exact matches found beforehand by one
    indexed query (`exact`: list → the item's digests in it), PDQ lists from the cache."""

    def __init__(self, exact: Mapping[str, set[str]], pdq: Mapping[str, PdqIndex]):
        super().__init__()
        self._found = exact
        self._pdq = dict(pdq)

    def contains(self, name: str, digest: str | None) -> bool:
        return digest is not None and digest in self._found.get(name, ())

    def pdq_within(self, name: str, pdq: str | None, max_distance: int) -> bool:
        index = self._pdq.get(name)
        return pdq is not None and index is not None and index.any_within(int(pdq, 16),
                                                                          max_distance)


def _lists_for(rule_set: RuleSet, rows: Iterable[tuple[Any, ...]], sha256: str,
               md5: str) -> HashLists:
    """The named lists from `_HEAD_SQL`'s rows: exact matches as found there, PDQ lists from
    the cache (rebuilt when a list's version moves)."""
    names = rule_set.referenced_lists()
    exact: dict[str, set[str]] = {}
    pdq: dict[str, PdqIndex] = {}
    for tag, name, kind, version, at, has_sha256, has_md5 in rows:
        if tag != "list" or name not in names:
            continue
        if kind == "pdq":
            pdq[name] = _pdq_values(name, version, at)
        else:
            found = exact[name] = set()
            if has_sha256:
                found.add(sha256)
            if has_md5:
                found.add(md5)
    return _StoredLists(exact, pdq)


def _full_lists(names: set[str]) -> HashLists:
    """Every hash of the named lists (replay decides many items), cached per list version."""
    out: dict[str, frozenset[str]] = {}
    for name, version, at in HashList.objects.filter(name__in=names).values_list(
            "name", "version", "updated_at"):
        key = (name, version, at)
        if key not in _full:
            values = frozenset(HashListEntry.objects.filter(hash_list_id=name)
                               .values_list("value", flat=True))
            with _lock:
                for old in [k for k in _full if k[0] == name]:
                    del _full[old]
                _full[key] = values
        out[name] = _full[key]
    return HashLists(out)


# --- items ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemIn:
    """What the platform sends, checked."""

    kind: str
    item_id: str
    subject_user_id: str
    signals: list[dict[str, Any]]
    sha256: str
    md5: str
    pdq: str


def _checked(data: Mapping[str, Any]) -> ItemIn:
    kind = data.get("kind")
    if kind not in ("media", "message"):
        raise ValidationFailed("kind must be media or message")
    item_id = str(data.get("item_id") or "").strip()
    if not item_id or len(item_id) > 200 or "\x00" in item_id:
        raise ValidationFailed("item_id: 1 to 200 characters")
    user_id = str(data.get("subject_user_id") or "").strip()
    if not user_id:
        raise ValidationFailed("subject_user_id is required")
    raw = data.get("signals") or []
    if not isinstance(raw, list) or len(raw) > MAX_SIGNALS:
        raise ValidationFailed(f"signals: a list of at most {MAX_SIGNALS}")
    signals = []
    for index, s in enumerate(raw):
        s = dict(s) if isinstance(s, Mapping) else {}
        label, score = s.get("label"), s.get("score")
        if (not isinstance(label, str) or not label or len(label) > 64
                or isinstance(score, bool) or not isinstance(score, int | float)
                or not 0 <= score <= 1):
            raise ValidationFailed(f"signals[{index}]: a label and a score from 0 to 1")
        signals.append({"source": str(s.get("source") or "")[:64], "label": label,
                        "score": float(score), "model": str(s.get("model") or "")[:64]})
    hashes = {}
    for name, pattern in _HEX.items():
        value = str(data.get(name) or "").strip().lower()
        if value and not pattern.fullmatch(value):
            raise ValidationFailed(f"{name} must be {_DIGITS[name]} hex digits")
        hashes[name] = value
    if hashes["pdq"] and kind != "media":
        raise ValidationFailed("a PDQ hash is for images (media)")
    return ItemIn(kind, item_id, user_id, signals, **hashes)


_PROFILE_SQL = (  # names from the models only
    f"SELECT p.user_id, {', '.join(f'p.{name}' for name in PROFILE_FIELDS)}"  # noqa: S608
    f" FROM {PlatformUser._meta.db_table} u"
    f" LEFT JOIN {TrustProfile._meta.db_table} p ON p.user_id = u.id WHERE u.id = %s")


def _profile_fields(user_id: str) -> dict[str, Any]:
    """The profile's fields the rules may read, in one query of just those columns (plain SQL:
    the ORM's join of two whole rows cost several times the query). 404 for an unknown user;
    a user without a profile yet reads as `selectors.profile_read` reads them (the defaults;
    its eligibility flags are not among these fields)."""
    with connection.cursor() as cursor:
        cursor.execute(_PROFILE_SQL, [user_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"no platform user {user_id}")
    if row[0] is None:  # as `selectors.profile_read` reads it: the defaults, made now
        moment = now()
        profile = TrustProfile(user_id=user_id, created_at=moment, updated_at=moment)
        return {name: getattr(profile, name) for name in PROFILE_FIELDS}
    fields = dict(zip(PROFILE_FIELDS, row[1:], strict=True))
    fields["created_at"] = _aware(fields["created_at"])
    fields["is_18plus_attested"] = bool(fields["is_18plus_attested"])
    return fields


def _aware(value: Any) -> datetime | None:
    # PostgreSQL gives an aware datetime; SQLite gives the text Django wrote, in UTC.
    if isinstance(value, str):
        value = parse_datetime(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _tell_platform(row: ModerationItem) -> OutboxCommand:
    moment = now()
    payload = {"moderation_id": row.id, "kind": row.kind, "item_id": row.item_id,
               "subject_user_id": row.subject_user_id, "decision": row.final_decision,
               "safe_mode_required": row.safe_mode_required, "decided_by": row.decided_by,
               "audit_entry_id": row.audit_id}
    return OutboxCommand.objects.create(type=ENFORCE_COMMAND, payload=payload,
                                        audit_entry_id=row.audit_id, created_at=moment,
                                        next_attempt_at=moment)


RULES_ACTOR_VIA = "moderation-rules"


def _struck_before(row: ModerationItem) -> set[str]:
    """Policies an earlier decision of the same item already struck under: the platform
    posting an item again re-decides it, but does not strike its user twice for it."""
    earlier = ModerationItem.objects.filter(kind=row.kind, item_id=row.item_id).exclude(
        pk=row.pk).values_list("rule_hits", flat=True)
    return {h.get("policy") for hits in earlier for h in hits if h.get("strike")}


def _consequences(row: ModerationItem, decision: Decision) -> None:
    """What the hits ask for besides the decision, done by the rules themselves (Casefile
    acting, not the platform that asked) in the decision's transaction: a strike per policy,
    and a report case per policy — asked for by a rule, or needed because a rule's strike
    reached the suspension step, which only people may ask for (four-eyes)."""
    if not decision.strikes and not decision.reports:
        return
    from casefile.trust.reports import report_file  # both build on moderation
    from casefile.trust.strikes import strike_issue
    from casefile.trust.strikes_policy import SUSPENSION

    rules_actor = Actor.system(RULES_ACTOR_VIA, moderation_id=row.id)
    reports = list(decision.reports)
    done = _struck_before(row) if decision.strikes else set()
    for policy in decision.strikes:
        if policy in done:
            continue
        reasons = "; ".join(h.reason for h in decision.hits if h.strike and h.policy == policy)
        strike = strike_issue(actor=rules_actor, user_id=row.subject_user_id, policy=policy,
                              reason=f"{row.id}: {reasons}"[:500])
        if SUSPENSION in strike.actions_applied and policy not in reports:
            reports.append(policy)
    for policy in reports:
        reasons = "; ".join(h.reason for h in decision.hits if h.policy == policy)
        # One report per item and policy: the item decided again repeats it, changing nothing.
        report_file(actor=rules_actor, platform_report_id=f"{row.kind}:{row.item_id}:{policy}",
                    accused_user_id=row.subject_user_id, category=policy,
                    text=f"Opened by the moderation rules (v{row.rule_set_version}): {reasons}",
                    linked_items=[{"kind": "moderation", "id": row.id}])


def _record(actor: Actor, row: ModerationItem, action: str, reason_code: str | None,
            metadata: dict[str, Any] | None = None) -> ModerationItem:
    entry = ledger.record(actor=actor, action=action, resource=f"moderation:{row.id}",
                          reason_code=reason_code, after=_summary(row),
                          target_user_id=row.subject_user_id, metadata=metadata)
    row.audit_id = entry.id
    row.save(force_insert=True)
    return row


def _summary(row: ModerationItem) -> dict[str, Any]:
    state = snapshot(row)
    state.pop("audit_id", None)  # the entry's own id: set from it
    return state


def moderation_decide(*, actor: Actor, item_data: Mapping[str, Any],
                      reason_code: str | None = None) -> ModerationItem:
    """Decide an item by the published rules (no published set: allow). Adds a row every time:
    posting the same item again re-decides it."""
    actor.require(Perm.MODERATION_DECIDE)
    reason_code = _reason(actor, reason_code)
    item = _checked(item_data)
    profile = _profile_fields(item.subject_user_id)
    moment = now()
    rules, lists = _decision_inputs(item.sha256, item.md5)
    scores = strongest_scores(item.signals)
    pure = Item(id=item.item_id, kind=item.kind, signals=scores,  # type: ignore[arg-type]
                sha256=item.sha256 or None, md5=item.md5 or None, pdq=item.pdq or None,
                profile=profile, at=moment)
    if rules is None:
        decision = evaluate(RuleSet(version=1), pure)
        version = None
    else:
        decision = evaluate(rules, pure, lists)
        version = rules.version
    row = ModerationItem(
        id=ids.new_mod_id(), kind=item.kind, item_id=item.item_id,
        subject_user_id=item.subject_user_id, signals=item.signals, sha256=item.sha256,
        md5=item.md5, pdq=item.pdq, rule_hits=[h.to_dict() for h in decision.hits],
        final_decision=decision.decision, safe_mode_required=decision.safe_mode_required,
        needs_review=decision.needs_review, low_confidence=decision.low_confidence,
        decided_by=RULES, reason_code="", rule_set_version=version, created_at=moment)
    with transaction.atomic():
        _record(actor, row, "MODERATION_DECIDED", reason_code,
                metadata={"rule_set_version": version,
                          "rules_hit": [h.rule_id for h in decision.hits]})
        if row.final_decision in RESTRICTIVE:
            _tell_platform(row)
            statements.moderation_statement_record(row)  # DSA Art. 17, same transaction
        _consequences(row, decision)
    return row


def latest(row_or_id: ModerationItem | str) -> ModerationItem:
    """The newest row of the item `row_or_id` is about."""
    row = (ModerationItem.objects.filter(pk=row_or_id).first()
           if isinstance(row_or_id, str) else row_or_id)
    if row is None:
        raise NotFound(f"no moderation item {row_or_id}")
    return (ModerationItem.objects.filter(kind=row.kind, item_id=row.item_id)
            .order_by("-created_at", "-id").first()) or row


def history(row: ModerationItem) -> QuerySet[ModerationItem]:
    return ModerationItem.objects.filter(kind=row.kind, item_id=row.item_id).order_by(
        "created_at", "id")


def moderation_review(*, actor: Actor, item: ModerationItem, decision: str,
                      reason_code: str | None, safe_mode_required: bool | None = None
                      ) -> ModerationItem:
    """A person decides the item: a new row (`decided_by` their id, `overrides` the latest
    row), audited; the platform is told when the decision or safe mode changed."""
    actor.require(Perm.MODERATION_REVIEW)
    if actor.is_machine:
        raise ValidationFailed("a review is a person's decision")
    reason_code = actor.reason(reason_code)
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision must be one of {', '.join(DECISIONS)}")
    with transaction.atomic():
        previous = latest(item.id)  # the newest word on the item is the one overridden
        safe = previous.safe_mode_required if safe_mode_required is None else safe_mode_required
        row = ModerationItem(
            id=ids.new_mod_id(), kind=previous.kind, item_id=previous.item_id,
            subject_user_id=previous.subject_user_id, signals=previous.signals,
            sha256=previous.sha256, md5=previous.md5, pdq=previous.pdq,
            rule_hits=previous.rule_hits, final_decision=decision, safe_mode_required=safe,
            needs_review=False, low_confidence=False, decided_by=_actor_id(actor),
            reason_code=reason_code or "", overrides=previous.id,
            rule_set_version=previous.rule_set_version, created_at=now())
        _record(actor, row, "MODERATION_REVIEWED", reason_code,
                metadata={"overrides": previous.id, "from": previous.final_decision,
                          "to": decision, "rules_said": _rules_said(previous)})
        if (previous.final_decision, previous.safe_mode_required) != (decision, safe):
            _tell_platform(row)
            statements.moderation_statement_record(row)  # none for allow
    return row


def _rules_said(row: ModerationItem) -> str:
    hits = [h["decision"] for h in row.rule_hits]
    return max(hits, key=RANK.__getitem__) if hits else "allow"


def review_queue() -> QuerySet[ModerationItem]:
    """Items whose latest row needs a person: oldest first (keyset on created_at, id)."""
    newer = ModerationItem.objects.filter(kind=OuterRef("kind"), item_id=OuterRef("item_id"),
                                          created_at__gt=OuterRef("created_at"))
    return (ModerationItem.objects.filter(needs_review=True).select_related("subject_user")
            .exclude(Exists(newer)))


# --- rule sets -----------------------------------------------------------------------------------


def rule_set_get(version: int) -> RuleSetVersion:
    found = RuleSetVersion.objects.filter(pk=version).first()
    if found is None:
        raise NotFound(f"no rule set version {version}")
    return found


def _ruleset_resource(version: int) -> str:
    return f"ruleset:v{version}"


def rule_set_draft_save(*, actor: Actor, rules_json: str | bytes | Mapping[str, Any],
                        reason_code: str | None) -> RuleSetVersion:
    """Save the draft (creating it as the next version when there is none). The JSON is checked
    with `parse_rule_set` (422 with each problem's path); its `version` is set to the draft's."""
    actor.require(Perm.MODERATION_RULES)
    reason_code = _reason(actor, reason_code)
    if isinstance(rules_json, str | bytes):
        import json

        try:
            rules_json = json.loads(rules_json)
        except ValueError as exc:
            raise ValidationFailed(f"not JSON: {exc}") from None
    if not isinstance(rules_json, Mapping):
        raise ValidationFailed("a rule set is a JSON object")
    with transaction.atomic():
        draft = RuleSetVersion.objects.select_for_update().filter(status="draft").first()
        version = draft.version if draft else (
            (RuleSetVersion.objects.aggregate(v=Max("version"))["v"] or 0) + 1)
        parsed = parse_rule_set({**rules_json, "version": version})
        rules = parsed.to_json()
        moment = now()
        before = snapshot(draft) if draft else None
        if draft is None:
            draft = RuleSetVersion(version=version, rules=rules, status="draft",
                                   created_by=_actor_id(actor), created_at=moment,
                                   updated_at=moment)
            try:
                with transaction.atomic():
                    draft.save(force_insert=True)
            except IntegrityError:
                raise Conflict("another draft was started meanwhile: reload it") from None
        else:
            if draft.rules == rules:
                raise Conflict("the draft already says that")
            draft.rules, draft.updated_at = rules, moment
            draft.save()
        ledger.record(actor=actor, action="MODERATION_RULES_DRAFT_SAVED",
                      resource=_ruleset_resource(version), reason_code=reason_code,
                      before=before, after=snapshot(draft),
                      metadata={"rules": len(parsed.rules)})
    return draft


def rule_set_replay(*, draft_version: int, last_n: int = 500) -> ReplayReport:
    """A read: how the draft would have decided the last N decided items (rows the rules
    decided), beside the published version's decision, with the profile as it is now."""
    if not 1 <= last_n <= REPLAY_MAX:
        raise ValidationFailed(f"last_n must be from 1 to {REPLAY_MAX}")
    row = rule_set_get(draft_version)
    draft = _rule_set_of(row)
    current = published()
    rows = list(ModerationItem.objects.filter(decided_by=RULES)
                .order_by("-created_at", "-id")[:last_n])
    from casefile.trust.models import TrustProfile

    profiles = {p["user_id"]: p for p in TrustProfile.objects.filter(
        user_id__in={r.subject_user_id for r in rows}).values("user_id", *PROFILE_FIELDS)}
    names = draft.referenced_lists() | (current.referenced_lists() if current else set())
    lists = _full_lists(names)
    items = [Item(id=r.id, kind=r.kind,  # type: ignore[arg-type]
                  signals=strongest_scores(r.signals), sha256=r.sha256 or None,
                  md5=r.md5 or None, pdq=r.pdq or None,
                  profile=profiles.get(r.subject_user_id, {}), at=r.created_at)
             for r in reversed(rows)]
    return replay(draft, current, items, lists)


def rule_set_publish(*, actor: Actor, version: int, reason_code: str | None) -> RuleSetVersion:
    """Publish the draft `version` (frozen from now on) and retire the published one. Every
    hash list the rules name must exist."""
    actor.require(Perm.MODERATION_RULES)
    reason_code = _reason(actor, reason_code)
    with transaction.atomic():
        row = RuleSetVersion.objects.select_for_update().filter(pk=version).first()
        if row is None:
            raise NotFound(f"no rule set version {version}")
        if row.status != "draft":
            raise Conflict(f"rule set v{version} is {row.status}: published versions are "
                           "immutable; save a new draft")
        parsed = parse_rule_set(row.rules)
        missing = sorted(parsed.referenced_lists() - set(
            HashList.objects.filter(name__in=parsed.referenced_lists())
            .values_list("name", flat=True)))
        if missing:
            raise ValidationFailed(f"no hash list {', '.join(missing)}",
                                   details={"missing": missing})
        moment = now()
        old = RuleSetVersion.objects.select_for_update().filter(status="published").first()
        if old is not None:
            old.status, old.retired_at = "retired", moment
            old.save(update_fields=["status", "retired_at"])
        before = snapshot(row)
        row.status, row.published_by, row.published_at = "published", _actor_id(actor), moment
        row.save(update_fields=["status", "published_by", "published_at"])
        ledger.record(actor=actor, action="MODERATION_RULES_PUBLISHED",
                      resource=_ruleset_resource(version), reason_code=reason_code,
                      before=before, after=snapshot(row),
                      metadata={"retired": old.version if old else None})
    return row


# --- hash lists ----------------------------------------------------------------------------------


def hash_list_get(name: str) -> HashList:
    found = HashList.objects.filter(pk=name).first()
    if found is None:
        raise NotFound(f"no hash list {name}")
    return found


def hash_list_create(*, actor: Actor, name: str, kind: str, description: str = "",
                     reason_code: str | None) -> HashList:
    actor.require(Perm.MODERATION_RULES)
    reason_code = _reason(actor, reason_code)
    if not _NAME.fullmatch(name or ""):
        raise ValidationFailed("a list name: letters, digits, _ . : -, at most 64")
    if kind not in _HEX:
        raise ValidationFailed("kind must be sha256, md5 or pdq")
    moment = now()
    with transaction.atomic():
        if HashList.objects.filter(pk=name).exists():
            raise Conflict(f"hash list {name} exists")
        row = HashList.objects.create(name=name, kind=kind, description=description[:500],
                                      created_at=moment, updated_at=moment)
        ledger.record(actor=actor, action="HASH_LIST_CREATED", resource=f"hashlist:{name}",
                      reason_code=reason_code, after=snapshot(row))
    return row


def hash_list_add(*, actor: Actor, hash_list: HashList, values: list[str], note: str = "",
                  reason_code: str | None) -> list[HashListEntry]:
    """Add hashes (one audit entry for the batch, listing them). Already present: 409."""
    actor.require(Perm.MODERATION_RULES)
    reason_code = _reason(actor, reason_code)
    clean = list(dict.fromkeys(str(v).strip().lower() for v in values or []))
    if not clean or len(clean) > 10_000:
        raise ValidationFailed("give 1 to 10,000 hashes")
    bad = [v for v in clean if not _HEX[hash_list.kind].fullmatch(v)]
    if bad:
        raise ValidationFailed(f"not {hash_list.kind} hashes: {', '.join(bad[:5])}",
                               details={"invalid": bad[:100]})
    with transaction.atomic():
        locked = HashList.objects.select_for_update().get(pk=hash_list.pk)
        present = set(HashListEntry.objects.filter(hash_list=locked, value__in=clean)
                      .values_list("value", flat=True))
        if present:
            raise Conflict(f"already in {locked.name}: {', '.join(sorted(present)[:5])}",
                           details={"present": sorted(present)[:100]})
        moment = now()
        entry = ledger.record(actor=actor, action="HASH_LIST_ENTRY_ADDED",
                              resource=f"hashlist:{locked.name}", reason_code=reason_code,
                              metadata={"values": clean[:1000], "count": len(clean),
                                        "version": locked.version + 1})
        rows = HashListEntry.objects.bulk_create([
            HashListEntry(hash_list=locked, value=v, note=note[:200], added_by=_actor_id(actor),
                          audit_id=entry.id, created_at=moment) for v in clean])
        HashList.objects.filter(pk=locked.pk).update(version=F("version") + 1,
                                                     updated_at=moment)
    return rows


def hash_list_remove(*, actor: Actor, hash_list: HashList, value: str,
                     reason_code: str | None) -> None:
    actor.require(Perm.MODERATION_RULES)
    reason_code = _reason(actor, reason_code)
    value = (value or "").strip().lower()
    with transaction.atomic():
        locked = HashList.objects.select_for_update().get(pk=hash_list.pk)
        found = HashListEntry.objects.filter(hash_list=locked, value=value).first()
        if found is None:
            raise NotFound(f"{value} is not in {locked.name}")
        ledger.record(actor=actor, action="HASH_LIST_ENTRY_REMOVED",
                      resource=f"hashlist:{locked.name}", reason_code=reason_code,
                      before=snapshot(found), metadata={"version": locked.version + 1})
        found.delete()
        HashList.objects.filter(pk=locked.pk).update(version=F("version") + 1,
                                                     updated_at=now())
