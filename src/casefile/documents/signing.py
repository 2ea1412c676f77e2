"""Signing (DESIGN 9.5; docs/documents.md, "Signing"): sending an issued pack's documents for
signature, recording what happens to each envelope, and the built-in `local` provider's links.

**Sign events** (`sign_event_record`) are the one way an envelope moves. Whoever reports an event
— a vendor's verified webhook, or a signer on a `local` signing link — it is

- recorded once: idempotent by (provider, provider event id). A repeat changes nothing and answers
  as the first did (its outcome is kept in the first's ledger entry);
- kept whole: the raw payload and the headers that sign it (`signature_header`, JSON), so
  `casefile documents verify` can check the signature again years later;
- a ledger entry (`DOCUMENT_SIGN_EVENT`, as Casefile acting on the provider's word, with the
  signer's IP and user agent where Casefile saw them), in the same transaction;
- applied only forward: `none → sent → completed|voided|expired`. An event that would not move
  the envelope forward (a late `viewed`, a `voided` after `completed`) is recorded, not applied
  (`out_of_order` when it is older than an event already recorded, `recorded` otherwise). A
  forward move always applies, however late: the status can only go where a later event would
  have taken it too.

When an envelope moves:
- `declined`, `voided` or `expired`: the envelope ends (`voided`, or `expired`), and a decline or
  expiry also voids the pack (`documents.services.doc_pack_void`, in this transaction) and the
  pack's other open envelopes (their status here; the vendor's own envelope after commit);
- `completed`: the signed copy is fetched (`provider.signed_pdf`; `local` renders the v1 PDF again
  with a certificate page) and stored as `{doc_id}_v2.pdf`; when every document of the pack is
  complete the pack is `signed` (the transition table in `documents.policy`);
- whenever the envelope ends, `envelope_{doc_id}.json` (provider, envelope id, every event,
  signer evidence) is written once to the store.

An event for an envelope no document has is refused with `UnknownEnvelope` and nothing kept (the
webhook endpoint acknowledges it: see `signing_views.provider_webhook`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.db.models import Max

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core import ids
from casefile.core.canonical import canonical_json
from casefile.core.errors import Conflict, NotFound, ValidationFailed
from casefile.core.timeutil import isoformat, now, parse_iso
from casefile.documents import generation, services
from casefile.documents.esign import local
from casefile.documents.esign.base import EVENT_NAMES, Provider, ProviderEvent, Signer
from casefile.documents.esign.registry import provider_named
from casefile.documents.models import DocPack, Document, SignEvent, SigningLink
from casefile.documents.policy import EnvelopeStatus, PackStatus, SignEventKind, can_move

log = logging.getLogger(__name__)

# What a signer agrees to on a `local` signing link, shown beside the checkbox and kept, word for
# word, in the `signed` event's evidence and on the certificate page.
CONSENT_TEXT = (
    "I agree to sign this document electronically. I have read it; the name I type below is my "
    "signature, and it binds me as my handwritten signature would.")

ENDED = frozenset({EnvelopeStatus.COMPLETED, EnvelopeStatus.VOIDED, EnvelopeStatus.EXPIRED})
# The envelope's order: a status never moves to one of a lower or equal rank.
_RANK: dict[str, int] = {
    EnvelopeStatus.NONE: 0, EnvelopeStatus.SENT: 1, EnvelopeStatus.COMPLETED: 2,
    EnvelopeStatus.VOIDED: 2, EnvelopeStatus.EXPIRED: 2}
# The status each event asks for.
_STATUS_FOR: dict[str, str] = {
    SignEventKind.ENVELOPE_SENT: EnvelopeStatus.SENT, SignEventKind.VIEWED: EnvelopeStatus.SENT,
    SignEventKind.SIGNED: EnvelopeStatus.SENT, SignEventKind.DECLINED: EnvelopeStatus.VOIDED,
    SignEventKind.VOIDED: EnvelopeStatus.VOIDED, SignEventKind.EXPIRED: EnvelopeStatus.EXPIRED,
    SignEventKind.COMPLETED: EnvelopeStatus.COMPLETED,
}
# The events that end the pack with the envelope: the signers will not all sign it.
_VOIDS_PACK = frozenset({SignEventKind.DECLINED, SignEventKind.EXPIRED})
MAX_EVENT_ID = 200


class Outcome:
    APPLIED = "applied"  # moved the envelope forward
    RECORDED = "recorded"  # kept; the envelope is already there or further on
    OUT_OF_ORDER = "out_of_order"  # older than an event already recorded: kept, not applied


class UnknownEnvelope(NotFound):
    code = "unknown_envelope"


@dataclass(frozen=True)
class Recorded:
    """What an event came to: its row, what was done, and whether it was a repeat."""

    sign_event: SignEvent
    outcome: str
    duplicate: bool = False
    envelope_status: str = ""
    pack_status: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"sign_event_id": self.sign_event.id, "outcome": self.outcome,
                "duplicate": self.duplicate, "envelope_status": self.envelope_status,
                "pack_status": self.pack_status}


def system_actor(provider: str, *, ip_address: str | None = None, user_agent: str = "",
                 **context: Any) -> Actor:
    """Casefile acting on a provider's word (or a signer's, on a local link: their address and
    browser are the entry's)."""
    return Actor(user=None, ip_address=ip_address or None, user_agent=user_agent[:512],
                 context={"via": f"esign:{provider}", **context})


def event_key(event_id: str) -> str:
    """The provider's event id as stored and compared: as sent when it fits, else a digest."""
    if len(event_id) <= MAX_EVENT_ID and "\x00" not in event_id:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def payload_text(raw_body: bytes | str) -> str:
    """The raw body as stored (`provider_payload` is text): refused unless it is UTF-8 without
    NUL, so the stored text gives back the very bytes its signature was computed over."""
    if isinstance(raw_body, str):
        text = raw_body
    else:
        try:
            text = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed("the webhook body is not UTF-8 text") from None
    if "\x00" in text:
        raise ValidationFailed("the webhook body holds a NUL character")
    return text


def signer_roles(document: Document) -> list[dict[str, Any]]:
    """The template's signer roles in signing order: `[{role, required, order}]`."""
    roles = [r for r in (document.template.signer_roles or []) if isinstance(r, dict)]
    return sorted(roles, key=lambda r: (int(r.get("order") or 0), str(r.get("role"))))


def required_roles(document: Document) -> set[str]:
    return {str(r["role"]) for r in signer_roles(document) if r.get("required", True)}


def party(document: Document, role: str) -> dict[str, Any]:
    """Who signs as `role`: the document's signer map, else the leg's parties."""
    found = (document.signer_map_json or {}).get(role)
    if not isinstance(found, dict):
        found = (document.pack.leg.parties or {}).get(role)
    return found if isinstance(found, dict) else {}


def signed_roles(document: Document) -> set[str]:
    return set(SignEvent.objects.filter(document=document, event=SignEventKind.SIGNED)
               .exclude(actor_role="").values_list("actor_role", flat=True))


def _complete(document: Document) -> bool:
    """Whether `document` needs nothing more for its pack to be signed."""
    if document.envelope_status == EnvelopeStatus.COMPLETED:
        return True
    # Never sent, because nobody is required to sign it: nothing to wait for.
    return document.envelope_status == EnvelopeStatus.NONE and not required_roles(document)


# --- recording ---------------------------------------------------------------------------------
def sign_event_record(*, provider: Provider | str, event: ProviderEvent,
                      raw_body: bytes | str, signature_header: str = "",
                      received_at: datetime | None = None, signer_name: str = "",
                      ip_address: str | None = None, user_agent: str = "") -> Recorded:
    """Record one provider event and apply it to its envelope (the module's docstring). Raises
    UnknownEnvelope (nothing kept) for an envelope no document has; a provider failure while
    fetching the signed copy rolls everything back (the provider retries the delivery)."""
    name = provider if isinstance(provider, str) else provider.name
    if event.event not in EVENT_NAMES:
        raise ValidationFailed(f"unknown sign event {event.event!r}")
    key = event_key(event.event_id)
    text = payload_text(raw_body)
    try:
        return _record(name, provider, event, key, text, signature_header,
                       received_at or now(), signer_name, ip_address, user_agent)
    except IntegrityError:
        # The same event, recorded by a concurrent delivery between our look and our insert.
        first = SignEvent.objects.filter(provider=name, provider_event_id=key).first()
        if first is None:
            raise
        return _repeat(first)


def _repeat(first: SignEvent) -> Recorded:
    entry = AuditEntry.objects.filter(pk=first.audit_entry_id).only("metadata").first()
    meta = entry.metadata if entry is not None else {}
    return Recorded(first, str(meta.get("outcome", Outcome.RECORDED)), duplicate=True,
                    envelope_status=str(meta.get("envelope_status_after", "")),
                    pack_status=str(meta.get("pack_status_after", "")))


def _locked(provider: str, envelope_id: str) -> tuple[Document, DocPack] | None:
    """The envelope's document and its pack, locked pack first (as the pack's own verbs lock)."""
    found = (Document.objects.filter(envelope_provider=provider, envelope_id=envelope_id)
             .values_list("pk", "pack_id").first())
    if found is None:
        return None
    pack = DocPack.objects.select_for_update().get(pk=found[1])
    document = (Document.objects.select_for_update().select_related("template")
                .get(pk=found[0]))
    document.pack = pack
    return document, pack


def _record(name: str, provider: Provider | str, event: ProviderEvent, key: str, text: str,
            signature_header: str, received_at: datetime, signer_name: str,
            ip_address: str | None, user_agent: str) -> Recorded:
    with transaction.atomic():
        locked = _locked(name, event.envelope_id)
        first = SignEvent.objects.filter(provider=name, provider_event_id=key).first()
        if first is not None:
            return _repeat(first)
        if locked is None:
            raise UnknownEnvelope(f"no document has {name} envelope {event.envelope_id!r}",
                                  details={"provider": name, "envelope_id": event.envelope_id})
        document, pack = locked
        role, who = _signer_of(document, event)
        row = SignEvent(
            id=ids.new_dse_id(), document=document, provider=name, provider_event_id=key,
            event=event.event, actor_role=role, actor_user_id=str(who.get("user_id") or "")[:40],
            actor_email=(event.signer_email or str(who.get("email") or ""))[:320],
            actor_name=(signer_name or str(who.get("name") or ""))[:200],
            ip_address=(ip_address or "")[:64], user_agent=user_agent[:500],
            provider_payload=text, signature_header=signature_header,
            occurred_at=event.occurred_at, received_at=received_at)

        before = {"envelope_status": document.envelope_status, "pack_status": pack.status}
        target = _STATUS_FOR[event.event]
        newest = (SignEvent.objects.filter(document=document)
                  .aggregate(newest=Max("occurred_at"))["newest"])
        if _RANK[target] > _RANK[document.envelope_status]:
            outcome = Outcome.APPLIED
        elif newest is not None and event.occurred_at < newest:
            outcome = Outcome.OUT_OF_ORDER
        else:
            outcome = Outcome.RECORDED

        effects: dict[str, Any] = {}
        if outcome == Outcome.APPLIED:
            effects = _apply(name, provider, document, pack, row, target, event)
        after = {"envelope_status": document.envelope_status, "pack_status": pack.status}
        entry = ledger.record(
            actor=system_actor(name, ip_address=ip_address, user_agent=user_agent),
            action="DOCUMENT_SIGN_EVENT", resource=f"document:{document.id}",
            before=before, after=after, target_user_id=row.actor_user_id or None,
            metadata={"sign_event_id": row.id, "pack_id": pack.id, "provider": name,
                      "envelope_id": event.envelope_id, "provider_event_id": key,
                      "event": event.event, "signer_role": role, "outcome": outcome,
                      "occurred_at": isoformat(event.occurred_at),
                      "payload_sha256": hashlib.sha256(text.encode()).hexdigest(),
                      "envelope_status_after": document.envelope_status,
                      "pack_status_after": pack.status, **effects})
        row.audit_entry_id = entry.id
        row.save(force_insert=True)
    return Recorded(row, outcome, envelope_status=document.envelope_status,
                    pack_status=pack.status)


def _signer_of(document: Document, event: ProviderEvent) -> tuple[str, dict[str, Any]]:
    """The signer role an event is about, and their party entry: the role the provider echoed,
    else the one whose e-mail it names."""
    role = event.signer_role or ""
    if not role and event.signer_email:
        wanted = event.signer_email.strip().lower()
        for candidate in signer_roles(document):
            entry = party(document, str(candidate.get("role")))
            if str(entry.get("email") or "").strip().lower() == wanted:
                role = str(candidate["role"])
                break
    return role[:20], (party(document, role) if role else {})


def _apply(name: str, provider: Provider | str, document: Document, pack: DocPack,
           row: SignEvent, target: str, event: ProviderEvent) -> dict[str, Any]:
    """Move the envelope to `target` and do what that sets off. Returns what the ledger entry
    says about it (the keys written, the pack's move)."""
    moment = now()
    effects: dict[str, Any] = {}
    document.envelope_status = target
    if target == EnvelopeStatus.COMPLETED:
        source = provider if not isinstance(provider, str) else provider_named(name)
        signed = source.signed_pdf(envelope_id=document.envelope_id)
        key, digest = _store(document, f"{document.id}_v2.pdf", signed)
        document.signed_pdf_key, document.signed_pdf_sha256 = key, digest
        effects["signed_pdf"] = {"key": key, "sha256": digest}
    if target in ENDED:
        key, digest = _store(document, f"envelope_{document.id}.json",
                             envelope_json(document, extra=[row]))
        document.envelope_key = key
        effects["envelope_json"] = {"key": key, "sha256": digest}
    document.updated_at = moment
    document.save(update_fields=["envelope_status", "signed_pdf_key", "signed_pdf_sha256",
                                 "envelope_key", "updated_at"])

    if target == EnvelopeStatus.COMPLETED and pack.status == PackStatus.ISSUED:
        others = Document.objects.filter(pack=pack).exclude(pk=document.pk).select_related(
            "template")
        if all(_complete(d) for d in others) and can_move(pack.status, PackStatus.SIGNED):
            services.pack_move(pack=pack, target=PackStatus.SIGNED, at=moment)
            effects["pack_signed"] = True
    elif event.event in _VOIDS_PACK and can_move(pack.status, PackStatus.VOIDED):
        # By the pack's transition table, with no entry of its own: this event's entry says
        # why. The pack's other open envelopes end with it.
        reason = f"{name} envelope {event.envelope_id} {event.event}"
        if event.reason:
            reason += f": {event.reason}"
        services.pack_move(pack=pack, target=PackStatus.VOIDED, at=moment, reason=reason[:500])
        effects["pack_voided"] = True
        effects["voided_envelopes"] = end_open_envelopes(
            pack, reason=f"the pack ended: {event.event}", exclude=document.pk)
    return effects


def end_open_envelopes(pack: DocPack, *, reason: str, exclude: str | None = None) -> list[str]:
    """End the pack's envelopes still open (its pack was voided): `voided` here now, with their
    envelope record written, and voided at their provider once this transaction commits (the
    provider's own `voided` event then arrives, is recorded and has nothing left to apply).
    Returns the documents whose envelope ended."""
    ended = []
    for other in (Document.objects.select_for_update().select_related("template")
                  .filter(pack=pack, envelope_status=EnvelopeStatus.SENT).exclude(pk=exclude)):
        other.pack = pack
        other.envelope_status, other.updated_at = EnvelopeStatus.VOIDED, now()
        other.envelope_key, _ = _store(other, f"envelope_{other.id}.json", envelope_json(other))
        other.save(update_fields=["envelope_status", "envelope_key", "updated_at"])
        ended.append(other.id)
        if other.envelope_provider != local.NAME:
            transaction.on_commit(_provider_void(other.envelope_provider, other.envelope_id,
                                                 reason))
    return ended


def _pack_voided(*, pack: DocPack, documents: list[Document], actor: Actor) -> None:
    """`doc_pack_void`'s listener: a pack voided by staff or the platform ends its envelopes."""
    end_open_envelopes(pack, reason="the doc pack was voided")


services.on_pack_voided(_pack_voided)


def _provider_void(provider: str, envelope_id: str, reason: str):
    def run() -> None:
        try:
            provider_named(provider).void(envelope_id=envelope_id, reason=reason)
        except Exception:  # noqa: BLE001 - the pack is void here whatever the vendor says
            log.warning("could not void %s envelope %s at the provider", provider, envelope_id,
                        exc_info=True)
    return run


def _store(document: Document, name: str, data: bytes) -> tuple[str, str]:
    """Write one of the document's objects once (E's layout and retention). A retry after a
    rolled-back attempt finds the object already there and keeps the first one written."""
    from casefile.documents import storage
    from casefile.storage import ObjectExists, get_store

    try:
        key = storage.document_store_object(document=document, name=name, data=data)
    except ObjectExists:
        key = storage.key_for(document, name)
        kept = get_store().get(key)
        if kept != data:
            log.warning("%s was already stored with other bytes; the first is kept", key)
        data = kept
    return key, hashlib.sha256(data).hexdigest()


# --- the envelope record and the certificate ---------------------------------------------------
def event_dict(event: SignEvent) -> dict[str, Any]:
    return {"sign_event_id": event.id, "provider_event_id": event.provider_event_id,
            "event": event.event, "occurred_at": isoformat(event.occurred_at),
            "received_at": isoformat(event.received_at), "signer_role": event.actor_role,
            "signer_user_id": event.actor_user_id, "signer_email": event.actor_email,
            "signer_name": event.actor_name, "ip_address": event.ip_address,
            "user_agent": event.user_agent,
            "payload_sha256": hashlib.sha256(event.provider_payload.encode()).hexdigest()}


def _events(document: Document, extra: Sequence[SignEvent] = ()) -> list[SignEvent]:
    rows = [*SignEvent.objects.filter(document=document), *extra]
    return sorted(rows, key=lambda e: (e.occurred_at, e.received_at, e.id))


def signer_evidence(document: Document, events: list[SignEvent] | None = None
                    ) -> list[dict[str, Any]]:
    """Each signer's `signed` event, in signing order: who, when, from where, how."""
    rows = events if events is not None else _events(document)
    order = {str(r.get("role")): i for i, r in enumerate(signer_roles(document))}
    firsts: dict[str, SignEvent] = {}
    for row in rows:
        if row.event == SignEventKind.SIGNED and row.actor_role not in firsts:
            firsts[row.actor_role] = row
    evidence = []
    for role, row in sorted(firsts.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])):
        evidence.append({
            "role": role, "name": row.actor_name, "email": row.actor_email,
            "signed_at": isoformat(row.occurred_at), "ip": row.ip_address,
            "user_agent": row.user_agent,
            "method": local.METHOD if row.provider == local.NAME else row.provider})
    return evidence


def envelope_json(document: Document, *, extra: Sequence[SignEvent] = ()) -> bytes:
    """`envelope_{doc_id}.json`: the envelope's whole story, canonical JSON."""
    events = _events(document, list(extra))
    return canonical_json({
        "doc_id": document.id, "pack_id": document.pack_id,
        "provider": document.envelope_provider, "envelope_id": document.envelope_id,
        "status": document.envelope_status, "v1_sha256": document.render_pdf_sha256,
        "v2_sha256": document.signed_pdf_sha256 or None,
        "events": [event_dict(e) for e in events],
        "signers": signer_evidence(document, events)})


def certificate_for(document: Document):
    """The certificate page of a `local` envelope's signed copy (documents.render)."""
    from casefile.documents.render import Certificate, SignerEvidence

    events = _events(document)
    signers = tuple(
        SignerEvidence(role=s["role"], name=s["name"], email=s["email"],
                       signed_at=parse_iso(s["signed_at"]), ip=s["ip"],
                       user_agent=s["user_agent"], method=s["method"])
        for s in signer_evidence(document, events))
    # When the envelope completed: its `completed` event, or while that is being recorded
    # (the signed copy is made in its transaction), the last signature, which set it off.
    ends = [e.occurred_at for e in events if e.event == SignEventKind.COMPLETED]
    completed = ends[0] if ends else max(
        (e.occurred_at for e in events if e.event == SignEventKind.SIGNED), default=now())
    return Certificate(doc_id=document.id, v1_sha256=document.render_pdf_sha256,
                       provider=document.envelope_provider, envelope_id=document.envelope_id,
                       completed_at=completed, signers=signers)


def render_signed_copy(document: Document) -> bytes:
    """The v1 pages and the certificate: what anyone can render again from the stored inputs
    and the recorded events."""
    from casefile.documents.render import render_pdf

    return render_pdf(generation.document_render_input(document),
                      certificate=certificate_for(document))


# --- sending -----------------------------------------------------------------------------------
@dataclass
class Sent:
    pack: DocPack
    provider: str
    # {doc_id: {"envelope_id": …, "signing_urls": {role: url} | None}}; a `local` link's token
    # is shown here once and never again.
    envelopes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"pack_id": self.pack.id, "provider": self.provider,
                "envelopes": self.envelopes}


def signers_for(document: Document) -> list[Signer]:
    """The template's signer roles in order, each with the leg's party for it. A required role
    with no party (or no e-mail) is refused, naming it; an optional one is left out."""
    signers, missing = [], []
    for entry in signer_roles(document):
        role = str(entry.get("role"))
        who = party(document, role)
        email = str(who.get("email") or "").strip()
        if not email:
            if entry.get("required", True):
                missing.append(role)
            continue
        signers.append(Signer(role=role, name=str(who.get("name") or email), email=email,
                              order=int(entry.get("order") or 0)))
    if missing:
        raise ValidationFailed(
            f"{document.id}: no signer for the required role(s) {', '.join(missing)}",
            details={"doc_id": document.id, "missing_roles": missing})
    return signers


def doc_pack_send(*, actor: Actor, pack: DocPack, provider: str,
                  reason_code: str | None = None) -> Sent:
    """Send an issued pack for signature: one envelope per document that has signers, each with
    the template's signer roles in order and the leg's parties. Records the envelope ids and
    `sent`, in one ledger entry (`DOC_PACK_SENT`). A vendor's envelopes already created are
    voided again if a later one fails."""
    actor.require(Perm.DOCUMENTS_ISSUE)
    # A person names their reason; a machine (the platform at checkout) records the registry's.
    reason = None if actor.is_machine else actor.reason(reason_code)
    source = provider_named(provider)
    store_get = _store_reader()
    created: list[tuple[str, str]] = []
    try:
        with transaction.atomic():
            locked = DocPack.objects.select_for_update().select_related("leg").filter(
                pk=pack.pk).first()
            if locked is None:
                raise NotFound(f"no doc pack {pack.pk}")
            if locked.status != PackStatus.ISSUED:
                raise Conflict(f"{locked.id} is {locked.status}: only an issued pack is sent "
                               "for signature", details={"pack_id": locked.id,
                                                         "status": locked.status})
            documents = list(Document.objects.select_for_update().select_related("template")
                             .filter(pack=locked).order_by("position", "id"))
            already = [d.id for d in documents if d.envelope_status != EnvelopeStatus.NONE]
            if already:
                raise Conflict(f"{locked.id} was already sent for signature",
                               details={"pack_id": locked.id, "documents": already})
            result = Sent(pack=locked, provider=source.name)
            moment = now()
            for document in documents:
                document.pack = locked
                signers = signers_for(document)
                if not signers:
                    continue
                envelope = source.create_envelope(
                    pdf=store_get(document.render_pdf_key), filename=f"{document.id}_v1.pdf",
                    title=document.title or document.template.name, signers=signers,
                    metadata={"doc_id": document.id, "pack_id": locked.id,
                              "leg_id": locked.leg_id})
                created.append((source.name, envelope.envelope_id))
                document.envelope_provider = source.name
                document.envelope_id = envelope.envelope_id
                document.envelope_status = EnvelopeStatus.SENT
                if not document.signer_map_json:
                    document.signer_map_json = {
                        s.role: {**party(document, s.role), "order": s.order} for s in signers}
                document.updated_at = moment
                document.save(update_fields=["envelope_provider", "envelope_id",
                                             "envelope_status", "signer_map_json",
                                             "updated_at"])
                result.envelopes[document.id] = {"envelope_id": envelope.envelope_id,
                                                 "signers": [s.role for s in signers]}
                if envelope.signing_urls:
                    result.envelopes[document.id]["signing_urls"] = dict(envelope.signing_urls)
            if not result.envelopes:
                raise ValidationFailed(f"{locked.id}: no document has signers to send to")
            ledger.record(
                actor=actor, action="DOC_PACK_SENT", resource=f"pack:{locked.id}",
                reason_code=reason, target_user_id=None,
                metadata={"provider": source.name, "leg_id": locked.leg_id,
                          "envelopes": {doc_id: {"envelope_id": e["envelope_id"],
                                                 "signers": e["signers"]}
                                        for doc_id, e in result.envelopes.items()}})
    except Exception:
        for name, envelope_id in created:
            if name != local.NAME:
                _provider_void(name, envelope_id, "sending the pack failed")()
        raise
    return result


def _store_reader():
    from casefile.storage import get_store

    store = get_store()

    def read(key: str) -> bytes:
        if not key:
            raise Conflict("the document has no stored PDF: issue the pack first")
        return store.get(key)
    return read


# --- the local provider's links ----------------------------------------------------------------
class LinkState:
    OPEN = "open"
    USED = "used"  # signed or declined through it
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the envelope or the pack ended
    WAITING = "waiting"  # an earlier required signer has not signed yet


@dataclass
class OpenedLink:
    link: SigningLink
    document: Document
    state: str
    signer: dict[str, Any]
    waiting_for: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.state == LinkState.OPEN


def link_for(token: str, *, lock: bool = False) -> SigningLink:
    """The link a token opens (NotFound otherwise: an unknown token and a malformed one look
    alike)."""
    if not token or len(token) > 200:
        raise NotFound("this signing link is not valid")
    rows = SigningLink.objects.select_related("document__template", "document__pack__leg")
    if lock:
        rows = rows.select_for_update()
    link = rows.filter(token_digest=local.token_digest(token)).first()
    if link is None or link.document.envelope_provider != local.NAME:
        raise NotFound("this signing link is not valid")
    return link


def link_state(link: SigningLink, *, at: datetime | None = None) -> OpenedLink:
    moment = at or now()
    document = link.document
    signer = party(document, link.role)
    opened = OpenedLink(link=link, document=document, state=LinkState.OPEN, signer=signer)
    if link.used_at is not None:
        opened.state = LinkState.USED
    elif (document.envelope_status != EnvelopeStatus.SENT
          or document.pack.status != PackStatus.ISSUED):
        opened.state = LinkState.WITHDRAWN
    elif link.expires_at <= moment:
        opened.state = LinkState.EXPIRED
    else:
        roles = signer_roles(document)
        mine = next((int(r.get("order") or 0) for r in roles if r.get("role") == link.role), 0)
        done = signed_roles(document)
        opened.waiting_for = [str(r["role"]) for r in roles
                              if int(r.get("order") or 0) < mine and r.get("required", True)
                              and r["role"] not in done]
        if opened.waiting_for:
            opened.state = LinkState.WAITING
    return opened


def _link_event(opened: OpenedLink, kind: str, *, at: datetime, evidence: dict[str, Any],
                ip_address: str | None, user_agent: str, typed_name: str = "") -> Recorded:
    link, document = opened.link, opened.document
    body = canonical_json({
        "provider": local.NAME, "envelope_id": document.envelope_id, "doc_id": document.id,
        "v1_sha256": document.render_pdf_sha256, "signing_link": link.pk, "role": link.role,
        "event": kind, "at": isoformat(at), "signer": {
            "name": str(opened.signer.get("name") or ""),
            "email": str(opened.signer.get("email") or ""),
            "user_id": str(opened.signer.get("user_id") or "")},
        "ip": ip_address or "", "user_agent": user_agent[:500], **evidence})
    header = orjson.dumps({local.SIGNATURE_HEADER: local.event_signature(link.token_digest,
                                                                         body)}).decode()
    event = ProviderEvent(event_id=f"link-{link.pk}-{kind}", envelope_id=document.envelope_id,
                          event=kind, occurred_at=at,  # type: ignore[arg-type]
                          signer_email=str(opened.signer.get("email") or "") or None,
                          signer_role=link.role, reason=str(evidence.get("reason") or ""))
    return sign_event_record(provider=local.NAME, event=event, raw_body=body,
                             signature_header=header, received_at=at,
                             signer_name=typed_name or str(opened.signer.get("name") or ""),
                             ip_address=ip_address, user_agent=user_agent)


def signing_link_open(token: str, *, ip_address: str | None = None, user_agent: str = "",
                      at: datetime | None = None) -> OpenedLink:
    """A signer opens their link: its state, and a `viewed` event the first time it opens in
    its turn. An expired link ends its envelope (`expired`, which voids the pack)."""
    moment = at or now()
    with transaction.atomic():
        opened = link_state(link_for(token, lock=True), at=moment)
        if opened.state == LinkState.OPEN:
            _link_event(opened, SignEventKind.VIEWED, at=moment, evidence={},
                        ip_address=ip_address, user_agent=user_agent)
        elif opened.state == LinkState.EXPIRED:
            _expire(opened.document, opened.link.expires_at)
            opened.document.refresh_from_db()
    return opened


def signing_link_sign(*, token: str, typed_name: str, consent: bool,
                      ip_address: str | None = None, user_agent: str = "",
                      at: datetime | None = None) -> Recorded:
    """A signer signs: their typed name and the consent text they agreed to, with their IP,
    browser and the time, recorded as a `signed` event; the link is used up. When every required
    signer has signed, the envelope completes (the signed copy and the pack follow)."""
    name = " ".join((typed_name or "").split())
    problems = {}
    if not name:
        problems["typed_name"] = "type your full name to sign"
    elif len(name) > 200:
        problems["typed_name"] = "at most 200 characters"
    if not consent:
        problems["consent"] = "tick the box to agree to sign electronically"
    if problems:
        raise ValidationFailed("the signature is not complete", details=problems)
    moment = at or now()
    with transaction.atomic():
        opened = _usable(token, moment)
        opened.link.used_at = moment
        opened.link.save(update_fields=["used_at"])
        recorded = _link_event(opened, SignEventKind.SIGNED, at=moment,
                               evidence={"typed_name": name, "consent_text": CONSENT_TEXT},
                               ip_address=ip_address, user_agent=user_agent, typed_name=name)
        document = opened.document
        if required_roles(document) <= signed_roles(document):
            done = sign_event_record(
                provider=local.NAME, raw_body=canonical_json({
                    "provider": local.NAME, "envelope_id": document.envelope_id,
                    "doc_id": document.id, "event": "completed", "at": isoformat(moment),
                    "signed_roles": sorted(signed_roles(document))}),
                event=ProviderEvent(event_id=f"{document.envelope_id}-completed",
                                    envelope_id=document.envelope_id, event="completed",
                                    occurred_at=moment), received_at=moment)
            # The signer's own event, with where the envelope and the pack now stand.
            recorded = replace(recorded, envelope_status=done.envelope_status,
                               pack_status=done.pack_status)
    return recorded


def signing_link_decline(*, token: str, reason: str = "", ip_address: str | None = None,
                         user_agent: str = "", at: datetime | None = None) -> Recorded:
    """A signer declines: a `declined` event, which voids the envelope and the pack."""
    moment = at or now()
    with transaction.atomic():
        opened = _usable(token, moment)
        opened.link.used_at = moment
        opened.link.save(update_fields=["used_at"])
        return _link_event(opened, SignEventKind.DECLINED, at=moment,
                           evidence={"reason": " ".join(reason.split())[:500]},
                           ip_address=ip_address, user_agent=user_agent)


class LinkUnusable(Conflict):
    code = "signing_link_unusable"

    def __init__(self, opened: OpenedLink):
        super().__init__(f"this signing link is {opened.state}",
                         details={"state": opened.state, "waiting_for": opened.waiting_for})
        self.opened = opened


def _usable(token: str, moment: datetime) -> OpenedLink:
    opened = link_state(link_for(token, lock=True), at=moment)
    if opened.state == LinkState.EXPIRED:
        _expire(opened.document, opened.link.expires_at)
    if not opened.usable:
        raise LinkUnusable(opened)
    return opened


def _expire(document: Document, expired_at: datetime) -> Recorded | None:
    """End a local envelope whose links ran out (once: the event id is the envelope's)."""
    if document.envelope_status != EnvelopeStatus.SENT:
        return None
    return sign_event_record(
        provider=local.NAME, raw_body=canonical_json({
            "provider": local.NAME, "envelope_id": document.envelope_id,
            "doc_id": document.id, "event": "expired", "at": isoformat(expired_at),
            "unsigned_roles": sorted(required_roles(document) - signed_roles(document))}),
        event=ProviderEvent(event_id=f"{document.envelope_id}-expired",
                            envelope_id=document.envelope_id, event="expired",
                            occurred_at=expired_at, reason="a signing link expired unused"),
        received_at=now())


def signing_links_expire(*, at: datetime | None = None) -> int:
    """The periodic sweep: end every local envelope with a required signer's link expired
    unused. Returns how many envelopes ended."""
    moment = at or now()
    ended = 0
    candidates = (SigningLink.objects.filter(used_at__isnull=True, expires_at__lte=moment,
                                             document__envelope_provider=local.NAME,
                                             document__envelope_status=EnvelopeStatus.SENT)
                  .values_list("document_id", flat=True).distinct())
    for doc_id in list(candidates):
        with transaction.atomic():
            document = Document.objects.select_related("template", "pack").get(pk=doc_id)
            unsigned = required_roles(document) - signed_roles(document)
            expired = SigningLink.objects.filter(document=document, role__in=unsigned,
                                                 used_at__isnull=True, expires_at__lte=moment)
            first = expired.order_by("expires_at").first()
            if first is not None and _expire(document, first.expires_at) is not None:
                ended += 1
    return ended


def stored_header_text(headers: Mapping[str, str]) -> str:
    """The headers `kept_headers` chose, as `SignEvent.signature_header` keeps them (JSON)."""
    return orjson.dumps(dict(headers), option=orjson.OPT_SORT_KEYS).decode() if headers else ""


def stored_headers(signature_header: str) -> Mapping[str, str]:
    """The headers kept with an event, as given back to `verify_webhook`."""
    if not signature_header:
        return {}
    try:
        value = orjson.loads(signature_header)
    except orjson.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
