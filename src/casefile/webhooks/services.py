"""Receiving vendor webhooks and applying them to verification cases (docs/webhooks.md).

`webhook_receive` is the whole of a delivery, in this order:

1. the vendor is known (404) and the body within `WEBHOOK_MAX_BYTES` (413);
2. the vendor has a secret (404 `webhook_not_configured` otherwise: never accept unsigned);
3. the signature is checked on the raw bytes by the vendor layer, before anything is parsed.
   A bad one is a 401 and a log row holding the body's hash and size only: an unproven body is
   neither stored nor read;
4. the verified body is parsed (422 `payload_invalid` and a log row otherwise);
5. one transaction: a repeat of the vendor's event id is a `duplicate` (nothing changes); else
   the raw body goes into the evidence vault, the case is found by its vendor session, and the
   state the vendor reports is reached step by step as the transition table allows, each step
   audited by the trust app's verb as `Actor.system("webhook:<vendor>")`; the log row records
   what was done. A delivery for a session no case has yet is `held_for_case` and applied by
   `webhook_deliveries_apply_held` when the case is opened.

Every outcome of a verified delivery answers 2xx — the vendor retries anything else, and a
retry cannot change a duplicate, an out-of-order event or a move the table refuses. Only an
unexpected failure answers 503 (`webhook_failed`, logged with nothing changed), so the vendor
retries it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.db import IntegrityError, transaction

from casefile.audit.actor import Actor
from casefile.core import ids
from casefile.core.errors import AppError, NotFound, PayloadTooLarge, ServiceUnavailable
from casefile.core.timeutil import now
from casefile.evidence import services as evidence
from casefile.trust import vendors
from casefile.trust.vendors import (
    Delivery,
    PayloadInvalid,
    SignatureInvalid,
    checkr,
    onfido,
    persona,
    veriff,
)
from casefile.webhooks import cases
from casefile.webhooks.models import Outcome, WebhookDelivery, WebhookResolution
from casefile.webhooks.pii import pii_map

log = logging.getLogger(__name__)

SIGNATURE_HEADERS = {m.NAME: m.SIGNATURE_HEADER for m in (persona, onfido, veriff, checkr)}
# The headers kept in the log besides the vendor's signature header. Never a secret: Veriff's
# X-AUTH-CLIENT (its API key) is not kept.
KEPT_HEADERS = ("Content-Type", "User-Agent")
MAX_HEADER_CHARS = 1000


class WebhookNotConfigured(NotFound):
    code = "webhook_not_configured"


class WebhookFailed(ServiceUnavailable):
    code = "webhook_failed"


@dataclass(frozen=True)
class Receipt:
    """What a delivery came to: the log row, and the outcome the vendor is told."""

    delivery: WebhookDelivery
    outcome: str
    # For a held delivery applied later, or a duplicate: the row it refers to.
    verification_case_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"received": True, "delivery_id": self.delivery.id, "outcome": self.outcome}


def actor_for(vendor: str) -> Actor:
    """Casefile itself, acting on a vendor's verified word: it records the registry's system
    reasons (EVIDENCE_INTAKE, TRUST_SIGNAL) and names the vendor in every entry's metadata."""
    return Actor.system(f"webhook:{vendor}")


def body_limit() -> int:
    """`WEBHOOK_MAX_BYTES`, and never more than the vault takes: a verified body that could not
    be stored would fail, and be retried, for ever."""
    return min(settings.WEBHOOK_MAX_BYTES, settings.EVIDENCE_MAX_BYTES)


def secrets_for(vendor: str) -> list[str]:
    """The secrets configured for `vendor` (`WEBHOOK_SECRETS`): a list, or one string. Blank
    entries are dropped, so a blank setting is no secret at all."""
    configured = (getattr(settings, "WEBHOOK_SECRETS", None) or {}).get(vendor)
    if isinstance(configured, str):
        configured = [configured]
    if not isinstance(configured, list | tuple):
        return []
    return [s for s in configured if isinstance(s, str) and s.strip()]


def _kept_headers(vendor: str, headers: Mapping[str, str]) -> dict[str, str]:
    wanted = {h.lower(): h for h in (*KEPT_HEADERS, SIGNATURE_HEADERS.get(vendor, "")) if h}
    kept = {}
    for key, value in headers.items():
        name = wanted.get(key.lower())
        if name is not None:
            kept[name] = str(value)[:MAX_HEADER_CHARS].replace("\x00", "")
    return kept


def _clip(text: str | None, limit: int) -> str:
    return (text or "").replace("\x00", "")[:limit]


def _write(**fields: Any) -> WebhookDelivery:
    """Append one log row (joining the caller's transaction, if any)."""
    with transaction.atomic():
        return WebhookDelivery.objects.create(**fields)


def _event_key(d: Delivery) -> str:
    """The event id as logged and compared: as sent when it fits the column (and holds no NUL,
    which PostgreSQL text cannot), else a digest of it, so that a repeat still matches."""
    if len(d.event_id) <= 300 and "\x00" not in d.event_id:
        return d.event_id
    return "sha256:" + hashlib.sha256(d.event_id.encode()).hexdigest()


def _session(d: Delivery) -> str:
    """The session id as logged and looked up (a case's `vendor_session_id` holds 200)."""
    return _clip(d.session_id, 200)


def _delivery_fields(d: Delivery) -> dict[str, Any]:
    return {"event_id": _event_key(d), "event_type": _clip(d.event_type, 200),
            "vendor_time": d.occurred_at, "session_id": _session(d),
            "vendor_status": _clip(d.vendor_status, 100), "case_state": d.case_state or "",
            "decision": _clip(d.decision, 60)}


# --- receiving ----------------------------------------------------------------------------------
def webhook_receive(*, vendor: str, body: bytes, headers: Mapping[str, str],
                    remote_addr: str | None = None, at: datetime | None = None) -> Receipt:
    """Verify, log and apply one delivery (the module's docstring). Raises UnknownVendor (404),
    PayloadTooLarge (413), WebhookNotConfigured (404), SignatureInvalid (401), PayloadInvalid
    (422) or WebhookFailed (503); each after its log row, except the first two."""
    v = vendors.vendor(vendor)
    limit = body_limit()
    if len(body) > limit:
        raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes",
                              details={"limit_bytes": limit})
    received_at = at or now()
    base: dict[str, Any] = {
        "vendor": v.name, "received_at": received_at, "remote_addr": _clip(remote_addr, 45),
        "body_sha256": hashlib.sha256(body).hexdigest(), "body_size": len(body),
        "headers": _kept_headers(v.name, headers)}

    secrets = secrets_for(v.name)
    if not secrets:
        row = _write(**base, signature_ok=False, signature_reason="no secret configured",
                     outcome=Outcome.NOT_CONFIGURED)
        raise WebhookNotConfigured(
            f"webhooks from {v.name} are not configured here (no secret in WEBHOOK_SECRETS): "
            "nothing is accepted unsigned", details={"vendor": v.name, "delivery_id": row.id})
    try:
        v.verify(headers, body, secrets, now=received_at)
    except SignatureInvalid as exc:
        _write(**base, signature_ok=False, signature_reason=_clip(exc.reason, 200),
               outcome=Outcome.SIGNATURE_INVALID)
        raise
    try:
        delivery = v.parse(body)
    except PayloadInvalid as exc:
        _write(**base, signature_ok=True, outcome=Outcome.PAYLOAD_INVALID,
               detail=_clip(exc.message, 500))
        raise

    try:
        return _accept(v.name, body, base, delivery)
    except IntegrityError as exc:
        first = _first(v.name, _event_key(delivery))
        if first is None:
            return _failed(base, delivery, exc)
        # Another request recorded this event first, between our check and our insert: this
        # one changed nothing (its transaction rolled back) and is the duplicate.
        return _duplicate(base, delivery, first)
    except Exception as exc:  # noqa: BLE001 - logged, and answered 503 so the vendor retries
        return _failed(base, delivery, exc)


def _failed(base: dict[str, Any], delivery: Delivery, exc: Exception) -> NoReturn:
    """Nothing of the delivery was kept (its transaction rolled back): log that it failed and
    answer 503, so the vendor sends it again."""
    log.error("webhook from %s (event %s) failed", base["vendor"], delivery.event_id,
              exc_info=exc)
    message = exc.message if isinstance(exc, AppError) else str(exc)
    row = _write(**base, **_delivery_fields(delivery), signature_ok=True, outcome=Outcome.FAILED,
                 detail=_clip(f"{type(exc).__name__}: {message}", 500))
    raise WebhookFailed(
        "the delivery could not be processed; nothing was changed and it may be retried",
        details={"delivery_id": row.id}) from None


def _first(vendor: str, event_id: str) -> WebhookDelivery | None:
    return (WebhookDelivery.objects.filter(vendor=vendor, event_id=event_id, first_receipt=True)
            .first())


def _duplicate(base: dict[str, Any], delivery: Delivery,
               first: WebhookDelivery | None = None) -> Receipt:
    first = first or _first(base["vendor"], _event_key(delivery))
    same = first is not None and first.body_sha256 == base["body_sha256"]
    detail = (f"event first received as {first.id}" if first else "event already received")
    if first is not None and not same:
        detail += f"; this body differs from the first (sha256 {first.body_sha256[:12]}…)"
    row = _write(**base, **_delivery_fields(delivery), signature_ok=True,
                 outcome=Outcome.DUPLICATE, detail=detail,
                 verification_case_id=first.verification_case_id if first else "")
    return Receipt(row, Outcome.DUPLICATE, row.verification_case_id)


def _accept(vendor: str, body: bytes, base: dict[str, Any], delivery: Delivery) -> Receipt:
    with transaction.atomic():
        # The case first: its lock orders two deliveries for one case, so a concurrent repeat
        # that waited for it sees the first receipt here (and the partial unique index catches
        # a repeat with no case to wait on).
        session = _session(delivery)
        case = cases.case_for(vendor, session) if session else None
        first = _first(vendor, _event_key(delivery))
        if first is not None:
            return _duplicate(base, delivery, first)
        delivery_id = ids.new_whd_id()
        blob = evidence.evidence_upload(
            actor=actor_for(vendor), data=body, filename=f"{vendor}-{delivery_id}.json",
            content_type="application/json", pii_map=pii_map(vendor, delivery.raw),
            source=f"webhook:{vendor}", platform_user_id=cases.platform_user_id(case))
        outcome: str
        if session and case is None:
            outcome, detail = Outcome.HELD_FOR_CASE, (
                f"no verification case has {vendor} session {session} yet")
        else:
            outcome, detail = _apply(vendor, case, delivery, blob.id)
        row = WebhookDelivery.objects.create(
            id=delivery_id, **base, **_delivery_fields(delivery), signature_ok=True,
            evidence_id=blob.id, verification_case_id=case.pk if case is not None else "",
            outcome=outcome, detail=_clip(detail, 500), first_receipt=True)
    return Receipt(row, outcome, row.verification_case_id)


def _apply(vendor: str, case: Any, delivery: Delivery, evidence_id: str) -> tuple[str, str]:
    """Move `case` to the state `delivery` reports, one audited step at a time. Returns the
    outcome and what the log says about it. Runs inside the caller's transaction, with the case
    locked (`cases.case_for`); a refused move leaves nothing of its earlier steps behind."""
    if case is None or delivery.case_state is None:
        why = ("not about a verification session" if case is None else
               f"{vendor} status {delivery.vendor_status!r} asks for no case state")
        return Outcome.NO_EFFECT, why
    last = case.last_vendor_event_at
    if delivery.occurred_at is not None and last is not None and delivery.occurred_at < last:
        return Outcome.OUT_OF_ORDER, (
            f"vendor time {delivery.occurred_at.isoformat()} is before the last event applied "
            f"to {case.pk} ({last.isoformat()})")
    steps = cases.route(case, delivery.case_state)
    if steps is None:
        return Outcome.REJECTED, (f"{case.pk} is {case.state}: the transition table allows no "
                                  f"move to {delivery.case_state} without a person")
    if not steps:
        return Outcome.NO_EFFECT, f"{case.pk} is already {case.state}"
    actor = actor_for(vendor)
    try:
        with transaction.atomic():
            for index, state in enumerate(steps):
                final = index == len(steps) - 1
                # The vendor's word is the decision of a decided case only (a `consider` that
                # sends a case to review stays in the log).
                decided = final and state in cases.DECIDED
                case = cases.move(actor=actor, case=case, to=state,
                                  decision=delivery.decision if decided else None,
                                  evidence_ids=[evidence_id] if final else None,
                                  vendor_event_at=delivery.occurred_at)
    except AppError as exc:  # Conflict: the table refused; anything else the case refused
        return Outcome.REJECTED, f"refused by the verification case: {exc.message}"
    return Outcome.APPLIED, " → ".join(steps)


# --- held deliveries -----------------------------------------------------------------------------
def held_deliveries(vendor: str, session_id: str):
    """The deliveries held for this session and not yet resolved, in the vendor's order."""
    return (WebhookDelivery.objects
            .filter(vendor=vendor, session_id=session_id, outcome=Outcome.HELD_FOR_CASE,
                    first_receipt=True, resolution__isnull=True)
            .order_by("vendor_time", "received_at", "id"))


def webhook_deliveries_apply_held(*, case: Any) -> list[WebhookResolution]:
    """Apply what was held for `case`'s vendor session, oldest (vendor time) first, each
    resolved by a `WebhookResolution` row with its outcome; `case` is then refreshed. Called by
    the trust app when it opens a case with a vendor session, inside that transaction (nothing
    applies if the opening rolls back), and by the periodic sweep for a case opened while a
    delivery was in flight."""
    if not case.vendor or not case.vendor_session_id:
        return []
    resolved = []
    with transaction.atomic():
        held = list(held_deliveries(case.vendor, case.vendor_session_id))
        if not held:
            return []
        locked = cases.case_for(case.vendor, case.vendor_session_id)
        if locked is None:
            return []
        for row in held:
            delivery = Delivery(vendor=row.vendor, event_id=row.event_id,
                                event_type=row.event_type, occurred_at=row.vendor_time,
                                session_id=row.session_id, vendor_status=row.vendor_status or None,
                                case_state=row.case_state or None,  # type: ignore[arg-type]
                                decision=row.decision or None, raw={})
            outcome, detail = _apply(row.vendor, locked, delivery, row.evidence_id)
            locked.refresh_from_db()
            resolved.append(WebhookResolution.objects.create(
                delivery=row, resolved_at=now(), outcome=outcome,
                verification_case_id=locked.pk, detail=_clip(detail, 500)))
    case.refresh_from_db()
    return resolved


def webhook_deliveries_sweep_held() -> int:
    """Apply held deliveries whose case now exists: the case was opened while the delivery was
    in flight, so neither saw the other. Returns how many were resolved."""
    from casefile.trust.models import VerificationCase

    count = 0
    sessions = (WebhookDelivery.objects
                .filter(outcome=Outcome.HELD_FOR_CASE, first_receipt=True,
                        resolution__isnull=True)
                .values_list("vendor", "session_id").distinct())
    for vendor, session_id in list(sessions):
        case = VerificationCase.objects.filter(vendor=vendor,
                                               vendor_session_id=session_id).first()
        if case is not None:
            count += len(webhook_deliveries_apply_held(case=case))
    return count


# --- PII expiry of delivery bodies ------------------------------------------------------------
@dataclass
class BodyExpiryReport:
    shredded: list[str] = field(default_factory=list)  # evidence ids
    held: list[str] = field(default_factory=list)  # under a legal hold: kept, tried again
    failed: list[dict[str, Any]] = field(default_factory=list)  # {blob_id, error}

    def as_dict(self) -> dict[str, Any]:
        return {"shredded": self.shredded, "held": self.held, "failed": self.failed}


EXPIRY_BATCH = 500


def webhook_bodies_expire(*, at: datetime | None = None) -> BodyExpiryReport:
    """Crypto-shred the bodies the verification cases' own PII expiry does not reach (DESIGN
    9.3: raw bodies expire with the case's PII): those of deliveries about a case whose PII
    has expired (out-of-order, refused or no-effect deliveries are not in its evidence refs),
    and those no case ever claimed, `VERIFICATION_PII_DAYS` after they arrived. As Casefile
    (`pii-expiry`, audited by `evidence_shred`); a blob under a legal hold is kept and reported.
    One blob per transaction."""
    from django.db.models import Q

    from casefile.evidence.models import EvidenceBlob
    from casefile.trust.models import VerificationCase

    moment = at or now()
    cutoff = moment - timedelta(days=settings.VERIFICATION_PII_DAYS)
    system = Actor.system("pii-expiry")
    report = BodyExpiryReport()
    live = EvidenceBlob.objects.filter(source__startswith="webhook:", shredded_at__isnull=True)
    expired_cases = VerificationCase.objects.filter(pii_expired_at__isnull=False).values("id")
    # One blob per delivery (a duplicate stores none), so a blob has one case or none.
    due = (WebhookDelivery.objects.filter(evidence_id__in=live.values("id"))
           .filter(Q(verification_case_id__in=expired_cases)
                   | Q(resolution__verification_case_id__in=expired_cases)
                   | Q(verification_case_id="", resolution__isnull=True,
                       received_at__lte=cutoff))
           .order_by("received_at", "id").values_list("evidence_id", flat=True))
    for blob_id in list(dict.fromkeys(due[:EXPIRY_BATCH])):
        try:
            with transaction.atomic():
                blob = EvidenceBlob.objects.get(pk=blob_id)
                evidence.evidence_shred(actor=system, blob=blob)
            report.shredded.append(blob_id)
        except AppError as exc:
            if exc.code == "legal_hold":
                report.held.append(blob_id)
            else:
                report.failed.append({"blob_id": blob_id, "error": exc.message[:500]})
        except Exception as exc:  # noqa: BLE001 - one blob's failure must not stop the rest
            report.failed.append({"blob_id": blob_id, "error": str(exc)[:500]})
    return report
