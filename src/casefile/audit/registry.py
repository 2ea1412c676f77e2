"""The action registry and the reason-code registry: what may be written to the audit ledger.

An action key or reason code that is not listed here is refused, so the ledger's vocabulary is
reviewed in one place. Apps add their actions here, not in their own modules.

People give their own reason code for every action (`REASON_CODES`). Machines — Casefile's own
jobs, the operator's CLI, the platform's sync and log shippers — do not choose one: the action
declares its `system_reason` here, and an action without one cannot be done by a machine.
"""

from dataclasses import dataclass
from enum import StrEnum

from casefile.core.errors import ValidationFailed


class Risk(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class ActionType:
    key: str
    description: str
    risk: Risk
    resource_type: str  # the prefix of the entry's `resource`, e.g. "tenant" in "tenant:ten_…"
    system_reason: str | None = None  # the reason recorded when a machine does this


_ACTIONS = [
    # Admin audit schema (004)
    ActionType("TENANT_POLICY_UPDATE", "Changing a tenant's features or flavours", Risk.HIGH,
               "tenant"),
    ActionType("BILLING_CREDIT_ADD", "Adding manual balance", Risk.HIGH, "tenant"),
    ActionType("LIMIT_OVERRIDE", "Changing hard limits", Risk.MEDIUM, "tenant"),
    ActionType("BILLING_REFUND", "Refunding an order", Risk.HIGH, "order"),
    ActionType("USER_SUSPEND", "Blocking a platform user", Risk.MEDIUM, "user"),
    ActionType("USER_UNSUSPEND", "Unblocking a platform user", Risk.MEDIUM, "user",
               system_reason="SUSPENSION_ENDED"),
    ActionType("IMPERSONATION_START", "Break-glass login as a platform user", Risk.CRITICAL,
               "user"),
    ActionType("IMPERSONATION_END", "End of a break-glass session", Risk.LOW, "user",
               system_reason="TIME_BOX_EXPIRED"),
    ActionType("TENANT_VIEW_DETAILS", "Accessing a tenant's sensitive metadata", Risk.LOW,
               "tenant"),
    ActionType("TENANT_UPSERTED", "The platform created or updated a tenant", Risk.LOW,
               "tenant", system_reason="PLATFORM_SYNC"),
    ActionType("PLATFORM_USER_UPSERTED", "The platform created or updated a user", Risk.LOW,
               "user", system_reason="PLATFORM_SYNC"),
    ActionType("APPROVAL_REQUESTED", "A four-eyes approval was requested", Risk.MEDIUM,
               "approval"),
    ActionType("APPROVAL_DECIDED", "A four-eyes request was approved or rejected", Risk.HIGH,
               "approval"),
    ActionType("APPROVAL_WITHDRAWN", "A four-eyes request the strike ladder made was closed "
               "when the points fell below its step", Risk.MEDIUM, "approval",
               system_reason="STRIKE_DECAY"),
    ActionType("APPROVAL_EXPIRED", "A four-eyes request ran out before anyone decided it",
               Risk.LOW, "approval", system_reason="TIME_BOX_EXPIRED"),
    ActionType("OUTBOX_RETRIED", "A dead-lettered platform command was queued again",
               Risk.MEDIUM, "command"),
    # Signaled
    # A machine opens a case only by filing a safety report (the platform; trust.reports).
    ActionType("CASE_CREATED", "A case was opened", Risk.LOW, "case",
               system_reason="SAFETY_REPORT"),
    ActionType("CASE_UPDATED", "A case's fields or status changed", Risk.LOW, "case"),
    ActionType("EVENT_LINKED", "An event was linked to a case", Risk.LOW, "case"),
    ActionType("EVENT_UNLINKED", "An event was unlinked from a case", Risk.LOW, "case"),
    ActionType("CASE_ASSIGNED", "A case was assigned or unassigned", Risk.LOW, "case"),
    ActionType("CASE_STATUS_CHANGED", "A case moved to another status", Risk.LOW, "case"),
    ActionType("CASE_NOTE_ADDED", "A note was added to a case", Risk.LOW, "case"),
    ActionType("CASE_NOTE_EDITED", "A case note was edited", Risk.LOW, "case"),
    ActionType("CASE_TAGGED", "A tag was added to a case", Risk.LOW, "case"),
    ActionType("CASE_UNTAGGED", "A tag was removed from a case", Risk.LOW, "case"),
    ActionType("CASE_SLA_BREACHED", "A case passed its SLA due time", Risk.MEDIUM, "case",
               system_reason="SLA_POLICY"),
    ActionType("EXPORT_REQUESTED", "Data was exported", Risk.MEDIUM, "export"),
    # Recurring issues (events.issues): resource "issue:iss_…", the issue kept; the templates
    # moved and the issues merged away are in the details.
    ActionType("ISSUE_SPLIT", "Templates of a recurring issue were split into a new issue",
               Risk.LOW, "issue"),
    ActionType("ISSUE_MERGED", "Recurring issues were merged into one", Risk.LOW, "issue"),
    # TD-490 case actions
    ActionType("CASE_ACTION_SUSPEND", "Case action: suspend the subject", Risk.MEDIUM, "case"),
    ActionType("CASE_ACTION_REFUND", "Case action: refund", Risk.HIGH, "case"),
    ActionType("CASE_ACTION_REQUEST_EVIDENCE", "Case action: ask the user for evidence",
               Risk.LOW, "case"),
    ActionType("CASE_ACTION_NOTE", "Case action: note", Risk.LOW, "case"),
    ActionType("CASE_ACTION_CLOSE", "Case action: close", Risk.LOW, "case"),
    # Staff accounts
    # The operator's CLI (`casefile user`, `casefile token`) provisions accounts.
    ActionType("STAFF_USER_CREATED", "A staff account was created", Risk.HIGH, "staff",
               system_reason="ACCOUNT_PROVISIONING"),
    ActionType("STAFF_USER_UPDATED", "A staff account's e-mail or name changed (the IdP's "
               "claims at sign-in)", Risk.MEDIUM, "staff", system_reason="ACCOUNT_PROVISIONING"),
    ActionType("STAFF_ROLE_GRANTED", "A role was granted to staff", Risk.HIGH, "staff",
               system_reason="ACCOUNT_PROVISIONING"),
    ActionType("STAFF_ROLE_REVOKED", "A role was revoked from staff", Risk.MEDIUM, "staff",
               system_reason="ACCOUNT_PROVISIONING"),
    # Signing in (accounts.sessions, accounts.oidc, accounts.factors): resource "staff:stf_…"
    # (for a failure with no such account, "staff:unknown"); the method, the IdP's issuer and
    # subject, the factor, in the metadata. Entries about a sign-in are recorded by Casefile
    # itself (the person is not signed in yet, or is being signed out).
    ActionType("STAFF_SIGNED_IN", "A member of staff signed in to the console", Risk.LOW,
               "staff", system_reason="AUTHENTICATION"),
    ActionType("STAFF_SIGN_IN_FAILED", "A sign-in to the console was refused", Risk.MEDIUM,
               "staff", system_reason="AUTHENTICATION"),
    ActionType("STAFF_SIGNED_OUT", "A console session ended (sign-out or timeout)", Risk.LOW,
               "staff", system_reason="AUTHENTICATION"),
    ActionType("STAFF_SIGNED_OUT_EVERYWHERE", "Every session and API token of a member of "
               "staff was revoked", Risk.HIGH, "staff", system_reason="AUTHENTICATION"),
    ActionType("STAFF_SECOND_FACTOR_PROVEN", "A member of staff proved a second factor",
               Risk.LOW, "staff", system_reason="AUTHENTICATION"),
    ActionType("STAFF_FACTOR_ENROLLED", "A second factor was enrolled", Risk.HIGH, "staff",
               system_reason="AUTHENTICATION"),
    ActionType("STAFF_FACTOR_REMOVED", "A second factor was removed", Risk.HIGH, "staff",
               system_reason="AUTHENTICATION"),
    ActionType("API_TOKEN_CREATED", "An API token was created", Risk.MEDIUM, "token",
               system_reason="ACCOUNT_PROVISIONING"),
    ActionType("API_TOKEN_REVOKED", "An API token was revoked", Risk.LOW, "token",
               system_reason="ACCOUNT_PROVISIONING"),
    # Evidence vault (DESIGN 9.2): resource "evidence:evb_…", the blob's chain of custody
    ActionType("EVIDENCE_UPLOADED", "Evidence was stored (encrypted original, redacted copy)",
               Risk.LOW, "evidence", system_reason="EVIDENCE_INTAKE"),
    ActionType("EVIDENCE_ORIGINAL_VIEWED", "The unredacted original of evidence was read",
               Risk.HIGH, "evidence"),
    ActionType("EVIDENCE_INTEGRITY_FAILED", "Stored evidence did not match what was written",
               Risk.HIGH, "evidence", system_reason="INTEGRITY_CHECK"),
    ActionType("EVIDENCE_SHREDDED", "Evidence was crypto-shredded (its data key destroyed)",
               Risk.HIGH, "evidence", system_reason="PII_EXPIRY"),
    # Trust profiles (DESIGN 9.3): resource "user:usr_…", the platform user the profile is of
    ActionType("TRUST_PROFILE_CREATED", "A user's trust profile was created with its defaults",
               Risk.LOW, "user", system_reason="TRUST_PROFILE_DEFAULTS"),
    ActionType("TRUST_PROFILE_UPDATED", "A trust profile's inputs or statuses changed (its "
               "eligibility flags recomputed)", Risk.MEDIUM, "user",
               system_reason="TRUST_SIGNAL"),
    ActionType("TRUST_RISK_SCORE_SET", "A user's risk score was set", Risk.MEDIUM, "user",
               system_reason="TRUST_SIGNAL"),
    ActionType("TRUST_HOLD_SET", "A new-account or risk hold was put on a user", Risk.HIGH,
               "user", system_reason="TRUST_SIGNAL"),
    ActionType("TRUST_HOLD_CLEARED", "A user's new-account or risk hold was cleared", Risk.HIGH,
               "user", system_reason="TRUST_SIGNAL"),
    # Verification cases (DESIGN 9.3): resource "verification:vrf_…"
    ActionType("VERIFICATION_CASE_OPENED", "A verification case was opened", Risk.LOW,
               "verification", system_reason="TRUST_SIGNAL"),
    ActionType("VERIFICATION_CASE_TRANSITIONED", "A verification case moved to another state",
               Risk.MEDIUM, "verification", system_reason="TRUST_SIGNAL"),
    ActionType("VERIFICATION_CASE_APPEALED", "A verification decision was appealed",
               Risk.MEDIUM, "verification"),
    ActionType("VERIFICATION_PII_EXPIRED", "A verification case's PII was shredded and blanked "
               "at the end of its retention", Risk.MEDIUM, "verification",
               system_reason="PII_EXPIRY"),
    # Strikes (DESIGN 9.4): resource "strike:stk_…" (the user in target_user_id); the decay
    # job's entry is "user:usr_…", one per user whose standing changed
    ActionType("STRIKE_ISSUED", "A strike was issued against a user (the ladder's actions it "
               "set off in the metadata)", Risk.HIGH, "strike",
               system_reason="MODERATION_RULES"),
    ActionType("STRIKE_REVERSED", "A strike was reversed (an appeal succeeded): a reversing "
               "strike was added and actions no longer met lifted", Risk.HIGH, "strike"),
    ActionType("STRIKE_DECAYED", "A user's strikes decayed: the actions no longer met lifted",
               Risk.MEDIUM, "user", system_reason="STRIKE_DECAY"),
    # Moderation (DESIGN 9.4): resource "moderation:mod_…" (one entry per decision, its id the
    # row's audit_id), "ruleset:v<version>", "hashlist:<name>"
    ActionType("MODERATION_DECIDED", "An item was decided by the published moderation rules",
               Risk.LOW, "moderation", system_reason="MODERATION_RULES"),
    ActionType("MODERATION_REVIEWED", "A person decided a moderation item, overriding the rules",
               Risk.MEDIUM, "moderation"),
    ActionType("MODERATION_RULES_DRAFT_SAVED", "A draft moderation rule set was saved",
               Risk.MEDIUM, "ruleset"),
    ActionType("MODERATION_RULES_PUBLISHED", "A moderation rule set was published (the previous "
               "one retired)", Risk.HIGH, "ruleset"),
    ActionType("HASH_LIST_CREATED", "A moderation hash list was created", Risk.MEDIUM,
               "hashlist"),
    ActionType("HASH_LIST_ENTRY_ADDED", "Hashes were added to a moderation hash list",
               Risk.MEDIUM, "hashlist"),
    ActionType("HASH_LIST_ENTRY_REMOVED", "A hash was removed from a moderation hash list",
               Risk.MEDIUM, "hashlist"),
    # Signing (DESIGN 9.5; documents.signing): resources "pack:dpk_…", "document:doc_…". A
    # sign event is the provider's word (or a signer's on a local link), recorded by Casefile.
    ActionType("DOC_PACK_SENT", "A doc pack's documents were sent for signature (one envelope "
               "each)", Risk.MEDIUM, "pack", system_reason="BOOKING_DOCUMENTS"),
    ActionType("DOCUMENT_SIGN_EVENT", "An e-signature event was recorded for a document's "
               "envelope (and applied to it, if it moves it forward)", Risk.LOW, "document",
               system_reason="ESIGN_EVENT"),
    # DSA statements of reasons (trust.statements): resource "statement:sor_…"
    ActionType("STATEMENT_RETRIED", "A dead or refused statement of reasons was queued to be "
               "sent to the Transparency Database again", Risk.MEDIUM, "statement"),
    # Safety reports (DESIGN 9.4): resource "case:cas_…", the report case; the report's id and
    # the submission's (the platform's report id) in the metadata
    ActionType("REPORT_FILED", "A safety report was filed and opened a report case", Risk.LOW,
               "case", system_reason="SAFETY_REPORT"),
    ActionType("REPORT_JOINED", "A safety report joined the open case of the same accused and "
               "category", Risk.LOW, "case", system_reason="SAFETY_REPORT"),
    ActionType("REPORT_RESOLVED", "A safety report was resolved: its outcome and strike delta "
               "set, the case resolved", Risk.MEDIUM, "case"),
    # Legal holds (DESIGN 9.1): resource "hold:hld_…"; the scope (`scope`, e.g. "evidence:evb_…")
    # and the object-store keys it covers are in the metadata
    ActionType("LEGAL_HOLD_PLACED", "A legal hold was placed (the store's hold set on its "
               "objects)", Risk.MEDIUM, "hold"),
    ActionType("LEGAL_HOLD_RELEASED", "A legal hold was released after a second person's "
               "approval", Risk.HIGH, "hold"),
    # Documents (DESIGN 9.5): resources "clause:cls_…", "template:tpl_…", "leg:<leg id>",
    # "pack:dpk_…". Authoring entries carry the whole version before/after.
    ActionType("CLAUSE_DRAFTED", "A clause version was drafted (a new clause or its next "
               "version)", Risk.LOW, "clause"),
    ActionType("CLAUSE_PUBLISHED", "A clause version was published (it never changes again)",
               Risk.MEDIUM, "clause"),
    ActionType("CLAUSE_ACTIVE_SET", "A clause version was withdrawn from, or returned to, new "
               "templates", Risk.MEDIUM, "clause"),
    ActionType("TEMPLATE_DRAFTED", "A document template version was drafted", Risk.LOW,
               "template"),
    ActionType("TEMPLATE_PUBLISHED", "A document template version was published (packs are "
               "generated from it)", Risk.HIGH, "template"),
    ActionType("TEMPLATE_ACTIVE_SET", "A document template version was withdrawn from, or "
               "returned to, pack generation", Risk.HIGH, "template"),
    ActionType("BOOKING_LEG_UPSERTED", "The platform created or updated a booking leg",
               Risk.LOW, "leg", system_reason="PLATFORM_SYNC"),
    ActionType("DOC_PACK_GENERATED", "A booking leg's documents were generated as a draft pack",
               Risk.LOW, "pack", system_reason="BOOKING_DOCUMENTS"),
    ActionType("DOC_PACK_ISSUED", "A doc pack was issued (its PDFs written once under "
               "retention; the leg's previous pack superseded)", Risk.MEDIUM, "pack",
               system_reason="BOOKING_DOCUMENTS"),
    ActionType("DOC_PACK_VOIDED", "A doc pack was voided", Risk.MEDIUM, "pack",
               system_reason="BOOKING_DOCUMENTS"),
    # The ledger itself
    ActionType("AUDIT_ENTRY_VIEWED", "An audit entry was read in full", Risk.LOW, "audit"),
]

ACTIONS: dict[str, ActionType] = {a.key: a for a in _ACTIONS}

REASON_CODES: dict[str, str] = {
    "CUSTOMER_REQUEST": "The customer asked for it",
    "POLICY_VIOLATION": "Enforcing the platform's policies",
    "LEGAL_REQUEST": "A legal or law-enforcement request",
    "FRAUD_SIGNAL": "Responding to a fraud signal",
    "SECURITY_INCIDENT": "Responding to a security incident",
    "INVESTIGATION": "Part of an open investigation",
    "ACCOUNT_PROVISIONING": "Staff accounts and access management",
    "COMPLIANCE_REVIEW": "Audit, compliance or quality review",
    "OPERATIONS": "Routine operational work",
}

# Reasons only machines record; a person cannot choose them.
SYSTEM_REASONS: dict[str, str] = {
    "SLA_POLICY": "The SLA policy's clock ran out",
    "TIME_BOX_EXPIRED": "A time-boxed session or request ran out",
    "SUSPENSION_ENDED": "A time-limited suspension ended",
    "PLATFORM_SYNC": "The platform reported its own state",
    "ACCOUNT_PROVISIONING": REASON_CODES["ACCOUNT_PROVISIONING"],
    "AUTHENTICATION": "Signing in or out, sessions and second factors",
    "EVIDENCE_INTAKE": "Evidence arrived through an integration (a vendor webhook)",
    "INTEGRITY_CHECK": "Casefile found stored data that does not match what it wrote",
    "ESIGN_EVENT": "An e-signature provider, or a signer on a Casefile signing link, "
                   "reported what happened to an envelope",
    "PII_EXPIRY": "Personal data reached the end of its retention period",
    "TRUST_PROFILE_DEFAULTS": "A trust profile was created with its defaults on first use",
    "TRUST_SIGNAL": "The platform or a verification vendor reported a trust signal",
    "STRIKE_DECAY": "Strikes reached their decay date",
    "MODERATION_RULES": "The published moderation rules decided an item",
    "SAFETY_REPORT": "The platform filed a safety report (it opens or joins a report case)",
    "BOOKING_DOCUMENTS": "The platform's booking asked for its documents to be generated, "
                         "issued or voided",
}
assert all(a.system_reason in SYSTEM_REASONS for a in _ACTIONS if a.system_reason), \
    "a system reason must be declared in SYSTEM_REASONS"


def action_type(key: str) -> ActionType:
    try:
        return ACTIONS[key]
    except KeyError:
        raise ValidationFailed(
            f"unknown audit action {key!r}", details={"action": key, "known": sorted(ACTIONS)}
        ) from None


def system_reason(kind: ActionType) -> str:
    """The reason a machine records for `kind`; machines may not do actions without one."""
    if kind.system_reason is None:
        raise ValidationFailed(f"{kind.key} is done by people only and needs their reason code")
    return kind.system_reason


def check_reason_code(code: str | None) -> str:
    """A person's reason code: required, and one of REASON_CODES."""
    if not code:
        raise ValidationFailed("a reason code is required", details={"known": list(REASON_CODES)})
    if code not in REASON_CODES:
        raise ValidationFailed(
            f"unknown reason code {code!r}", details={"reason_code": code,
                                                      "known": list(REASON_CODES)}
        )
    return code
