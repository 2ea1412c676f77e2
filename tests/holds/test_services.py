"""Legal holds through the services: place and release (two legal people, each audited), the
store's hold on every object in scope, overlapping holds, shredding refused under a hold on the
blob and on its case, the append-mostly table, permissions by role."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from casefile.accounts.permissions import Perm, roles_for
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.evidence import holds as evidence_holds
from casefile.evidence import selectors as evidence_selectors
from casefile.evidence import services as evidence
from casefile.holds import selectors, services
from casefile.holds.models import LegalHold
from casefile.platform import services as platform
from casefile.platform.models import OutboxCommand
from casefile.storage import ObjectLocked, get_store
from tests.cases.helpers import open_case
from tests.evidence.helpers import staff, upload
from tests.holds.helpers import place, release, request_release

pytestmark = pytest.mark.django_db
PEOPLE = [Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS, Role.LEGAL, Role.ADMIN]


def store_holds(blob) -> list[bool]:
    store = get_store()
    return [store.head(key).legal_hold for key in (blob.original_key, blob.redacted_key)]


def hold_entries(hold, action=None):
    found = AuditEntry.objects.filter(resource=f"hold:{hold.id}")
    if action:
        found = found.filter(action=action)
    return list(found.order_by("created_at", "id"))


def test_place_on_evidence_records_the_hold_sets_the_store_hold_and_audits():
    blob = upload(platform_user_id="usr_alice")
    assert store_holds(blob) == [False, False]
    legal = staff(Role.LEGAL)
    hold = place("evidence", blob.id, actor=legal)
    assert hold.id.startswith("hld_") and hold.status == "active"
    assert hold.placed_by == legal.user and hold.reason_code == "LEGAL_REQUEST"
    assert hold.ticket_ref == "LIT-7" and hold.note == "preserve for litigation"
    assert hold.object_keys == sorted([blob.original_key, blob.redacted_key])
    assert store_holds(blob) == [True, True]
    [entry] = hold_entries(hold)
    assert entry.action == "LEGAL_HOLD_PLACED" and entry.actor_user_id == legal.user.id
    assert entry.reason_code == "LEGAL_REQUEST" and entry.ticket_ref == "LIT-7"
    assert entry.metadata["scope"] == f"evidence:{blob.id}"
    assert entry.metadata["object_keys"] == hold.object_keys
    assert entry.target_user_id == "usr_alice"
    assert entry.details["after"]["status"] == "active"
    # the blob's chain of custody shows it; the blob is held
    assert entry in evidence_selectors.custody(blob)
    assert evidence_holds.held(blob) and blob.legal_hold
    assert selectors.active_holds_over("evidence", blob.id) == [hold]


def test_placing_the_same_matter_again_is_the_same_hold_and_records_nothing():
    blob = upload()
    hold = place("evidence", blob.id)
    get_store().set_legal_hold(blob.original_key, False)  # say a clear went astray
    again = place("evidence", blob.id, actor=staff(Role.SUPPORT))
    assert again.pk == hold.pk and LegalHold.objects.count() == 1
    assert len(hold_entries(hold)) == 1
    assert store_holds(blob) == [True, True]  # re-placing sets the store's hold again
    other = place("evidence", blob.id, ticket="LIT-8")  # another matter: a hold of its own
    assert other.pk != hold.pk
    assert len(selectors.active_holds_over("evidence", blob.id)) == 2


def test_unknown_record_is_404_and_an_unregistered_scope_is_422(monkeypatch):
    with pytest.raises(NotFound):
        place("evidence", "evb_01JNOTHERE0000000000000000")
    with pytest.raises(NotFound):
        place("case", "cas_nothing")
    with pytest.raises(NotFound):  # documents registered doc_pack (issue 13)
        place("doc_pack", "dpk_1")
    from casefile.holds import scopes

    monkeypatch.delitem(scopes._SCOPES, "doc_pack")  # as before an app registers it
    with pytest.raises(ValidationFailed, match="no app has registered"):
        place("doc_pack", "dpk_1")
    assert LegalHold.objects.count() == 0 and not AuditEntry.objects.filter(
        action="LEGAL_HOLD_PLACED").exists()


def test_a_case_hold_covers_every_blob_linked_to_the_case_and_blobs_added_later():
    case = open_case(title="Litigation")
    first, second, elsewhere = upload(case_id=case.id), upload(case_id=case.id), upload()
    hold = place("case", case.id)
    assert sorted(hold.object_keys) == sorted([first.original_key, first.redacted_key,
                                               second.original_key, second.redacted_key])
    assert store_holds(first) == store_holds(second) == [True, True]
    assert store_holds(elsewhere) == [False, False]
    later = upload(case_id=case.id)
    assert store_holds(later) == [True, True]  # written held
    assert evidence_holds.held(later) and not evidence_holds.held(elsewhere)
    [entry] = hold_entries(hold)
    assert entry.metadata["scope"] == f"case:{case.id}"
    assert entry in evidence_selectors.custody(first)  # the case's hold is in each blob's custody


def test_release_needs_legal_and_a_second_legal_person_and_is_audited(
        django_capture_on_commit_callbacks):
    blob = upload()
    hold = place("evidence", blob.id)
    requester, approver = staff(Role.LEGAL), staff(Role.LEGAL)
    with pytest.raises(PermissionDenied):
        request_release(hold, staff(Role.ADMIN))
    approval = request_release(hold, requester)
    assert approval.operation == "legal_hold_release" and approval.params == {"hold_id": hold.id}
    with pytest.raises(Conflict, match="awaits approval"):
        request_release(hold, staff(Role.LEGAL))
    with pytest.raises(PermissionDenied, match="someone else"):
        platform.approval_decide(actor=requester, approval=approval, approve=True,
                                 reason_code="LEGAL_REQUEST")
    with pytest.raises(PermissionDenied):  # admin may not approve a release either
        platform.approval_decide(actor=staff(Role.ADMIN), approval=approval, approve=True,
                                 reason_code="LEGAL_REQUEST")
    assert LegalHold.objects.get(pk=hold.pk).is_active and store_holds(blob) == [True, True]
    commands = OutboxCommand.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        platform.approval_decide(actor=approver, approval=approval, approve=True,
                                 reason_code="LEGAL_REQUEST")
    released = LegalHold.objects.get(pk=hold.pk)
    assert released.status == "released" and released.released_at is not None
    assert released.released_by == requester.user
    assert released.release_approved_by == approver.user
    assert released.release_approval_id == approval.id
    assert store_holds(blob) == [False, False]
    assert OutboxCommand.objects.count() == commands  # nothing is sent to the platform
    [placed, done] = hold_entries(hold)
    assert (placed.action, done.action) == ("LEGAL_HOLD_PLACED", "LEGAL_HOLD_RELEASED")
    assert done.actor_user_id == requester.user.id
    assert done.metadata["approval_id"] == approval.id
    assert done.metadata["approved_by"]["actor_user_id"] == approver.user.id
    assert done.metadata["scope"] == f"evidence:{blob.id}"
    assert done.details["diff"]["status"] == {"from": "active", "to": "released"}
    assert done.details["diff"]["release_approved_by"] == {"from": None, "to": approver.user.id}
    decided = AuditEntry.objects.get(resource=f"approval:{approval.id}",
                                     action="APPROVAL_DECIDED")
    assert decided.actor_user_id == approver.user.id
    assert [e.action for e in selectors.history(released)] == [
        "LEGAL_HOLD_PLACED", "APPROVAL_REQUESTED", "APPROVAL_DECIDED", "LEGAL_HOLD_RELEASED"]
    assert not evidence_holds.held(blob)
    with pytest.raises(Conflict, match="already released"):
        request_release(released)


def test_a_rejected_release_leaves_the_hold_in_force():
    blob = upload()
    hold = place("evidence", blob.id)
    approval = request_release(hold)
    platform.approval_decide(actor=staff(Role.LEGAL), approval=approval, approve=False,
                             reason_code="LEGAL_REQUEST")
    assert LegalHold.objects.get(pk=hold.pk).is_active and store_holds(blob) == [True, True]
    assert request_release(hold).pk != approval.pk  # may be asked for again


def test_the_store_hold_is_cleared_only_where_no_other_active_hold_covers(
        django_capture_on_commit_callbacks):
    case = open_case(title="Two matters")
    blob, other = upload(case_id=case.id), upload(case_id=case.id)
    on_blob = place("evidence", blob.id)
    on_case = place("case", case.id)
    with django_capture_on_commit_callbacks(execute=True):
        release(on_case)
    assert store_holds(blob) == [True, True]  # still under the blob's own hold
    assert store_holds(other) == [False, False]
    released = AuditEntry.objects.get(resource=f"hold:{on_case.id}",
                                      action="LEGAL_HOLD_RELEASED")
    assert sorted(released.metadata["still_held_by_other_holds"]) == sorted(
        [blob.original_key, blob.redacted_key])
    with django_capture_on_commit_callbacks(execute=True):
        release(on_blob)
    assert store_holds(blob) == [False, False]


def test_shredding_is_refused_under_a_hold_on_the_blob_and_on_its_case(
        django_capture_on_commit_callbacks):
    legal = staff(Role.LEGAL)
    case = open_case(title="Held")
    by_blob, by_case = upload(), upload(case_id=case.id)
    place("evidence", by_blob.id)
    case_hold = place("case", case.id)
    for blob in (by_blob, by_case):
        with pytest.raises(Conflict, match="legal hold") as refused:
            evidence.evidence_shred(actor=legal, blob=blob, reason_code="CUSTOMER_REQUEST")
        assert refused.value.code == "legal_hold"
    with django_capture_on_commit_callbacks(execute=True):
        release(case_hold)
    shredded = evidence.evidence_shred(actor=legal, blob=by_case, reason_code="CUSTOMER_REQUEST")
    assert shredded.is_shredded


def test_the_store_refuses_to_delete_a_held_object():
    blob = upload()
    place("evidence", blob.id)
    store = get_store()
    for key in (blob.original_key, blob.redacted_key):
        with pytest.raises(ObjectLocked, match="legal hold"):
            store.delete(key)
        assert store.head(key).legal_hold


def test_a_hold_is_never_deleted_and_changes_only_by_its_release():
    blob = upload()
    hold = place("evidence", blob.id)
    for change in (lambda: LegalHold.objects.filter(pk=hold.pk).update(note="rewritten"),
                   lambda: LegalHold.objects.filter(pk=hold.pk).update(object_id="evb_other"),
                   lambda: LegalHold.objects.filter(pk=hold.pk).delete()):
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
            change()
    assert LegalHold.objects.get(pk=hold.pk).note == "preserve for litigation"
    released = release(hold)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        LegalHold.objects.filter(pk=released.pk).update(status="active", released_at=None,
                                                        released_by=None)
    assert LegalHold.objects.get(pk=hold.pk).status == "released"


@pytest.mark.parametrize("role", PEOPLE, ids=str)
def test_who_may_place_and_who_may_ask_for_a_release(role):
    blob = upload()
    actor = staff(role)
    if role in roles_for(Perm.HOLDS_PLACE):
        hold = place("evidence", blob.id, actor=actor)
        assert hold_entries(hold)[0].actor_user_id == actor.user.id
    else:
        with pytest.raises(PermissionDenied):
            place("evidence", blob.id, actor=actor)
        assert LegalHold.objects.count() == 0
        hold = place("evidence", blob.id)
    if role in roles_for(Perm.HOLDS_RELEASE):
        assert request_release(hold, actor).requested_by == actor.user
    else:
        with pytest.raises(PermissionDenied):
            request_release(hold, actor)
    assert roles_for(Perm.HOLDS_PLACE) == {Role.SUPPORT, Role.LEGAL, Role.ADMIN}
    assert roles_for(Perm.HOLDS_RELEASE) == {Role.LEGAL}


def test_placing_previews_without_touching_the_store():
    blob, legal = upload(), staff(Role.LEGAL)
    preview = ledger.preview(lambda: place("evidence", blob.id, actor=legal))
    assert preview is not None and preview.action == "LEGAL_HOLD_PLACED"
    assert preview.resource.startswith("hold:hld_")
    assert LegalHold.objects.count() == 0 and store_holds(blob) == [False, False]


def test_store_sync_repairs_the_store_from_the_records():
    blob = upload()
    hold = place("evidence", blob.id)
    store = get_store()
    store.set_legal_hold(blob.redacted_key, False)
    report = services.legal_hold_store_sync()
    assert sorted(report["on"]) == sorted(hold.object_keys) and store_holds(blob) == [True, True]
