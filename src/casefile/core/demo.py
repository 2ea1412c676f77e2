"""A realistic demo data set, loaded through the real services (`casefile demo`).

Everything is keyed by something stable — events by their client event ids, tenants and
platform users by the platform's ids, staff by e-mail, cases by title among the demo staff's
cases, operations by who asked for what — so a second run finds it all and changes nothing.
Each piece converges: a run that stopped half-way is completed by the next one.

Events are generated here from templates with variable parts (no file from outside the
package is read). Staff actions are taken by demo staff with their own reason codes, so the
ledger reads like real work; the platform's sync, event ingestion and the SLA sweep are done by
Casefile itself, as they are in production.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings

from casefile.accounts import services as accounts
from casefile.accounts.models import StaffUser
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.audit.shipping import audit_ship
from casefile.cases import services as cases
from casefile.cases.models import Case, CaseAction, CaseEvent
from casefile.core.timeutil import now
from casefile.events.models import Event
from casefile.events.services import events_ingest
from casefile.platform import services as platform
from casefile.platform.models import Approval, PlatformUser, Tenant
from casefile.platform.operations import operation_named

SOURCE = "demo"  # the events' source: their client ids are unique within it
SEED = 20261126  # the same events, with the same ids, on every run
DAYS = 3

SYSTEM = Actor.system("demo")


# --- staff ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaffSpec:
    key: str
    email: str
    name: str
    roles: tuple[Role, ...]


STAFF = [
    StaffSpec("dana", "dana.okafor@example.com", "Dana Okafor", (Role.ADMIN,)),  # signs in
    StaffSpec("robin", "robin.chen@example.com", "Robin Chen", (Role.ADMIN,)),
    StaffSpec("priya", "priya.raman@example.com", "Priya Raman", (Role.ANALYST,)),
    StaffSpec("sam", "sam.ortiz@example.com", "Sam Ortiz", (Role.SUPPORT,)),
    StaffSpec("lee", "lee.novak@example.com", "Lee Novak", (Role.OPS,)),
    StaffSpec("jo", "jo.meyer@example.com", "Jo Meyer", (Role.VIEWER,)),
]
SIGN_IN = STAFF[0]


# --- the platform's tenants and users ---------------------------------------------------------

TENANTS = [
    ("ten_northwind", "Northwind Studios", {"instant_book": True, "payout_schedule": "weekly"},
     {"seats": 25, "api_rpm": 600}),
    ("ten_bluepeak", "Blue Peak Photography", {"instant_book": False,
                                               "payout_schedule": "monthly"},
     {"seats": 5, "api_rpm": 120}),
    ("ten_harbor", "Harbor Lane Rentals", {"instant_book": True, "payout_schedule": "weekly"},
     {"seats": 60, "api_rpm": 1200}),
]

PLATFORM_USERS: list[tuple[str, str, str, str | None]] = [
    ("usr_nw_maria", "maria.lopez@northwind.example", "Maria Lopez", "ten_northwind"),
    ("usr_nw_jordan", "jordan.blake@northwind.example", "Jordan Blake", "ten_northwind"),
    ("usr_bp_kenji", "kenji.sato@bluepeak.example", "Kenji Sato", "ten_bluepeak"),
    ("usr_bp_aisha", "aisha.bello@bluepeak.example", "Aisha Bello", "ten_bluepeak"),
    ("usr_hl_tom", "tom.fischer@harbor.example", "Tom Fischer", "ten_harbor"),
    ("usr_hl_grace", "grace.kim@harbor.example", "Grace Kim", "ten_harbor"),
    ("usr_spam_4417", "deals4417@mailinator.example", "Best Deals", None),
]


# --- events -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    service: str
    component: str
    event_type: str
    severity: str
    text: str
    weight: int  # how common it is in the background traffic


TEMPLATES = [
    Template("api", "http", "request", "info", "GET /v1/listings/{listing} 200 in {ms} ms", 30),
    Template("api", "http", "request", "warning",
             "GET /v1/search?q={word} 200 in {slow_ms} ms (slow request)", 4),
    Template("api", "http", "request", "error",
             "POST /v1/orders 503 in {ms} ms: upstream billing timed out", 2),
    Template("api", "db", "db_error", "error", "could not obtain a connection from the pool "
             "after {ms} ms (pool size 20, {n} waiting)", 0),
    Template("billing", "payments", "payment_succeeded", "info",
             "charge {charge} succeeded for order {order}: {amount} {currency}", 20),
    Template("billing", "payments", "payment_failed", "warning",
             "charge {charge} declined for order {order}: card_declined ({decline})", 5),
    Template("billing", "fraud", "card_testing", "error",
             "{n} declined authorisations from {ip} in 60 s across {cards} cards", 0),
    Template("billing", "ledger", "reconcile", "notice",
             "reconciled {n} payouts for tenant {tenant}", 2),
    Template("auth", "login", "login_succeeded", "info", "user {user} signed in from {ip}", 18),
    Template("auth", "login", "login_failed", "warning",
             "failed sign-in for {email} from {ip}: wrong password", 4),
    Template("auth", "mfa", "mfa_challenge", "info", "MFA challenge sent to user {user}", 6),
    Template("auth", "session", "token_revoked", "notice",
             "revoked {n} sessions for user {user}", 1),
    Template("search", "query", "query", "info",
             "query '{word}' returned {n} hits in {ms} ms", 15),
    Template("search", "indexer", "reindex", "warning",
             "reindex batch {n} lagging: {lag} listings behind", 2),
    Template("search", "indexer", "index_error", "error",
             "failed to index listing {listing}: mapping conflict on field '{field}'", 0),
    Template("worker", "jobs", "job_done", "info", "job {job} ({job_kind}) finished in {ms} ms",
             12),
    Template("worker", "jobs", "job_retry", "warning",
             "job {job} ({job_kind}) failed, retry {n} of 5 in {s} s", 3),
    Template("worker", "mailer", "mail_bounced", "notice",
             "mail to {email} bounced: mailbox unavailable", 2),
]
_BY_TYPE = {t.event_type: t for t in TEMPLATES if t.weight == 0}
WORDS = ["loft", "studio", "rooftop", "garden", "warehouse", "daylight", "portrait", "kitchen",
         "harbor view", "green screen"]
HOSTS = {"api": 4, "billing": 2, "auth": 2, "search": 3, "worker": 3}


def _values(rng: random.Random) -> dict[str, Any]:
    user = rng.choice(PLATFORM_USERS)
    return {
        "listing": f"lst_{rng.randrange(10_000, 99_999)}", "ms": rng.randrange(8, 400),
        "slow_ms": rng.randrange(1_200, 6_000), "word": rng.choice(WORDS),
        "n": rng.randrange(2, 60), "charge": f"ch_{rng.getrandbits(48):012x}",
        "order": f"ord_{rng.randrange(100_000, 999_999)}",
        "amount": f"{rng.randrange(20, 900)}.{rng.randrange(0, 100):02d}",
        "currency": rng.choice(["EUR", "USD", "GBP"]),
        "decline": rng.choice(["insufficient_funds", "do_not_honor", "expired_card"]),
        "ip": f"{rng.choice([81, 92, 185, 203])}.{rng.randrange(256)}.{rng.randrange(256)}."
              f"{rng.randrange(1, 255)}",
        "cards": rng.randrange(5, 40), "tenant": rng.choice(TENANTS)[0],
        "user": user[0], "email": user[1], "lag": rng.randrange(100, 9_000),
        "field": rng.choice(["price", "geo_point", "tags"]),
        "job": f"job_{rng.getrandbits(32):08x}",
        "job_kind": rng.choice(["thumbnail", "payout", "reminder_mail", "export"]),
        "s": rng.choice([10, 20, 40, 80]),
    }


@dataclass(frozen=True)
class Burst:
    """Many events of one kind in a short window: what an investigation starts from."""

    event_type: str
    count: int
    start_ago: timedelta
    length: timedelta
    fixed: dict[str, Any] = field(default_factory=dict)


BURSTS = [
    Burst("db_error", 140, timedelta(hours=5, minutes=10), timedelta(minutes=50)),
    Burst("card_testing", 36, timedelta(minutes=75), timedelta(minutes=35),
          {"ip": "185.220.101.47"}),
    Burst("index_error", 28, timedelta(days=2, hours=3), timedelta(hours=2)),
]


def generate_events(anchor: datetime, background: int = 2400) -> list[dict[str, Any]]:
    """The demo's events, oldest first: background traffic over the last DAYS days (quieter
    at night) and the bursts behind the demo cases. Same seed, same events and ids."""
    rng = random.Random(SEED)  # noqa: S311 - repeatable on purpose; no secret is drawn
    weights = [t.weight for t in TEMPLATES]
    span = DAYS * 86_400
    planned: list[tuple[float, Template, dict[str, Any]]] = []
    while len(planned) < background:
        ago = rng.uniform(0, span)
        hour = (anchor - timedelta(seconds=ago)).hour
        if hour < 7 and rng.random() < 0.6:  # night: fewer people, fewer events
            continue
        template = rng.choices(TEMPLATES, weights)[0]
        planned.append((ago, template, _values(rng)))
    for burst in BURSTS:
        template = _BY_TYPE[burst.event_type]
        for _ in range(burst.count):
            ago = burst.start_ago.total_seconds() - rng.uniform(
                0, burst.length.total_seconds())
            planned.append((ago, template, {**_values(rng), **burst.fixed}))
    events = []
    for number, (ago, template, values) in enumerate(planned, start=1):
        service = template.service
        events.append({
            "event_id": f"demo-{number:05d}",
            "timestamp": (anchor - timedelta(seconds=ago)).isoformat(),
            "severity": template.severity,
            "service": service,
            "component": template.component,
            "event_type": template.event_type,
            "environment": "production" if rng.random() < 0.95 else "staging",
            "host": f"{service}-{rng.randrange(1, HOSTS[service] + 1)}",
            "message": template.text.format(**values),
        })
    events.sort(key=lambda e: e["timestamp"])
    return events


def _event_ids(events: list[dict[str, Any]], event_type: str, count: int) -> list[str]:
    return [e["event_id"] for e in events if e["event_type"] == event_type][:count]


# --- cases ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseSpec:
    title: str
    kind: str
    priority: int
    opened_ago: timedelta  # the report or alert came in this long ago; the SLA counts from it
    opened_by: str  # a staff key
    reason: str
    assignee: str | None = None
    summary: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    links: tuple[str, int] | None = None  # (event type, how many) from the generated events
    notes: tuple[tuple[str, str], ...] = ()  # (staff key, text)
    path: tuple[str, ...] = ()  # statuses to move through, in order; "closed" is the close action
    evidence: str | None = None  # a request_evidence action's message


CASES = [
    CaseSpec("Chargeback spike on Northwind storefront", "fraud", 2, timedelta(hours=1),
             "priya", "FRAUD_SIGNAL",
             summary="Declines and chargebacks on Northwind orders tripled since this morning.",
             fields={"subject_user": "usr_nw_maria"}, tags=("chargeback", "payments"),
             links=("payment_failed", 2)),
    CaseSpec("Harassment in listing comments", "report", 3, timedelta(hours=10), "sam",
             "POLICY_VIOLATION", assignee="priya",
             summary="Two guests report abusive comments from the same host account.",
             fields={"subject_user": "usr_nw_jordan", "thread_id": "thr_88213"},
             tags=("harassment",), path=("triage",),
             notes=(("priya", "Read the thread: three comments cross the line, one is a threat. "
                              "Asking the reporters for screenshots of the deleted ones."),)),
    CaseSpec("API 5xx spike: database connection pool exhausted", "incident", 1,
             timedelta(hours=5), "lee", "SECURITY_INCIDENT", assignee="lee",
             summary="Checkout and listing pages failing; the pool waits on long-running "
                     "report queries.",
             tags=("incident", "api", "database"), links=("db_error", 3),
             path=("triage", "investigating"),
             notes=(("lee", "Pool at 20/20 since 09:10. A nightly report started in the "
                            "day shift holds connections for minutes."),
                    ("lee", "Killed the report job; waiting list is draining. Keeping this "
                            "open until the pool stays healthy for an hour."))),
    CaseSpec("Card testing from a single address", "fraud", 1, timedelta(minutes=40), "priya",
             "FRAUD_SIGNAL", assignee="priya",
             summary="Dozens of small declined authorisations across many cards from "
                     "185.220.101.47.",
             tags=("card-testing", "payments"), links=("card_testing", 3),
             path=("triage", "investigating"),
             notes=(("priya", "Same address, 5–40 cards a minute, all under 2 EUR. Asking ops "
                              "to rate-limit it at the edge."),)),
    CaseSpec("Dispute: order charged twice", "dispute", 2, timedelta(hours=10), "sam",
             "CUSTOMER_REQUEST", assignee="sam",
             summary="Guest says the same booking was charged twice on the same card.",
             fields={"subject_user": "usr_bp_aisha", "order_id": "ord_604117"},
             tags=("billing",), path=("triage", "investigating", "awaiting_user"),
             evidence="Please send the bank statement lines showing both charges.",
             notes=(("sam", "Only one capture on our side; the second may be a pending "
                            "authorisation. Waiting for the statement."),)),
    CaseSpec("Search results missing new listings after reindex", "incident", 3,
             timedelta(days=2, hours=3), "lee", "OPERATIONS", assignee="lee",
             tags=("search",), links=("index_error", 2),
             path=("triage", "investigating", "resolved"),
             notes=(("lee", "Mapping conflict on a new field; fixed the mapping and "
                            "re-indexed the 2,314 listings that failed."),)),
    CaseSpec("DMCA takedown: photo set on a Blue Peak listing", "dmca", 3, timedelta(days=3),
             "sam", "LEGAL_REQUEST", assignee="sam",
             fields={"subject_user": "usr_bp_kenji", "listing_id": "lst_55120"},
             tags=("dmca",), path=("triage", "investigating", "resolved", "closed"),
             notes=(("sam", "Notice is complete (work, owner, good-faith statement). Photos "
                            "removed; the host was told and may counter-notify."),)),
    CaseSpec("Spam report: duplicate listings", "report", 5, timedelta(days=1), "priya",
             "POLICY_VIOLATION", fields={"subject_user": "usr_spam_4417"}, tags=("spam",),
             path=("closed",),
             notes=(("priya", "Duplicates were already removed by the listing filter. "
                              "Dismissing."),)),
]


# --- operations -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OperationSpec:
    who: str
    operation: str
    params: dict[str, Any]
    reason: str
    approver: str | None = None  # decided by this member of staff; None: left pending
    ticket: str | None = None


def _operations() -> list[OperationSpec]:
    above = settings.FOUR_EYES_CREDIT_CENTS  # four-eyes applies above this
    return [
        OperationSpec("lee", "tenant_limit_override",
                      {"tenant_id": "ten_harbor", "limits": {"api_rpm": 2400}}, "OPERATIONS"),
        OperationSpec("lee", "tenant_policy_update",
                      {"tenant_id": "ten_bluepeak", "policy": {"instant_book": True}},
                      "CUSTOMER_REQUEST"),
        OperationSpec("sam", "tenant_credit_add",
                      {"tenant_id": "ten_bluepeak", "amount_cents": 2_500}, "CUSTOMER_REQUEST"),
        OperationSpec("sam", "tenant_credit_add",
                      {"tenant_id": "ten_northwind", "amount_cents": above + 25_000},
                      "CUSTOMER_REQUEST", approver="robin"),
        OperationSpec("sam", "tenant_credit_add",
                      {"tenant_id": "ten_harbor", "amount_cents": above + 70_000},
                      "CUSTOMER_REQUEST"),  # pending: for the person signing in to decide
        OperationSpec("priya", "user_suspend", {"user_id": "usr_spam_4417", "days": 30},
                      "POLICY_VIOLATION"),
    ]


# --- loading ----------------------------------------------------------------------------------

@dataclass
class DemoResult:
    created: Counter = field(default_factory=Counter)
    password: str | None = None  # the sign-in password, when this run set it
    shipped_entries: int = 0

    @property
    def changed(self) -> bool:
        return sum(self.created.values()) > 0


def demo_load(*, password: str | None = None,
              progress: Callable[[str], None] = lambda line: None) -> DemoResult:
    """Load (or complete) the demo data set. `password` is the sign-in user's; without one, a
    random one is made — and returned — when that user is created."""
    result = DemoResult()
    anchor = now().replace(second=0, microsecond=0)
    events = generate_events(anchor)
    ingested = events_ingest(actor=SYSTEM, data=_ndjson(events), fmt="ndjson", source=SOURCE)
    if ingested.rejected:
        raise RuntimeError(f"the demo's own events were refused: {ingested.errors[:3]}")
    result.created["events"] += ingested.accepted
    progress(f"events: {ingested.accepted} new, {ingested.duplicates} already there")

    for tenant_id, name, policy, limits in TENANTS:
        if not Tenant.objects.filter(pk=tenant_id).exists():
            platform.tenant_upsert(actor=SYSTEM, tenant_id=tenant_id, name=name, policy=policy,
                                   limits=limits, details={"billing_contact": f"billing@"
                                                           f"{tenant_id[4:]}.example"})
            result.created["tenants"] += 1
    for user_id, email, full_name, home in PLATFORM_USERS:
        if not PlatformUser.objects.filter(pk=user_id).exists():
            platform.platform_user_upsert(actor=SYSTEM, user_id=user_id, email=email,
                                          name=full_name, tenant_id=home)
            result.created["platform users"] += 1

    staff = _staff(result, password)
    progress(f"staff: {', '.join(f'{s.name} ({s.roles[0]})' for s in STAFF)}")
    for spec in CASES:
        _case(spec, staff, events, result)
    flagged = cases.cases_sla_sweep()  # what the worker does every minute, done now
    result.created["SLA breaches flagged"] += len(flagged)
    for op in _operations():
        _operation(op, staff, result)
    result.shipped_entries = audit_ship().entries
    return result


def _ndjson(events: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def _staff(result: DemoResult, password: str | None) -> dict[str, Actor]:
    actors = {}
    for spec in STAFF:
        user = StaffUser.objects.filter(email=spec.email).first()
        if user is None:
            secret = None
            if spec is SIGN_IN:
                secret = password or secrets.token_urlsafe(15)
                result.password = secret
            user = accounts.staff_user_create(actor=SYSTEM, email=spec.email, name=spec.name,
                                              roles=list(spec.roles), password=secret)
            result.created["staff"] += 1
        actors[spec.key] = Actor.staff(user, via="demo")
    return actors


def _case(spec: CaseSpec, staff: dict[str, Actor], events: list[dict[str, Any]],
          result: DemoResult) -> None:
    opener = staff[spec.opened_by]
    demo_staff = [a.staff_user for a in staff.values()]
    case = Case.objects.filter(title=spec.title, created_by__in=demo_staff).first()
    if case is None:
        case = _open(spec, opener)
        result.created["cases"] += 1
    if spec.assignee and case.assigned_to_id is None:
        case = cases.case_assign(actor=opener, case=case,
                                 assignee=staff[spec.assignee].staff_user,
                                 reason_code="OPERATIONS")
        result.created["assignments"] += 1
    worker = staff[spec.assignee or spec.opened_by]
    tags = set(case.case_tags.values_list("tag__name", flat=True))
    for tag in spec.tags:
        if tag not in tags:
            cases.case_tag_add(actor=worker, case=case, name=tag, reason_code=spec.reason)
            result.created["tags"] += 1
    if spec.links:
        wanted = _event_ids(events, *spec.links)
        linked = set(CaseEvent.objects.filter(case=case).values_list("event_id", flat=True))
        for event in Event.objects.filter(source=SOURCE, raw_payload__event_id__in=wanted):
            if event.id not in linked:
                cases.case_event_link(actor=worker, case=case, event_id=event.id,
                                      reason_code="INVESTIGATION")
                result.created["event links"] += 1
    written = set(case.notes.values_list("content", flat=True))
    for author, text in spec.notes:
        if text not in written:
            cases.case_note_add(actor=staff[author], case=case, content=text,
                                reason_code="INVESTIGATION")
            result.created["notes"] += 1
    if spec.evidence and not CaseAction.objects.filter(case=case,
                                                       action="request_evidence").exists():
        cases.case_action_take(actor=worker, case=case, action="request_evidence",
                               payload={"message": spec.evidence, "due_days": 7},
                               reason_code=spec.reason)
        result.created["case actions"] += 1
    for status in _remaining(case.status, spec.path):
        case.refresh_from_db()
        if status == "closed":
            cases.case_action_take(actor=worker, case=case, action="close",
                                   payload={"message": spec.notes[-1][1] if spec.notes else
                                            "Closed."}, reason_code=spec.reason)
        else:
            cases.case_transition(actor=worker, case=case, to=status,
                                  reason_code="INVESTIGATION")
        result.created["status changes"] += 1


def _open(spec: CaseSpec, opener: Actor) -> Case:
    """Open the case as of when its report or alert came in, so its SLA clock (and the
    queues: breached, breaching soon) reads as it would have. The ledger records the entry at
    the moment it is written."""
    return cases.case_create(actor=opener, kind=spec.kind, title=spec.title,
                             priority=spec.priority, summary=spec.summary,
                             reason_code=spec.reason, opened_at=now() - spec.opened_ago,
                             **spec.fields)


def _remaining(current: str, path: tuple[str, ...]) -> Iterator[str]:
    """The statuses still to go through. A case someone has since moved off the demo's path
    is left where they put it."""
    if current == "new":
        yield from path
    elif current in path:
        yield from path[path.index(current) + 1:]


def _operation(spec: OperationSpec, staff: dict[str, Actor], result: DemoResult) -> None:
    actor = staff[spec.who]
    if _done(spec, actor):
        return
    outcome = platform.operation_request(actor=actor, operation=spec.operation,
                                         params=spec.params, reason_code=spec.reason,
                                         ticket_ref=spec.ticket)
    result.created["operations"] += 1
    if outcome.approval is not None and spec.approver:
        platform.approval_decide(actor=staff[spec.approver], approval=outcome.approval,
                                 approve=True, reason_code="COMPLIANCE_REVIEW")
        result.created["approvals decided"] += 1


def _done(spec: OperationSpec, actor: Actor) -> bool:
    """Whether this operation was already asked for, by this person, about this subject."""
    subject_key = "user_id" if "user_id" in spec.params else "tenant_id"
    subject = spec.params[subject_key]
    if platform.needs_approval(operation=spec.operation, params=spec.params):
        return Approval.objects.filter(operation=spec.operation, requested_by=actor.staff_user,
                                       **{f"params__{subject_key}": subject}).exists()
    return AuditEntry.objects.filter(action=operation_named(spec.operation).action,
                                     resource=f"{subject_key[:-3]}:{subject}",
                                     actor_user_id=actor.staff_user.id).exists()
