"""EU DSA Art. 17 statements of reasons (DESIGN 9.4 and 10; issue 12 item 6): one per
restrictive moderation decision, ladder restriction and account suspension, written in that
decision's transaction, and delivered to the Transparency Database (TDB) after commit.

- Builders turn what Casefile decided into a statement in the TDB API's shape (`trust.dsa`):
  `moderation_statement`, `restriction_statement`, `suspension_statement`. Each one's output
  is validated by `dsa.validate_statement`; a refusal there is a bug in the builder (the tests
  validate every builder's output), so it is logged and kept as a `refused` row — it never
  stops the enforcement it describes.
- `statement_record` writes the `StatementRecord` row (`trust_statement`); the `*_record`
  helpers are the one-line calls the moderation, strike and platform-operation services make.
- The rows are themselves the outbox (written with the decision, delivered after commit):
  `statements_submit`, the worker's job every minute, leases due rows, sends them in batches of
  at most 100 with `dsa.submit_batch` and records each outcome — retries with the platform
  outbox's backoff, dead after `DSA_MAX_ATTEMPTS`, refused rows kept with the TDB's errors.

What the TDB publishes is public: statements carry policy names, rule reasons (written by
staff for a rule, never about one user), reason codes, counts and dates — never a name, an
e-mail, a free-text note about a user or a staff member's identity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.core import ids
from casefile.core.errors import Conflict, NotFound, ValidationFailed
from casefile.core.timeutil import now as _now
from casefile.trust import dsa, strikes_policy
from casefile.trust.models import (
    ModerationItem,
    RestrictionChange,
    SafetyReport,
    StatementRecord,
    Strike,
)

logger = logging.getLogger("casefile.trust.statements")

RESTRICTIVE = frozenset({"blur", "block", "remove"})  # as trust.moderation.RESTRICTIVE
RULES = "rules"  # `ModerationItem.decided_by` when the rules decided
OTHER_CATEGORY = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
FIRST_CONTENT_DATE = date(2000, 1, 1)  # the TDB's lower bound for content_date
LEASE_MARGIN = timedelta(seconds=30)


# --- helpers for the builders ------------------------------------------------------------------


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _content_day(moment: datetime, applied: date) -> date:
    return min(max(_day(moment), FIRST_CONTENT_DATE), applied)


def _category(policy: str | None) -> str:
    kind = strikes_policy.policy_named(policy) if policy else None
    return kind.dsa_category if kind else OTHER_CATEGORY


def _ground(policies: list[str], explanation: str) -> dict[str, Any]:
    """Every statement rests on the platform's terms (the policies are its content rules): the
    TDB's incompatible-content ground, naming the policies broken, and why."""
    named = ", ".join(f"the {p.replace('_', ' ')} policy" for p in policies)
    return {"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": (f"Terms of service: {named}" if named
                                            else "Terms of service: content rules")[:500],
            "incompatible_content_explanation": explanation[:2000]}


def _categories(policies: list[str]) -> dict[str, Any]:
    found = list(dict.fromkeys(_category(p) for p in policies)) or [OTHER_CATEGORY]
    out: dict[str, Any] = {"category": found[0]}
    if found[1:]:
        out["category_addition"] = found[1:]
    return out


def _scope() -> dict[str, Any]:
    scope = list(settings.DSA_TERRITORIAL_SCOPE)
    return {"territorial_scope": scope} if scope else {}


def _source(case_id: str | None) -> str:
    """A decision taken on a user's report is a notice's consequence; anything else Casefile
    or its staff found on their own initiative. Reports are not checked against Art. 16's
    form, so they count as "other notification", not as Art. 16 notices; the notifier's
    identity is never sent (`source_identity` left out)."""
    if case_id:
        from casefile.cases.models import Case  # trust reads cases; cases never import trust

        if Case.objects.filter(pk=case_id, kind="report").exists():
            return "SOURCE_TYPE_OTHER_NOTIFICATION"
    return "SOURCE_VOLUNTARY"


def _report_policy(case_id: str | None) -> str | None:
    """The allegation category (a content policy) of the safety report behind `case_id`."""
    if not case_id:
        return None
    return (SafetyReport.objects.filter(case_id=case_id)
            .values_list("category", flat=True).first())


def _puid(source_kind: str, source_id: str) -> str:
    """Deterministic from what the statement is about: the same decision can never be
    published twice under two identifiers (the TDB refuses a puid it holds)."""
    return f"casefile-{source_kind}-{source_id}"


# --- (a) moderation decisions ------------------------------------------------------------------

# A blur hides the item behind a warning: when safe mode is required it stays hidden from
# everyone in safe mode — on by default, and turned off only by adults (the NSFW toggle needs
# an 18+ attestation) — which is the TDB's "age restricted content"; without safe mode anyone
# may click through, which is "labelled content". A block keeps the item but nobody can reach
# it ("disabling access"); a removal deletes it.
def _visibility(decision: str, safe_mode_required: bool) -> str:
    if decision == "blur":
        return ("DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED" if safe_mode_required
                else "DECISION_VISIBILITY_CONTENT_LABELLED")
    return {"block": "DECISION_VISIBILITY_CONTENT_DISABLED",
            "remove": "DECISION_VISIBILITY_CONTENT_REMOVED"}[decision]


# The platform's media are its users' photos (portfolios, listings; PDQ hashes are for
# images): IMAGE. ModerationItem does not say image or video, so a video would be reported as
# an image too — the platform would have to send the media type for that to change.
CONTENT_TYPES = {"media": "CONTENT_TYPE_IMAGE", "message": "CONTENT_TYPE_TEXT"}


def _hit_policies(row: ModerationItem) -> list[str]:
    """The policies the hits name, those deciding what was applied first."""
    hits = [h for h in row.rule_hits if h.get("policy")]
    deciding = [h["policy"] for h in hits if h.get("decision") == row.final_decision]
    return list(dict.fromkeys([*deciding, *(h["policy"] for h in hits)]))


def _hits_text(row: ModerationItem) -> str:
    return "; ".join(f"rule {h.get('rule_id')} ({h.get('decision')}): {h.get('reason')}"
                     for h in row.rule_hits)


def moderation_statement(row: ModerationItem, *, content_created: datetime | None = None
                         ) -> dict[str, Any]:
    """The statement of a restrictive moderation row: by the rules (fully automated) or by a
    moderator's review (not automated; the detection was automated when signals or rules
    flagged the item). `content_created`: when the item was first seen (its first row)."""
    if row.final_decision not in RESTRICTIVE:
        raise ValueError(f"{row.final_decision} restricts nothing: no statement")
    applied = _day(row.created_at)
    by_rules = row.decided_by == RULES
    hits = _hits_text(row)
    shown = {"blur": "blurred" + (" and hidden in safe mode" if row.safe_mode_required else ""),
             "block": "blocked", "remove": "removed"}[row.final_decision]
    if by_rules:
        version = f" (version {row.rule_set_version})" if row.rule_set_version else ""
        facts = (f"The {row.kind} was {shown} automatically by the platform's published "
                 f"moderation rules{version}, evaluated on automated classifier signals and "
                 f"hash-list matches at upload. Rules matched: {hits or 'none'}.")
        explanation = (f"The moderation rules found the {row.kind} incompatible with the "
                       f"terms of service: {hits}" if hits else
                       f"The moderation rules found the {row.kind} incompatible with the "
                       "terms of service.")
    else:
        facts = (f"A moderator reviewed the {row.kind} and decided it be {shown}"
                 f"{f' (reason code {row.reason_code})' if row.reason_code else ''}, "
                 "overriding the automated decision."
                 + (f" The moderation rules had matched: {hits}." if hits else ""))
        explanation = (f"A moderator found the {row.kind} incompatible with the terms of "
                       "service" + (f"; the rules had matched: {hits}" if hits else "") + ".")
    policies = _hit_policies(row)
    detected = by_rules or bool(row.rule_hits or row.signals)
    return {
        "decision_visibility": [_visibility(row.final_decision, row.safe_mode_required)],
        **_ground(policies, explanation),
        "content_type": [CONTENT_TYPES[row.kind]],
        "content_date": _content_day(content_created or row.created_at, applied).isoformat(),
        **_categories(policies),
        **_scope(),
        "application_date": applied.isoformat(),
        "decision_facts": facts[:5000],
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes" if detected else "No",
        "automated_decision": ("AUTOMATED_DECISION_FULLY" if by_rules
                               else "AUTOMATED_DECISION_NOT_AUTOMATED"),
        "puid": _puid("moderation", row.id),
    }


# --- (b) ladder restrictions -------------------------------------------------------------------

# What each of the ladder's restrictions is in the TDB's terms, and what it restricts:
# - listing_hide: the user's listings leave search and discovery but stay online and reachable
#   by link — neither removed nor disabled, but shown less: "demotion" of those items;
# - pauses: bookings and new conversations are paused while everything else keeps working — a
#   part of the service suspended for the account ("partial suspension of the provision");
# - contact_block: the user can no longer contact other users — again one part of the service
#   withheld, the account and its content untouched (partial suspension).
# None has an end date: each holds until the user's strikes decay below its threshold (or an
# appeal reverses one), which new strikes may postpone; the lift is its own record.
RESTRICTION_DECISIONS: dict[str, dict[str, Any]] = {
    "listing_hide": {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_DEMOTED"]},
    "pauses": {"decision_provision": "DECISION_PROVISION_PARTIAL_SUSPENSION"},
    "contact_block": {"decision_provision": "DECISION_PROVISION_PARTIAL_SUSPENSION"},
}
RESTRICTION_WORDS = {
    "listing_hide": "the account's listings were removed from search and discovery",
    "pauses": "new bookings and new conversations with the account were paused",
    "contact_block": "the account may no longer contact other users",
}
# The TDB has no "account" or "listing" content type (its list: app, audio, image, product,
# synthetic media, text, video): OTHER, said in words.
RESTRICTION_CONTENT = {"listing_hide": "Listings (the account's offers of services)",
                       "pauses": "User account", "contact_block": "User account"}
_THRESHOLDS = {action: points for points, action in strikes_policy.LADDER}


def restriction_statement(change: RestrictionChange, *, strike: Strike | None,
                          automated: bool, user_created: datetime) -> dict[str, Any]:
    """The statement of one ladder restriction applied. `automated`: the strike behind it was
    issued by Casefile itself (a moderation rule) rather than by a person."""
    if not change.applied or change.action not in RESTRICTION_DECISIONS:
        raise ValueError(f"{change.action} ({'applied' if change.applied else 'lifted'}) "
                         "is not a ladder restriction applied")
    applied = _day(change.at)
    kind = strikes_policy.policy_named(strike.policy) if strike else None
    policies = [kind.name] if kind else []
    why = (f"a strike under the zero-tolerance {kind.name.replace('_', ' ')} policy applies "
           "every step of the ladder at once" if kind and kind.zero_tolerance else
           f"the account's active strike points ({change.points_active}) reached the "
           f"enforcement ladder's threshold of {_THRESHOLDS[change.action]}")
    strike_text = ""
    if strike is not None:
        by = "automatically by the moderation rules" if automated else "by a moderator"
        strike_text = (f" The strike that reached it: {strike.policy.replace('_', ' ')} "
                       f"policy, {strike.points} point{'s' if strike.points != 1 else ''}, "
                       f"issued {by}"
                       + (f" (reason code {strike.reason_code})" if strike.reason_code else "")
                       + ".")
    facts = (f"Under the platform's strike policy {RESTRICTION_WORDS[change.action]}, "
             f"because {why}.{strike_text}")
    explanation = (f"Strikes record violations of the terms of service; {why}, which "
                   f"brings this restriction.")
    return {
        **RESTRICTION_DECISIONS[change.action],
        **_ground(policies, explanation),
        "content_type": ["CONTENT_TYPE_OTHER"],
        "content_type_other": RESTRICTION_CONTENT[change.action],
        "content_date": _content_day(user_created, applied).isoformat(),
        **_categories(policies),
        **_scope(),
        "application_date": applied.isoformat(),
        "decision_facts": facts[:5000],
        "source_type": _source(strike.case_id if strike else None),
        "automated_detection": "Yes" if automated else "No",
        # The ladder is arithmetic on strikes: a person's strike makes the restriction partly
        # automated; a strike the rules issued, fully.
        "automated_decision": ("AUTOMATED_DECISION_FULLY" if automated
                               else "AUTOMATED_DECISION_PARTIALLY"),
        "puid": _puid("restriction", str(change.pk)),
    }


# --- (c) account suspensions -------------------------------------------------------------------


def suspension_statement(*, entry_id: str, at: datetime, until: datetime | None,
                         user_created: datetime, strike: Strike | None, case_id: str | None,
                         reason_code: str | None, approved: bool, automated: bool
                         ) -> dict[str, Any]:
    """The statement of a suspension applied (`platform.user_suspend`). Casefile has no
    separate ban: a suspension without an end date is how a ban is applied (a report's `ban`
    outcome), so it is reported as the account's termination; one with an end date is a
    suspension until then."""
    applied = _day(at)
    policy = strike.policy if strike else _report_policy(case_id)
    policies = [policy] if policy and strikes_policy.policy_named(policy) else []
    if until is not None:
        decision: dict[str, Any] = {
            "decision_account": "DECISION_ACCOUNT_SUSPENDED",
            "end_date_account_restriction": max(_day(until), applied).isoformat()}
        what = f"The account was suspended until {max(_day(until), applied).isoformat()}"
    else:
        decision = {"decision_account": "DECISION_ACCOUNT_TERMINATED"}
        what = "The account was suspended without an end date"
    if strike is not None:
        why = (f"its active strikes reached the top of the enforcement ladder (the last under "
               f"the {strike.policy.replace('_', ' ')} policy)")
    elif policies:
        why = f"a user's report under the {policies[0].replace('_', ' ')} policy was upheld"
    else:
        why = "staff found a violation of the terms of service"
    facts = (f"{what}, because {why}"
             + (f" (reason code {reason_code})" if reason_code else "")
             + (". A second person approved the suspension before it took effect."
                if approved else "."))
    return {
        **decision,
        **_ground(policies, f"{what[4:].capitalize()} because {why}."),
        "content_type": ["CONTENT_TYPE_OTHER"],
        "content_type_other": "User account",
        "content_date": _content_day(user_created, applied).isoformat(),
        **_categories(policies),
        **_scope(),
        "application_date": applied.isoformat(),
        "decision_facts": facts[:5000],
        "source_type": _source(case_id),
        "automated_detection": "Yes" if automated else "No",
        "automated_decision": ("AUTOMATED_DECISION_FULLY" if automated
                               else "AUTOMATED_DECISION_NOT_AUTOMATED"),
        "puid": _puid("suspension", entry_id),
    }


# --- recording (in the decision's transaction) --------------------------------------------------


def statement_record(*, source_kind: str, source_id: str, user_id: str, audit_entry_id: str,
                     build: Callable[[], dict[str, Any]]) -> StatementRecord:
    """Write the statement `build` makes, in the caller's transaction. A statement the
    builder gets wrong (refused by `dsa.validate_statement`, or the builder failing) is a bug:
    logged, and kept as a `refused` row naming the problem, so the enforcement it describes
    goes ahead and the gap is visible in the list."""
    moment = _now()
    raw: dict[str, Any] = {}
    status, error = "pending", ""
    try:
        raw = build()
        statement = dsa.validate_statement(raw).to_api()
    except Exception as exc:  # noqa: BLE001 - a statement must never block the enforcement
        logger.exception("statement of reasons for %s %s is not valid", source_kind, source_id)
        statement, status = raw, "refused"
        error = f"not a valid statement (a Casefile bug): {exc}"[:2000]
    return StatementRecord.objects.create(
        id=ids.new_sor_id(), puid=_puid(source_kind, source_id), source_kind=source_kind,
        source_id=source_id, user_id=user_id, statement=statement, audit_entry_id=audit_entry_id,
        status=status, last_error=error, next_attempt_at=moment, created_at=moment)


def moderation_statement_record(row: ModerationItem) -> StatementRecord | None:
    """For `moderation_decide` and `moderation_review`, beside the command that tells the
    platform: nothing for `allow` (a review reversing to allow restricts nothing)."""
    if row.final_decision not in RESTRICTIVE:
        return None

    def build() -> dict[str, Any]:
        # The platform posts an item when it is uploaded: the rules' decision is dated with
        # it. A review dates the content from the item's first decision — one more read, kept
        # off the platform's decision path (a read the upload waits for).
        first = None if row.decided_by == RULES else (
            ModerationItem.objects.filter(kind=row.kind, item_id=row.item_id)
            .order_by("created_at").values_list("created_at", flat=True).first())
        return moderation_statement(row, content_created=first)

    return statement_record(source_kind="moderation", source_id=row.id,
                            user_id=row.subject_user_id, audit_entry_id=row.audit_id,
                            build=build)


def restriction_statement_record(change: RestrictionChange, *,
                                 strike: Strike | None) -> StatementRecord | None:
    """For the strike ladder (`strikes._sync`), for each restriction it applies."""
    if not change.applied or change.action not in RESTRICTION_DECISIONS:
        return None

    def build() -> dict[str, Any]:
        from casefile.platform.models import PlatformUser

        user = PlatformUser.objects.only("created_at").get(pk=change.user_id)
        automated = strike is not None and not strike.issued_by.startswith("stf_")
        return restriction_statement(change, strike=strike, automated=automated,
                                     user_created=user.created_at)

    return statement_record(source_kind="restriction", source_id=str(change.pk),
                            user_id=change.user_id, audit_entry_id=change.audit_entry_id,
                            build=build)


def on_operation_applied(*, operation: str, params: Any, change: Any, entry: Any,
                         actor: Actor, approval: Any = None) -> None:
    """The platform's "operation applied" listener (registered in `TrustConfig.ready`): a
    suspension's statement, in the operation's transaction. Other operations restrict nothing
    a statement reports (an unsuspension lifts; refunds and limits are not moderation)."""
    if operation != "user_suspend" or not change.user_id:
        return
    from casefile.platform.models import PlatformUser

    def build() -> dict[str, Any]:
        user = PlatformUser.objects.only("created_at", "suspended_until").get(
            pk=change.user_id)
        strike = (Strike.objects.filter(pk=params.strike_id).first()
                  if getattr(params, "strike_id", None) else None)
        return suspension_statement(
            entry_id=entry.id, at=entry.created_at, until=user.suspended_until,
            user_created=user.created_at, strike=strike, case_id=params.case_id,
            reason_code=entry.reason_code, approved=approval is not None,
            automated=actor.is_machine)

    statement_record(source_kind="suspension", source_id=entry.id, user_id=change.user_id,
                     audit_entry_id=entry.id, build=build)


# --- submission (the worker, after commit) --------------------------------------------------


@dataclass
class SubmitReport:
    submitted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # to be retried later
    dead: list[str] = field(default_factory=list)
    calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"submitted": len(self.submitted), "refused": len(self.refused),
                "failed": len(self.failed), "dead": len(self.dead), "calls": self.calls}


def _claim(moment: datetime, size: int) -> list[StatementRecord]:
    """Lease up to `size` due statements (committed before sending, as `delivery.claim`)."""
    lease = timedelta(seconds=settings.DSA_TIMEOUT_SECONDS) + LEASE_MARGIN
    with transaction.atomic():
        due = StatementRecord.objects.filter(status="pending", next_attempt_at__lte=moment)
        due = due.filter(Q(leased_until__isnull=True) | Q(leased_until__lte=moment))
        due = due.order_by("next_attempt_at", "id")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        rows = list(due[:size])
        if rows:
            StatementRecord.objects.filter(pk__in=[r.pk for r in rows]).update(
                leased_until=moment + lease)
    return rows


_FIELDS = list(StatementRecord.SUBMISSION_FIELDS)


def _save(rows: list[StatementRecord]) -> None:
    with transaction.atomic():
        for row in rows:
            row.save(update_fields=_FIELDS)


def _submitted(row: StatementRecord, moment: datetime, uuid: str | None) -> None:
    row.status, row.submitted_at, row.tdb_uuid = "submitted", moment, (uuid or "")[:64]
    row.leased_until, row.last_error = None, ""


def _failed(row: StatementRecord, moment: datetime, error: str, retry_after: float | None,
            report: SubmitReport) -> None:
    from casefile.platform.delivery import backoff  # the platform outbox's schedule

    row.attempts += 1
    row.leased_until, row.last_error = None, error[:2000]
    if row.attempts >= settings.DSA_MAX_ATTEMPTS:
        row.status = "dead"
        report.dead.append(row.id)
        return
    wait = backoff(row.attempts)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    row.next_attempt_at = moment + wait
    report.failed.append(row.id)


def _errors_text(errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{f}: {' '.join(m)}" for f, m in errors.items())


def _send(rows: list[StatementRecord], moment: datetime, report: SubmitReport) -> None:
    """Send one claimed batch until every row has an outcome: refused rows and rows the TDB
    already holds are taken out and the rest resent at once (the API creates nothing from a
    batch it refuses); any other failure puts the rest back with backoff."""
    pending = {r.puid: r for r in rows}
    parsed: dict[str, dsa.StatementOfReasons] = {}
    for puid, row in list(pending.items()):
        try:
            parsed[puid] = dsa.validate_statement(row.statement)
        except ValidationFailed as exc:  # a row stored invalid (see statement_record)
            row.status, row.leased_until = "refused", None
            row.last_error = f"not a valid statement: {exc.message}"[:2000]
            report.refused.append(row.id)
            del pending[puid]
    while pending:
        result = dsa.submit_batch(base_url=settings.DSA_TDB_URL, token=settings.DSA_TDB_TOKEN,
                                  statements=[parsed[p] for p in pending],
                                  timeout=settings.DSA_TIMEOUT_SECONDS)
        report.calls += 1
        if result.ok:
            uuids = {a.puid: a.uuid for a in result.accepted}
            for puid, row in pending.items():
                _submitted(row, moment, uuids.get(puid))
                report.submitted.append(row.id)
            return
        progress = False
        for puid in result.existing_puids:
            if puid in pending:  # published already (an earlier answer was lost)
                row = pending.pop(puid)
                _submitted(row, moment, None)
                report.submitted.append(row.id)
                progress = True
        for puid, errors in result.errors.items():
            if puid in pending:
                row = pending.pop(puid)
                row.status, row.leased_until = "refused", None
                row.last_error = f"refused by the Transparency Database: {_errors_text(errors)}"
                row.last_error = row.last_error[:2000]
                report.refused.append(row.id)
                progress = True
        if not progress:
            # 429, 5xx, unreachable, or a refusal naming no statement (a bad token): the
            # statements are fine; they wait and are sent again later.
            error = result.message or f"HTTP {result.status}"
            for row in pending.values():
                _failed(row, moment, error, result.retry_after, report)
            return


def statements_submit(*, limit: int = 1000, now: datetime | None = None) -> SubmitReport:
    """The periodic job: send due statements to the Transparency Database in batches of at
    most 100. Without `DSA_TDB_URL` nothing is sent: statements wait, nothing is lost."""
    report = SubmitReport()
    if not settings.DSA_TDB_URL:
        return report
    moment = now or _now()
    left = limit
    while left > 0:
        rows = _claim(moment, min(dsa.MAX_BATCH, left))
        if not rows:
            break
        left -= len(rows)
        try:
            _send(rows, moment, report)
        finally:
            _save(rows)  # outcomes recorded; an unexpected error leaves the rest to the lease
    return report


# --- reads and the one write staff make ---------------------------------------------------------


def statement_get(statement_id: str) -> StatementRecord:
    found = StatementRecord.objects.filter(pk=statement_id).first()
    if found is None:
        raise NotFound(f"no statement of reasons {statement_id}")
    return found


def statements_filtered(*, status: str | None = None, user_id: str | None = None,
                        source_kind: str | None = None, source_id: str | None = None
                        ) -> QuerySet[StatementRecord]:
    rows = StatementRecord.objects.all()
    if status:
        rows = rows.filter(status=status)
    if user_id:
        rows = rows.filter(user_id=user_id)
    if source_kind:
        rows = rows.filter(source_kind=source_kind)
    if source_id:
        rows = rows.filter(source_id=source_id)
    return rows


def _aware(value: datetime | None) -> datetime | None:
    # A bound given without a zone is read as UTC, Casefile's one zone.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def statements_export(*, since: datetime | None = None, until: datetime | None = None
                      ) -> Iterator[bytes]:
    """NDJSON, one statement per line exactly as the TDB takes it, oldest first, streamed.
    Rows refused (by Casefile's own check or by the TDB) are left out: a bulk upload of the
    file would be refused for them; the list shows them with their errors."""
    since, until = (_aware(v) for v in (since, until))
    rows = StatementRecord.objects.exclude(status="refused")
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    stored = rows.order_by("created_at", "id").values_list("statement", flat=True)

    def parsed() -> Iterator[dsa.StatementOfReasons]:
        for statement in stored.iterator(chunk_size=1000):
            yield dsa.validate_statement(statement)

    return dsa.to_ndjson(parsed())


def _state(row: StatementRecord) -> dict[str, Any]:
    # The statement itself never changes (a trigger sees to it): the entry records the move.
    return {k: v for k, v in snapshot(row).items() if k != "statement"}


def statement_retry(*, actor: Actor, statement: StatementRecord,
                    reason_code: str) -> StatementRecord:
    """Send a dead or refused statement again (its content is as it was: a refusal that came
    from the TDB's side, or an outage that outlasted the retries). Audited."""
    actor.require(Perm.TRUST_STATEMENTS)
    reason_code = actor.reason(reason_code)  # type: ignore[assignment]
    with transaction.atomic(durable=True):
        row = StatementRecord.objects.select_for_update().filter(pk=statement.pk).first()
        if row is None:
            raise NotFound(f"no statement of reasons {statement.pk}")
        if row.status not in ("dead", "refused"):
            raise Conflict(f"only dead or refused statements are retried; this one is "
                           f"{row.status}")
        before = _state(row)
        row.status, row.attempts, row.next_attempt_at = "pending", 0, _now()
        row.leased_until = None
        row.save(update_fields=_FIELDS)
        ledger.record(actor=actor, action="STATEMENT_RETRIED", resource=f"statement:{row.id}",
                      reason_code=reason_code, before=before,
                      after=_state(row),
                      target_user_id=row.user_id, metadata={"puid": row.puid})
    return row
