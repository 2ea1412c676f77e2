"""The permission matrix: the one place that says which staff role may do what.

Every API endpoint, console screen and service asks `has_perm` / `require` with a `Perm`; nothing
else in the code base compares role names.
"""

from enum import StrEnum

from casefile.accounts.roles import MACHINE_ROLES, Role
from casefile.core.errors import PermissionDenied

EVERYONE = frozenset(Role)
STAFF = EVERYONE - MACHINE_ROLES  # people


class Perm(StrEnum):
    PROFILE_VIEW = "profile.view"  # /me, one's own tokens
    TOKEN_MANAGE_OWN = "token.manage_own"  # noqa: S105 - a name, not a secret
    TOKEN_MANAGE_ANY = "token.manage_any"  # noqa: S105
    STAFF_VIEW = "staff.view"
    STAFF_MANAGE = "staff.manage"  # create staff users, grant and revoke roles
    AUDIT_VIEW = "audit.view"
    AUDIT_EXPORT = "audit.export"
    AUDIT_VERIFY = "audit.verify"
    EVENTS_VIEW = "events.view"
    EVENTS_INGEST = "events.ingest"
    EVENTS_EXPORT = "events.export"
    EVENTS_ISSUES = "events.issues"  # split and merge recurring issues by hand
    CASES_VIEW = "cases.view"
    # open, update, assign, move, note, tag, link — one case or many at once. Case actions that
    # act on the platform (suspend, refund) need the permission of the operation they run.
    CASES_EDIT = "cases.edit"
    PLATFORM_VIEW = "platform.view"  # tenants and platform users, without sensitive details
    PLATFORM_SYNC = "platform.sync"  # the platform upserting its tenants and users
    TENANT_DETAILS = "platform.tenant_details"  # audited read of sensitive metadata
    TENANT_POLICY = "platform.tenant_policy"
    TENANT_LIMITS = "platform.tenant_limits"
    BILLING_CREDIT = "platform.billing_credit"
    BILLING_REFUND = "platform.billing_refund"
    USER_SUSPEND = "platform.user_suspend"
    IMPERSONATE = "platform.impersonate"
    OUTBOX_MANAGE = "platform.outbox"
    EVIDENCE_VIEW = "evidence.view"  # a blob's page, metadata and redacted copy
    EVIDENCE_UPLOAD = "evidence.upload"
    EVIDENCE_ORIGINAL = "evidence.original"  # audited read of the decrypted original
    EVIDENCE_SHRED = "evidence.shred"  # destroy the data key (erasure, PII expiry)
    HOLDS_VIEW = "holds.view"  # legal holds: the list, a hold's scope and history
    HOLDS_PLACE = "holds.place"  # place a legal hold (DESIGN 9.1)
    HOLDS_RELEASE = "holds.release"  # ask for, and approve, a hold's release (four-eyes)
    TRUST_PROFILE_READ = "trust.profile_read"  # a user's flags with their reasons (one call)
    TRUST_VIEW = "trust.view"  # trust pages, risk history, verification cases, the queues
    TRUST_EDIT = "trust.edit"  # profile inputs, risk score, new-account and risk holds
    TRUST_VERIFY_OPEN = "trust.verify_open"  # open a verification case
    TRUST_VERIFY = "trust.verify"  # move a verification case (decide it), file an appeal
    TRUST_STRIKE = "trust.strike"  # issue and reverse strikes (the enforcement ladder)
    MODERATION_DECIDE = "moderation.decide"  # ask the rules for a decision (the platform)
    MODERATION_REVIEW = "moderation.review"  # the moderator queue, items, rules (read), review
    MODERATION_RULES = "moderation.rules"  # draft, replay and publish rules; hash lists
    TRUST_STATEMENTS = "trust.statements"  # DSA statements of reasons: list, export, retry
    TRUST_REPORT_FILE = "trust.report_file"  # file a safety report (opens or joins a case)
    TRUST_REPORT_ACCUSER = "trust.report_accuser"  # see who filed a safety report
    DOCUMENTS_VIEW = "documents.view"  # clauses, templates, legs, packs and their PDFs
    DOCUMENTS_AUTHOR = "documents.author"  # draft, publish, withdraw clauses and templates
    DOCUMENTS_ISSUE = "documents.issue"  # generate, issue and void a leg's doc packs


MATRIX: dict[Perm, frozenset[Role]] = {
    Perm.PROFILE_VIEW: EVERYONE,
    Perm.TOKEN_MANAGE_OWN: STAFF,  # a machine's token is made for it by an admin or the CLI
    Perm.TOKEN_MANAGE_ANY: frozenset({Role.ADMIN}),
    Perm.STAFF_VIEW: frozenset({Role.OPS, Role.ADMIN}),
    Perm.STAFF_MANAGE: frozenset({Role.ADMIN}),
    Perm.AUDIT_VIEW: frozenset({Role.OPS, Role.ADMIN}),
    Perm.AUDIT_EXPORT: frozenset({Role.ADMIN}),
    Perm.AUDIT_VERIFY: frozenset({Role.OPS, Role.ADMIN}),
    Perm.EVENTS_VIEW: STAFF,
    Perm.EVENTS_INGEST: frozenset({Role.INGEST, Role.OPS, Role.ADMIN}),
    Perm.EVENTS_EXPORT: STAFF - {Role.VIEWER},
    # Regrouping changes what everyone's "top recurring" shows: the people who work events.
    Perm.EVENTS_ISSUES: frozenset({Role.ANALYST, Role.OPS, Role.ADMIN}),
    Perm.CASES_VIEW: STAFF,
    Perm.CASES_EDIT: STAFF - {Role.VIEWER},
    Perm.PLATFORM_VIEW: STAFF,
    # Only the platform's machine identity: staff change tenants through the operations, which
    # carry their own permission, risk, reason and outbox command.
    Perm.PLATFORM_SYNC: frozenset({Role.PLATFORM}),
    Perm.TENANT_DETAILS: frozenset({Role.SUPPORT, Role.OPS, Role.ADMIN}),
    Perm.TENANT_POLICY: frozenset({Role.OPS, Role.ADMIN}),
    Perm.TENANT_LIMITS: frozenset({Role.OPS, Role.ADMIN}),
    Perm.BILLING_CREDIT: frozenset({Role.SUPPORT, Role.ADMIN}),
    Perm.BILLING_REFUND: frozenset({Role.SUPPORT, Role.ADMIN}),
    Perm.USER_SUSPEND: frozenset({Role.ANALYST, Role.SUPPORT, Role.OPS, Role.ADMIN}),
    Perm.IMPERSONATE: frozenset({Role.ADMIN}),
    Perm.OUTBOX_MANAGE: frozenset({Role.OPS, Role.ADMIN}),
    # Evidence (DESIGN 9.2). Even redacted, evidence is the most sensitive material Casefile
    # holds (ID documents with the numbers masked, reported content): it is shown to the staff
    # who work cases and verifications, not to read-only viewers, who see that a blob exists
    # (its id on a case) but not its content.
    Perm.EVIDENCE_VIEW: STAFF - {Role.VIEWER},
    Perm.EVIDENCE_UPLOAD: frozenset({Role.ANALYST, Role.SUPPORT, Role.OPS, Role.LEGAL,
                                     Role.ADMIN}),
    # The unredacted original is for legal (requests, disputes) and admins only; each read
    # needs a reason code and is audited.
    Perm.EVIDENCE_ORIGINAL: frozenset({Role.LEGAL, Role.ADMIN}),
    Perm.EVIDENCE_SHRED: frozenset({Role.LEGAL, Role.ADMIN}),
    # Legal holds (DESIGN 9.1). Who works cases and evidence sees which holds stop a shred or a
    # purge; read-only viewers do not (a hold names a legal matter).
    Perm.HOLDS_VIEW: STAFF - {Role.VIEWER},
    # Placing a hold only keeps data longer: support (TD-71's "Support/Legal") and legal may,
    # and admins, who may have to preserve data in an incident before legal is reached.
    Perm.HOLDS_PLACE: frozenset({Role.SUPPORT, Role.LEGAL, Role.ADMIN}),
    # Releasing one lets data be shredded and purged again: legal only, and a second legal
    # person approves (the four-eyes operation `legal_hold_release`). Not admin: a hold is a
    # legal obligation, and two administrators must not be able to lift it between them.
    Perm.HOLDS_RELEASE: frozenset({Role.LEGAL}),
    # Trust profiles (DESIGN 9.3). The platform reads a user's eligibility flags before it lets
    # them book, toggle NSFW or be paid: its machine identity reads them, and every member of
    # staff does (the flags and their reasons are what support explains to users).
    Perm.TRUST_PROFILE_READ: STAFF | {Role.PLATFORM},
    # The rest of the trust picture (risk history, verification cases, queues) is staff's own.
    Perm.TRUST_VIEW: STAFF,
    # Inputs that gate payouts and instant booking: the staff who work T&S and support
    # (analyst, support), operations and admins; not read-only viewers, and not legal, whose
    # work is holds and evidence, not eligibility.
    Perm.TRUST_EDIT: frozenset({Role.ANALYST, Role.SUPPORT, Role.OPS, Role.ADMIN}),
    # The platform starts a verification when a user begins one in its app; staff may start
    # one too (a re-check asked for by a case).
    Perm.TRUST_VERIFY_OPEN: frozenset({Role.PLATFORM, Role.ANALYST, Role.SUPPORT, Role.OPS,
                                       Role.ADMIN}),
    # Deciding a verification (and filing an appeal, which opens a case) is a person's
    # judgement: never the platform's; vendors' results arrive through their webhooks, which
    # Casefile applies as itself.
    Perm.TRUST_VERIFY: frozenset({Role.ANALYST, Role.SUPPORT, Role.OPS, Role.ADMIN}),
    # Strikes (DESIGN 9.4) are a person's finding that a policy was broken: the T&S and support
    # staff, operations and admins. Not the platform's machine identity: a strike sets off
    # restrictions and suspension requests, which follow a judgement, not a signal (the
    # platform reports what it saw through a case or a moderation decision instead).
    Perm.TRUST_STRIKE: frozenset({Role.ANALYST, Role.SUPPORT, Role.OPS, Role.ADMIN}),
    # Moderation (DESIGN 9.4). The platform's upload path asks for a decision; staff may too
    # (a re-check), with their reason.
    Perm.MODERATION_DECIDE: frozenset({Role.PLATFORM, Role.OPS, Role.ADMIN}),
    # Moderators work the queue: the T&S and support staff, operations and admins. Reported
    # content is not for read-only viewers (as evidence is not).
    Perm.MODERATION_REVIEW: frozenset({Role.ANALYST, Role.SUPPORT, Role.OPS, Role.ADMIN}),
    # The rules decide for every upload at once: operations and admins change and publish them,
    # and keep the hash lists they match against.
    Perm.MODERATION_RULES: frozenset({Role.OPS, Role.ADMIN}),
    # DSA statements of reasons (Art. 17, 24(5)) are a legal obligation: legal reads, exports
    # and resends them, ops keeps their delivery to the Transparency Database running (as it
    # does the platform outbox), and admins. Not the moderators: a statement follows a
    # decision they already see.
    Perm.TRUST_STATEMENTS: frozenset({Role.LEGAL, Role.OPS, Role.ADMIN}),
    # Safety reports (DESIGN 9.4). The platform files what its users report; staff file on a
    # user's behalf (a report that reached support by e-mail or phone). Filing opens a case,
    # so only roles that work cases; not read-only viewers, not legal.
    Perm.TRUST_REPORT_FILE: frozenset({Role.PLATFORM, Role.ANALYST, Role.SUPPORT, Role.OPS,
                                       Role.ADMIN}),
    # Who reported someone is shown only to those who must weigh or act on it: T&S analysts
    # (a retaliatory or serial reporter, asking the accuser for more), legal (a referral to
    # law enforcement names the reporter) and admins. Not support, who talk with the accused
    # and must not be able to tell them who reported them; not ops or viewers, whose work does
    # not need it. Everyone who reads the case still reads the report's text.
    Perm.TRUST_REPORT_ACCUSER: frozenset({Role.ANALYST, Role.LEGAL, Role.ADMIN}),
    # Documents (DESIGN 9.5). Booking contracts name the parties and their terms: read by the
    # staff who handle bookings' disputes and legal matters (analyst, support, ops, legal,
    # admin), not read-only viewers (as evidence is not); and by the platform's machine
    # identity, which shows its users their pack's status and PDFs.
    Perm.DOCUMENTS_VIEW: (STAFF - {Role.VIEWER}) | {Role.PLATFORM},
    # The clause library and templates are the contracts' words: legal writes and publishes
    # them (DESIGN 9.1), and admins, who may have to fix a template in an incident.
    Perm.DOCUMENTS_AUTHOR: frozenset({Role.LEGAL, Role.ADMIN}),
    # Packs follow the booking: the platform generates and issues them at checkout and voids
    # them when a booking is cancelled; legal and admins may do the same by hand (a booking
    # changed outside checkout). Not support: issuing or voiding a contract is a legal act.
    Perm.DOCUMENTS_ISSUE: frozenset({Role.PLATFORM, Role.LEGAL, Role.ADMIN}),
}

assert set(MATRIX) == set(Perm), "every permission needs a row in the matrix"


def roles_for(perm: Perm) -> frozenset[Role]:
    return MATRIX[perm]


def has_perm(roles, perm: Perm) -> bool:
    return not MATRIX[perm].isdisjoint(roles)


def require(roles, perm: Perm) -> None:
    if not has_perm(roles, perm):
        allowed = ", ".join(sorted(MATRIX[perm]))
        raise PermissionDenied(
            f"this needs the {perm} permission (roles: {allowed})",
            details={"permission": str(perm), "roles": sorted(MATRIX[perm])},
        )


def permissions_of(roles) -> list[str]:
    return sorted(str(p) for p in Perm if has_perm(roles, p))
