"""`casefile documents verify PACK_ID`: anyone with read access to the database and the store can
check a pack's documents and their signatures (docs/documents.md, "Signing").

For each document of the pack:

- `v1_stored`: the v1 PDF read from the store (which refuses altered bytes: its own SHA-256 at
  write) hashes to the document's `render_pdf_sha256`;
- `hash_file`: `hash_{doc_id}.txt` holds that same digest;
- `v1_rerendered`: rendering the document again from its pinned template and clause versions
  and the stored variables gives the stored bytes exactly;
- `v2_stored` (once signed): the signed copy hashes to `signed_pdf_sha256`; for the `local`
  provider it also renders again, byte for byte, from v1's inputs and the recorded events;
- `envelope_record` (once the envelope ended): `envelope_{doc_id}.json` names this document and
  envelope, and each event it lists is a recorded sign event with the same payload;

and for each sign event:

- `ledger`: its ledger entry exists, names it and holds its payload's SHA-256 (the ledger's own
  chain is `casefile audit verify`'s);
- `signature`: a vendor's event is verified again by the provider's `verify_webhook` on the kept
  raw body and headers, at the time it was received — where the provider's secret is configured
  here (otherwise `skipped`, which does not fail the pack); a `local` signer's event by the HMAC
  under its signing link's digest (and the link used); an event Casefile derived itself
  (`completed`, `expired` on a local envelope) by the facts it states.

The report is JSON; `ok` is false if any check failed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import orjson

from casefile.core.errors import AppError, NotFound
from casefile.documents.models import DocPack, Document, SignEvent, SigningLink
from casefile.documents.policy import SignEventKind

SKIPPED = "skipped"


@dataclass
class Check:
    name: str
    ok: bool | None  # None: skipped (nothing to check it with here)
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "result": SKIPPED if self.ok is None else
                ("ok" if self.ok else "failed"), **({"detail": self.detail} if self.detail
                                                    else {}), **self.extra}


@dataclass
class Report:
    pack_id: str
    status: str = ""
    documents: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        if self.error:
            return False
        return all(c["result"] != "failed" for d in self.documents for c in d["checks"]) and \
            all(c["result"] != "failed" for d in self.documents
                for e in d["sign_events"] for c in e["checks"])

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pack_id": self.pack_id, "ok": self.ok}
        if self.error:
            out["error"] = self.error
            return out
        failed = [f"{d['doc_id']}:{c['check']}" for d in self.documents for c in d["checks"]
                  if c["result"] == "failed"]
        failed += [f"{e['sign_event_id']}:{c['check']}" for d in self.documents
                   for e in d["sign_events"] for c in e["checks"] if c["result"] == "failed"]
        return {**out, "status": self.status, "failed": failed, "documents": self.documents}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(key: str) -> tuple[bytes | None, str]:
    """The object's bytes, or None and why not (missing, or altered: the store refuses it)."""
    from casefile.storage import get_store

    try:
        return get_store().get(key), ""
    except AppError as exc:
        return None, f"{exc.code}: {exc.message}"


def pack_verify(pack_id: str) -> Report:
    report = Report(pack_id=pack_id)
    pack = DocPack.objects.filter(pk=pack_id).first()
    if pack is None:
        report.error = f"no doc pack {pack_id}"
        return report
    report.status = pack.status
    for document in (Document.objects.filter(pack=pack).select_related("template", "pack__leg")
                     .order_by("position", "id")):
        report.documents.append(_document(document))
    return report


def _document(document: Document) -> dict[str, Any]:
    checks: list[Check] = []
    v1, why = (_read(document.render_pdf_key) if document.render_pdf_key
               else (None, "the pack was never issued: no v1 in the store"))
    if v1 is None:
        checks.append(Check("v1_stored", False, why))
    else:
        actual = _sha(v1)
        checks.append(Check("v1_stored", actual == document.render_pdf_sha256,
                            "" if actual == document.render_pdf_sha256 else
                            "the stored PDF does not hash to the recorded SHA-256",
                            {"sha256": actual, "recorded": document.render_pdf_sha256}))
    checks.append(_hash_file(document))
    checks.append(_rerendered(document, v1))
    if document.signed_pdf_key:
        checks.append(_v2(document))
    if document.envelope_key:
        checks.append(_envelope_record(document))
    events = [_event(document, row) for row in
              SignEvent.objects.filter(document=document).order_by("occurred_at", "id")]
    return {"doc_id": document.id, "envelope_provider": document.envelope_provider,
            "envelope_id": document.envelope_id, "envelope_status": document.envelope_status,
            "checks": [c.as_dict() for c in checks], "sign_events": events}


def _hash_file(document: Document) -> Check:
    from casefile.documents.storage import hash_name, key_for

    if not document.render_pdf_key:
        return Check("hash_file", False, "the pack was never issued: no hash file")
    data, why = _read(key_for(document, hash_name(document)))
    if data is None:
        return Check("hash_file", False, why)
    text = data.decode("ascii", errors="replace").strip()
    same = text == document.render_pdf_sha256
    return Check("hash_file", same, "" if same else "the hash file names another digest",
                 {"hash_file": text})


def _rerendered(document: Document, stored: bytes | None) -> Check:
    from casefile.documents.generation import render_v1

    try:
        again = render_v1(document)
    except AppError as exc:
        return Check("v1_rerendered", False, f"could not render again: {exc.message}")
    same_record = _sha(again) == document.render_pdf_sha256
    same_store = stored is not None and again == stored
    detail = "" if same_record and same_store else (
        "rendering again gives other bytes than " + " and ".join(
            w for w, bad in (("the recorded SHA-256", not same_record),
                             ("the stored PDF", not same_store)) if bad))
    return Check("v1_rerendered", same_record and same_store, detail, {"sha256": _sha(again)})


def _v2(document: Document) -> Check:
    from casefile.documents import signing
    from casefile.documents.esign import local

    data, why = _read(document.signed_pdf_key)
    if data is None:
        return Check("v2_stored", False, why)
    actual = _sha(data)
    if actual != document.signed_pdf_sha256:
        return Check("v2_stored", False, "the signed copy does not hash to the recorded SHA-256",
                     {"sha256": actual, "recorded": document.signed_pdf_sha256})
    if document.envelope_provider == local.NAME:
        try:
            again = signing.render_signed_copy(document)
        except AppError as exc:
            return Check("v2_stored", False, f"could not render the signed copy again: "
                         f"{exc.message}")
        if again != data:
            return Check("v2_stored", False, "rendering the signed copy again from v1's inputs "
                         "and the recorded events gives other bytes", {"sha256": actual})
    return Check("v2_stored", True, extra={"sha256": actual})


def _envelope_record(document: Document) -> Check:
    data, why = _read(document.envelope_key)
    if data is None:
        return Check("envelope_record", False, why)
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        return Check("envelope_record", False, "not JSON")
    problems = []
    for key, expected in (("doc_id", document.id), ("envelope_id", document.envelope_id),
                          ("provider", document.envelope_provider),
                          ("v1_sha256", document.render_pdf_sha256)):
        if record.get(key) != expected:
            problems.append(f"{key} is {record.get(key)!r}, not {expected!r}")
    recorded = {e.id: e for e in SignEvent.objects.filter(document=document)}
    for listed in record.get("events") or []:
        row = recorded.get(str(listed.get("sign_event_id")))
        if row is None:
            problems.append(f"event {listed.get('sign_event_id')} is not recorded")
        elif listed.get("payload_sha256") != _sha(row.provider_payload.encode()):
            problems.append(f"event {row.id}'s payload differs from the one recorded")
    return Check("envelope_record", not problems, "; ".join(problems))


# --- sign events ---------------------------------------------------------------------------------
def _event(document: Document, row: SignEvent) -> dict[str, Any]:
    checks = [_ledger(row), _signature(document, row)]
    return {"sign_event_id": row.id, "event": row.event, "provider": row.provider,
            "signer_role": row.actor_role, "checks": [c.as_dict() for c in checks]}


def _ledger(row: SignEvent) -> Check:
    from casefile.audit.models import AuditEntry

    entry = AuditEntry.objects.filter(pk=row.audit_entry_id).only("action", "metadata").first()
    if entry is None:
        return Check("ledger", False, f"no ledger entry {row.audit_entry_id}")
    meta = entry.metadata or {}
    problems = []
    if entry.action != "DOCUMENT_SIGN_EVENT" or meta.get("sign_event_id") != row.id:
        problems.append("the entry is not this event's")
    if meta.get("payload_sha256") != _sha(row.provider_payload.encode()):
        problems.append("the payload differs from the one the ledger recorded")
    return Check("ledger", not problems, "; ".join(problems), {"audit_entry_id": entry.id})


def _signature(document: Document, row: SignEvent) -> Check:
    from casefile.documents import signing
    from casefile.documents.esign import local
    from casefile.documents.esign.base import WebhookRefused
    from casefile.documents.esign.registry import provider_named

    headers = signing.stored_headers(row.signature_header)
    if row.provider == local.NAME:
        return _local_signature(document, row, headers)
    try:
        provider = provider_named(row.provider)
    except NotFound:
        return Check("signature", None, f"{row.provider} is not configured here: its "
                     "webhook secret is needed to check the signature")
    try:
        provider.verify_webhook(body=row.provider_payload.encode(), headers=headers,
                                at=row.received_at)
    except WebhookRefused as exc:
        return Check("signature", False, exc.reason)
    return Check("signature", True)


def _local_signature(document: Document, row: SignEvent, headers: Any) -> Check:
    from casefile.documents import signing
    from casefile.documents.esign import local

    try:
        payload = orjson.loads(row.provider_payload)
    except orjson.JSONDecodeError:
        return Check("signature", False, "the payload is not JSON")
    given = headers.get(local.SIGNATURE_HEADER)
    if given is None:
        return _derived(document, row, payload)
    link = SigningLink.objects.filter(pk=payload.get("signing_link")).first()
    if link is None or link.document_id != document.id or link.role != row.actor_role:
        return Check("signature", False, "no signing link of this document and role made it")
    expected = local.event_signature(link.token_digest, row.provider_payload.encode())
    if not hmac.compare_digest(expected, str(given)):
        return Check("signature", False, "the evidence is not what its signing link signed")
    if row.event in (SignEventKind.SIGNED, SignEventKind.DECLINED) and \
            link.used_at != row.occurred_at:
        return Check("signature", False, "its signing link was not used up by it")
    if payload.get("v1_sha256") != document.render_pdf_sha256:
        return Check("signature", False, "it was given for other bytes than the v1 PDF")
    if row.event == SignEventKind.SIGNED and payload.get("consent_text") != signing.CONSENT_TEXT:
        return Check("signature", True, "consented to an earlier wording of the consent text")
    return Check("signature", True, extra={"method": "signing link"})


def _derived(document: Document, row: SignEvent, payload: dict[str, Any]) -> Check:
    """An event Casefile recorded itself for a local envelope: true if its facts hold."""
    from casefile.documents import signing

    if row.event == SignEventKind.COMPLETED:
        signed = set(SignEvent.objects.filter(document=document, event=SignEventKind.SIGNED,
                                              occurred_at__lte=row.occurred_at)
                     .values_list("actor_role", flat=True))
        missing = signing.required_roles(document) - signed
        return Check("signature", not missing, f"required signers missing: {sorted(missing)}"
                     if missing else "derived: every required signer had signed")
    if row.event == SignEventKind.EXPIRED:
        ran_out = SigningLink.objects.filter(document=document,
                                             expires_at__lte=row.occurred_at).exists()
        return Check("signature", ran_out, "derived: a signing link had expired" if ran_out
                     else "no signing link had expired then")
    return Check("signature", False, f"a local {row.event} event has no link signature")
