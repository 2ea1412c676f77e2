"""Trust profiles and verification cases (TD-596.3's UserTrust and VerificationCase; DESIGN 9.3).

Nothing here is deleted by a cascade (DESIGN 9.1): every link PROTECTs.
"""

from django.db import models
from django.db.models import Q

from casefile.core import ids
from casefile.platform.models import PlatformUser
from casefile.trust import reports_policy
from casefile.trust.policy import (
    BgStatus,
    HoldType,
    IdvStatus,
    SafeMode,
    VerificationState,
    VerificationType,
)


def _no_reasons() -> list:
    return []


class TrustProfile(models.Model):
    """One per platform user: every seed flag as a column. The three `*_eligible` flags are
    derived from the others by `trust.policy.RULES` (never set by hand), each stored with the
    reasons it is false, in the same transaction as the input that changed them."""

    user = models.OneToOneField(PlatformUser, primary_key=True,
                                on_delete=models.PROTECT, related_name="trust_profile")
    is_18plus_attested = models.BooleanField(default=False)
    idv_status = models.CharField(max_length=20, choices=IdvStatus.choices,
                                  default=IdvStatus.NONE)
    idv_vendor = models.CharField(max_length=40, blank=True, default="")
    bg_status = models.CharField(max_length=20, choices=BgStatus.choices, default=BgStatus.NONE)
    bg_vendor = models.CharField(max_length=40, blank=True, default="")
    # The seed's social.verified{ig,yt,tt}
    social_ig_verified = models.BooleanField(default=False)
    social_yt_verified = models.BooleanField(default=False)
    social_tt_verified = models.BooleanField(default=False)
    studio_verified = models.BooleanField(default=False)
    safe_mode_preference = models.CharField(max_length=20, choices=SafeMode.choices,
                                            default=SafeMode.DEFAULT_ON)
    risk_score = models.PositiveSmallIntegerField(default=0)  # 0–100; history in RiskScoreChange
    # Strike inputs: 0 until the strike ledger (DESIGN 9.4) derives them.
    strikes_active_count = models.PositiveIntegerField(default=0)
    strike_points_active = models.PositiveIntegerField(default=0)
    adult_strike_active = models.BooleanField(default=False)  # under an adult-content policy
    hold_type = models.CharField(max_length=20, choices=HoldType.choices, default=HoldType.NONE)
    hold_since = models.DateTimeField(null=True, blank=True)
    # Derived (trust.policy.RULES), each with [{code, message}] saying why it is false.
    instant_book_eligible = models.BooleanField(default=False)
    instant_book_reasons = models.JSONField(default=_no_reasons)
    nsfw_toggle_eligible = models.BooleanField(default=False)
    nsfw_toggle_reasons = models.JSONField(default=_no_reasons)
    payouts_eligible = models.BooleanField(default=False)
    payouts_reasons = models.JSONField(default=_no_reasons)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "trust_profile"
        constraints = [
            models.CheckConstraint(condition=Q(risk_score__gte=0, risk_score__lte=100),
                                   name="trust_risk_score_0_to_100"),
            models.CheckConstraint(condition=Q(idv_status__in=IdvStatus.values),
                                   name="trust_idv_status_known"),
            models.CheckConstraint(condition=Q(bg_status__in=BgStatus.values),
                                   name="trust_bg_status_known"),
            models.CheckConstraint(condition=Q(hold_type__in=HoldType.values),
                                   name="trust_hold_type_known"),
            models.CheckConstraint(condition=Q(safe_mode_preference__in=SafeMode.values),
                                   name="trust_safe_mode_known"),
        ]
        # The seed's GSIs, each the order of its queue (trust.selectors.QUEUES).
        indexes = [
            models.Index(fields=["idv_status", "updated_at", "user"], name="trust_idv_queue"),
            models.Index(fields=["bg_status", "updated_at", "user"], name="trust_bg_queue"),
            models.Index(fields=["risk_score", "user"], name="trust_risk_queue"),
            models.Index(fields=["hold_type"], name="trust_hold"),
        ]

    def __str__(self) -> str:
        return f"trust profile of {self.user_id}"

    @property
    def social_verified(self) -> dict[str, bool]:
        return {"ig": self.social_ig_verified, "yt": self.social_yt_verified,
                "tt": self.social_tt_verified}


class RiskScoreChange(models.Model):
    """One row per risk score set: append-only (nothing updates or deletes these)."""

    profile = models.ForeignKey(TrustProfile, on_delete=models.PROTECT,
                                related_name="risk_history")
    score = models.PositiveSmallIntegerField()
    previous = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=60)  # "staff", "platform", a vendor or model name
    reason = models.CharField(max_length=500, blank=True, default="")
    actor_id = models.CharField(max_length=40)  # stf_… or "system"
    audit_entry_id = models.CharField(max_length=40)
    at = models.DateTimeField()

    class Meta:
        db_table = "trust_risk_score_change"
        indexes = [models.Index(fields=["profile", "-at"], name="trust_risk_history")]

    def __str__(self) -> str:
        return f"{self.profile_id}: {self.previous} → {self.score}"


class VerificationCase(models.Model):
    """An identity, background, studio or reference verification (TD-596.3)."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_vrf_id,
                          editable=False)
    user = models.ForeignKey(PlatformUser, on_delete=models.PROTECT,
                             related_name="verification_cases")
    type = models.CharField(max_length=20, choices=VerificationType.choices)
    state = models.CharField(max_length=20, choices=VerificationState.choices,
                             default=VerificationState.CREATED)
    vendor = models.CharField(max_length=40, blank=True, default="")
    # NULL when there is none, so that the uniqueness with the vendor holds only when set.
    vendor_session_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    decision = models.CharField(max_length=60, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    evidence_refs = models.JSONField(default=_no_reasons)  # ["evb_…"]
    expires_at = models.DateTimeField(null=True, blank=True)  # decision + VERIFICATION_PII_DAYS
    appeal_ref = models.CharField(max_length=40, blank=True, default="")  # cas_… (kind appeal)
    last_vendor_event_at = models.DateTimeField(null=True, blank=True)
    # PII captured from the vendor or staff: blanked at expiry (the ledger keeps only digests).
    subject_name = models.CharField(max_length=200, blank=True, default="")
    subject_dob = models.DateField(null=True, blank=True)
    document_country = models.CharField(max_length=2, blank=True, default="")
    document_last4 = models.CharField(max_length=4, blank=True, default="")
    pii_expired_at = models.DateTimeField(null=True, blank=True)
    # The profile's status for this type when the case opened (restored if it is canceled).
    prior_status = models.CharField(max_length=20, blank=True, default="")
    opened_by = models.CharField(max_length=60)  # stf_… (staff or the platform's identity), system
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    PII_FIELDS = ("subject_name", "subject_dob", "document_country", "document_last4")
    AUDIT_DIGESTED = PII_FIELDS

    class Meta:
        db_table = "trust_verification_case"
        constraints = [
            models.UniqueConstraint(fields=["vendor", "vendor_session_id"],
                                    condition=Q(vendor_session_id__isnull=False),
                                    name="verification_vendor_session_unique"),
            models.CheckConstraint(condition=Q(type__in=VerificationType.values),
                                   name="verification_type_known"),
            models.CheckConstraint(condition=Q(state__in=VerificationState.values),
                                   name="verification_state_known"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="verification_user"),
            models.Index(fields=["state", "-created_at", "-id"], name="verification_state"),
            models.Index(fields=["-created_at", "-id"], name="verification_created"),
            models.Index(fields=["expires_at"], name="verification_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type} ({self.state})"


class VerificationStateChange(models.Model):
    """A verification case's timeline: kept when its PII expires."""

    case = models.ForeignKey(VerificationCase, on_delete=models.PROTECT, related_name="changes")
    from_state = models.CharField(max_length=20, blank=True, default="")  # "" when opened
    to_state = models.CharField(max_length=20)
    decision = models.CharField(max_length=60, blank=True, default="")
    actor_id = models.CharField(max_length=60)  # stf_… or "system"
    reason_code = models.CharField(max_length=64, blank=True, default="")
    vendor_event_at = models.DateTimeField(null=True, blank=True)
    audit_entry_id = models.CharField(max_length=40)
    at = models.DateTimeField()

    class Meta:
        db_table = "trust_verification_change"
        indexes = [models.Index(fields=["case", "at"], name="verification_change_case")]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.from_state or '∅'} → {self.to_state}"


class Strike(models.Model):
    """One entry of the strike ledger (TD-596.3's StrikeLedger; DESIGN 9.4): append-only. An
    appeal that succeeds does not change the strike, it adds a reversing one (`reverses` set,
    negative points, the same `decay_at`), so active points always sum the ledger.
    `trust.strikes_policy` says what a policy's points weigh and which actions they bring."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_stk_id,
                          editable=False)
    user = models.ForeignKey(PlatformUser, on_delete=models.PROTECT, related_name="strikes")
    policy = models.CharField(max_length=40)
    points = models.IntegerField()  # negative on a reversing row
    reason = models.CharField(max_length=500, blank=True, default="")
    reason_code = models.CharField(max_length=64, blank=True, default="")
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="strikes")
    issued_at = models.DateTimeField()
    decay_at = models.DateTimeField()  # issued_at + the policy's decay
    # What issuing it set off: ["listing_hide", "suspension_request", …] (lifted ones for a
    # reversing row: ["lift:listing_hide", …]).
    actions_applied = models.JSONField(default=_no_reasons)
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="reversals")
    issued_by = models.CharField(max_length=60)  # stf_… or "system"
    audit_entry_id = models.CharField(max_length=40)

    class Meta:
        db_table = "trust_strike"
        constraints = [
            models.UniqueConstraint(fields=["reverses"], condition=Q(reverses__isnull=False),
                                    name="trust_strike_reversed_once"),
            models.CheckConstraint(
                condition=(Q(reverses__isnull=True, points__gt=0)
                           | Q(reverses__isnull=False, points__lt=0)),
                name="trust_strike_points_sign"),
        ]
        indexes = [models.Index(fields=["user", "-issued_at"], name="trust_strike_user"),
                   models.Index(fields=["decay_at"], name="trust_strike_decay")]

    def __str__(self) -> str:
        return f"{self.id} {self.policy} {self.points:+d} for {self.user_id}"


class RestrictionChange(models.Model):
    """The ladder's actions applied to and lifted from a user, one row per change (append-only).
    A user's current restrictions are each action's latest row (`applied`): an apply is sent
    only when it does not hold, a lift only when it does, so neither is ever sent twice."""

    user = models.ForeignKey(PlatformUser, on_delete=models.PROTECT,
                             related_name="restriction_changes")
    action = models.CharField(max_length=40)  # listing_hide, pauses, contact_block, suspension_…
    applied = models.BooleanField()  # True: applied; False: lifted
    strike = models.ForeignKey(Strike, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="restriction_changes")  # the one that moved it
    points_active = models.IntegerField()  # the user's active points at the change
    command_id = models.CharField(max_length=40, blank=True, default="")  # cmd_… sent
    actor_id = models.CharField(max_length=60)
    audit_entry_id = models.CharField(max_length=40)
    at = models.DateTimeField()

    class Meta:
        db_table = "trust_restriction_change"
        indexes = [models.Index(fields=["user", "action", "-at", "-id"],
                                name="trust_restriction_user")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.action} {'applied' if self.applied else 'lifted'}"


# --- moderation (DESIGN 9.4; trust.moderation, rules in trust.moderation_rules) -----------------


class ModerationItem(models.Model):
    """One decision about a platform item (TD-596.3 `ModerationItem`, the seed's `MOD#{modId}`):
    append-only, so re-deciding an item — by the rules again or by a person — adds a row, and
    the item's history is its rows in order. `audit_id` is the ledger entry of this decision."""

    KINDS = (("media", "media"), ("message", "message"))
    DECISIONS = (("allow", "allow"), ("blur", "blur"), ("block", "block"), ("remove", "remove"))

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_mod_id,
                          editable=False)
    kind = models.CharField(max_length=10, choices=KINDS)
    item_id = models.CharField(max_length=200)  # the platform's media or message id
    subject_user = models.ForeignKey(PlatformUser, on_delete=models.PROTECT,
                                     related_name="moderation_items")
    signals = models.JSONField(default=_no_reasons)  # [{source, label, score, model}]
    sha256 = models.CharField(max_length=64, blank=True, default="")
    md5 = models.CharField(max_length=32, blank=True, default="")
    pdq = models.CharField(max_length=64, blank=True, default="")
    rule_hits = models.JSONField(default=_no_reasons)  # moderation_rules.Hit.to_dict()
    final_decision = models.CharField(max_length=10, choices=DECISIONS)
    safe_mode_required = models.BooleanField(default=False)
    needs_review = models.BooleanField(default=False)
    low_confidence = models.BooleanField(default=False)
    decided_by = models.CharField(max_length=40)  # "rules" or the staff id of a person
    reason_code = models.CharField(max_length=64, blank=True, default="")
    overrides = models.CharField(max_length=40, blank=True, default="")  # mod_… it overrides
    rule_set_version = models.PositiveIntegerField(null=True, blank=True)
    audit_id = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "trust_moderation_item"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=("media", "message")),
                                   name="moderation_kind_known"),
            models.CheckConstraint(
                condition=Q(final_decision__in=("allow", "blur", "block", "remove")),
                name="moderation_decision_known"),
        ]
        indexes = [
            models.Index(fields=["kind", "item_id", "created_at"], name="moderation_item"),
            models.Index(fields=["needs_review", "created_at", "id"], name="moderation_review"),
            models.Index(fields=["-created_at", "-id"], name="moderation_recent"),
            models.Index(fields=["subject_user", "-created_at"], name="moderation_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.kind}:{self.item_id} → {self.final_decision}"


class RuleSetVersion(models.Model):
    """One version of the moderation rules (`moderation_rules.RuleSet` as JSON). Versions only
    grow; one draft at a time is edited; publishing freezes it (services refuse, and a trigger
    refuses any UPDATE of a non-draft's rules) and retires the version it replaces."""

    STATUSES = (("draft", "draft"), ("published", "published"), ("retired", "retired"))

    version = models.PositiveIntegerField(primary_key=True)
    rules = models.JSONField()
    status = models.CharField(max_length=10, choices=STATUSES, default="draft")
    created_by = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    published_by = models.CharField(max_length=40, blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "trust_rule_set_version"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=("draft", "published", "retired")),
                                   name="rule_set_status_known"),
            models.UniqueConstraint(fields=["status"], condition=Q(status="published"),
                                    name="rule_set_one_published"),
            models.UniqueConstraint(fields=["status"], condition=Q(status="draft"),
                                    name="rule_set_one_draft"),
        ]

    def __str__(self) -> str:
        return f"rule set v{self.version} ({self.status})"


class HashList(models.Model):
    """A named list of SHA-256, MD5 or PDQ hashes. `version` grows with every change, so the
    PDQ lists loaded into memory are cached per (name, version)."""

    KINDS = (("sha256", "sha256"), ("md5", "md5"), ("pdq", "pdq"))

    name = models.CharField(primary_key=True, max_length=64)
    kind = models.CharField(max_length=10, choices=KINDS)
    description = models.CharField(max_length=500, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "trust_hash_list"
        constraints = [models.CheckConstraint(condition=Q(kind__in=("sha256", "md5", "pdq")),
                                              name="hash_list_kind_known")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, v{self.version})"


class HashListEntry(models.Model):
    """One hash in a list: exact lists are looked up by this index, one query per decision."""

    hash_list = models.ForeignKey(HashList, on_delete=models.PROTECT, related_name="entries")
    value = models.CharField(max_length=64)
    note = models.CharField(max_length=200, blank=True, default="")
    added_by = models.CharField(max_length=40)
    audit_id = models.CharField(max_length=40)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "trust_hash_list_entry"
        constraints = [models.UniqueConstraint(fields=["hash_list", "value"],
                                               name="hash_list_entry_unique")]
        indexes = [models.Index(fields=["value"], name="hash_list_entry_value")]

    def __str__(self) -> str:
        return f"{self.hash_list_id}: {self.value}"


# --- safety reports (DESIGN 9.4; trust.reports) ---------------------------------------------


class SafetyReport(models.Model):
    """The Trust & Safety detail of a case of kind `report` (TD-596.3 `SafetyReport`), one to
    one: its triage state is the case's status and its SLA the case's, so neither is stored
    here. `category` is a content policy (`trust.strikes_policy.POLICIES`) and `severity` the
    policy's at filing time. Outcome, strike delta and strike are set once, at resolution."""

    OUTCOMES = tuple((o, o) for o in reports_policy.OUTCOMES)

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_rpt_id,
                          editable=False)
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT,
                                related_name="safety_report")
    accused_user = models.ForeignKey(PlatformUser, on_delete=models.PROTECT,
                                     related_name="safety_reports")
    category = models.CharField(max_length=40)
    severity = models.CharField(max_length=10)
    outcome = models.CharField(max_length=20, choices=OUTCOMES, null=True,  # noqa: DJ001
                               blank=True)
    strike_delta = models.IntegerField(default=0)  # points issued at resolution
    strike = models.ForeignKey(Strike, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="safety_reports")
    resolved_by = models.CharField(max_length=60, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "trust_safety_report"
        constraints = [
            models.CheckConstraint(
                condition=Q(severity__in=tuple(reports_policy.SEVERITY_PRIORITY)),
                name="safety_report_severity_known"),
            models.CheckConstraint(
                condition=(Q(outcome__isnull=True, resolved_at__isnull=True)
                           | Q(outcome__in=reports_policy.OUTCOMES,
                               resolved_at__isnull=False)),
                name="safety_report_outcome_when_resolved"),
        ]
        # The join looks for an accused's reports by category, newest first.
        indexes = [models.Index(fields=["accused_user", "category", "-created_at"],
                                name="safety_report_join")]

    def __str__(self) -> str:
        return f"{self.id} {self.category} against {self.accused_user_id}"


class ReportSubmission(models.Model):
    """One report as the platform sent it: append-only. Several join one SafetyReport when the
    same accused is reported for the same category within the join window. The platform's own
    id makes a repeated POST idempotent. Who reported is shown only to roles holding
    `trust.report_accuser`; the ledger keeps digests of the accuser and the text."""

    AUDIT_DIGESTED = ("accuser_user_id", "text")

    safety_report = models.ForeignKey(SafetyReport, on_delete=models.PROTECT,
                                      related_name="submissions")
    platform_report_id = models.CharField(max_length=200, unique=True)
    accuser_user_id = models.CharField(max_length=40, blank=True, default="")
    text = models.TextField(blank=True, default="")
    linked_items = models.JSONField(default=_no_reasons)  # [{kind, id}]
    submitted_by = models.CharField(max_length=60)  # stf_… of the platform's identity or staff
    audit_entry_id = models.CharField(max_length=40)
    received_at = models.DateTimeField()

    class Meta:
        db_table = "trust_report_submission"
        indexes = [models.Index(fields=["safety_report", "received_at"],
                                name="report_submission_report")]

    def __str__(self) -> str:
        return f"{self.platform_report_id} → {self.safety_report_id}"


# --- statements of reasons (DSA Art. 17; trust.statements, the format in trust.dsa) ----------


class StatementRecord(models.Model):
    """One statement of reasons about one restrictive decision or account action, written in
    that decision's transaction. The row is also the outbox that delivers it to the
    Transparency Database: only the submission columns move (a trigger refuses any other
    UPDATE, and every DELETE); `statement` is the API's JSON shape, exactly as it is sent."""

    SOURCE_KINDS = (("moderation", "moderation"), ("restriction", "restriction"),
                    ("suspension", "suspension"))
    STATUSES = (("pending", "pending"), ("submitted", "submitted"), ("refused", "refused"),
                ("dead", "dead"))

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_sor_id,
                          editable=False)
    puid = models.CharField(max_length=500, unique=True)  # the TDB's platform unique id
    source_kind = models.CharField(max_length=20, choices=SOURCE_KINDS)
    source_id = models.CharField(max_length=60)  # mod_…, a restriction change's id, aud_…
    user = models.ForeignKey(PlatformUser, on_delete=models.PROTECT,
                             related_name="statements")
    statement = models.JSONField()  # dsa.StatementOfReasons.to_api()
    audit_entry_id = models.CharField(max_length=40)  # the decision's ledger entry
    status = models.CharField(max_length=10, choices=STATUSES, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    leased_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    tdb_uuid = models.CharField(max_length=64, blank=True, default="")
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    # What the trigger lets an UPDATE change: the delivery's bookkeeping, nothing else.
    SUBMISSION_FIELDS = ("status", "attempts", "next_attempt_at", "leased_until", "last_error",
                         "tdb_uuid", "submitted_at")

    class Meta:
        db_table = "trust_statement"
        constraints = [
            models.CheckConstraint(
                condition=Q(source_kind__in=("moderation", "restriction", "suspension")),
                name="statement_source_kind_known"),
            models.CheckConstraint(
                condition=Q(status__in=("pending", "submitted", "refused", "dead")),
                name="statement_status_known"),
            models.UniqueConstraint(fields=["source_kind", "source_id"],
                                    name="statement_one_per_source"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at", "id"], name="statement_due"),
            models.Index(fields=["-created_at", "-id"], name="statement_recent"),
            models.Index(fields=["user", "-created_at"], name="statement_user"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.source_kind}:{self.source_id} ({self.status})"
