"""The strike ledger and its enforcement ladder (issue 12 item 5): up step by step, down with
decay (time moved by `now=`), zero tolerance, appeal reversal, the profile in the same
transaction, outbox commands once each, the append-only table, permissions."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied, ValidationFailed
from casefile.core.timeutil import now
from casefile.platform import services as platform
from casefile.platform.models import Approval, OutboxCommand, PlatformUser
from casefile.trust import strikes
from casefile.trust.models import RestrictionChange, Strike, TrustProfile
from casefile.trust.strikes_policy import APPLY_COMMAND, LIFT_COMMAND, POLICIES
from tests.conftest import make_staff
from tests.trust.helpers import analyst, profile

pytestmark = pytest.mark.django_db


def _eligible_user(**extra) -> str:
    inputs = {"idv_status": "passed", "bg_status": "clear", "is_18plus_attested": True,
              **extra}
    return profile(**inputs).user_id


def _issue(user_id, policy, actor=None, **kw):
    return strikes.strike_issue(actor=actor or analyst(), user_id=user_id, policy=policy,
                                reason=f"{policy} found", reason_code="POLICY_VIOLATION", **kw)


def _commands(user_id):
    return [(c.type, c.payload["action"]) for c in
            OutboxCommand.objects.filter(type__in=(APPLY_COMMAND, LIFT_COMMAND))
            .order_by("created_at", "id") if c.payload["user_id"] == user_id]


def _profile(user_id) -> TrustProfile:
    return TrustProfile.objects.get(pk=user_id)


def _approvals(user_id):
    return [a for a in Approval.objects.filter(operation="user_suspend")
            if a.params.get("user_id") == user_id]


def test_ladder_up_step_by_step_and_down_with_decay():
    user = _eligible_user()
    assert _profile(user).instant_book_eligible
    start = now()

    s1 = _issue(user, "spam")  # 1 point, 30 days
    p = _profile(user)
    assert (p.strike_points_active, p.strikes_active_count) == (1, 1)
    assert not p.instant_book_eligible
    assert [r["code"] for r in p.instant_book_reasons] == ["active_strike_points"]
    assert s1.actions_applied == ["listing_hide"]
    assert _commands(user) == [(APPLY_COMMAND, "listing_hide")]

    s2 = _issue(user, "spam")  # 2: nothing new
    assert s2.actions_applied == []
    assert len(_commands(user)) == 1

    s3 = _issue(user, "harassment")  # 5: pauses
    assert s3.actions_applied == ["pauses"]
    s4 = _issue(user, "impersonation")  # 7: contact block
    assert s4.actions_applied == ["contact_block"]
    assert not _approvals(user)
    s5 = _issue(user, "harassment")  # 10: a suspension request, waiting for approval
    assert s5.actions_applied == ["suspension_request"]
    (approval,) = _approvals(user)
    assert approval.status == "pending" and approval.params["strike_id"] == s5.id
    assert PlatformUser.objects.get(pk=user).status != "suspended"
    assert _commands(user) == [(APPLY_COMMAND, "listing_hide"), (APPLY_COMMAND, "pauses"),
                               (APPLY_COMMAND, "contact_block")]
    assert _profile(user).strike_points_active == 10
    assert strikes.applied_actions(user) == {"listing_hide", "pauses", "contact_block",
                                             "suspension_request"}

    # Nothing decayed yet: the job changes nothing.
    assert not [c for c in strikes.strikes_decay(now=start + timedelta(days=1)).changed
                if c["user_id"] == user]

    # The two spam strikes decay (30 days): 8 points, below the suspension step only.
    report = strikes.strikes_decay(now=start + timedelta(days=31))
    (mine,) = [c for c in report.changed if c["user_id"] == user]
    assert mine == {"user_id": user, "lifted": ["suspension_request"], "points_active": 8}
    assert len(_commands(user)) == 3  # the request is not a restriction: nothing to lift
    assert (_profile(user).strike_points_active, _profile(user).strikes_active_count) == (8, 3)

    # Everything decays (90 days): every restriction lifted, once, and the flags come back.
    strikes.strikes_decay(now=start + timedelta(days=91))
    lifts = [c for c in _commands(user) if c[0] == LIFT_COMMAND]
    assert lifts == [(LIFT_COMMAND, "listing_hide"), (LIFT_COMMAND, "pauses"),
                     (LIFT_COMMAND, "contact_block")]
    p = _profile(user)
    assert (p.strike_points_active, p.strikes_active_count, p.adult_strike_active) == (0, 0,
                                                                                       False)
    assert p.instant_book_eligible
    assert strikes.applied_actions(user) == set()
    # Again: nothing more is sent.
    strikes.strikes_decay(now=start + timedelta(days=92))
    assert len(_commands(user)) == 6
    decayed = AuditEntry.objects.filter(action="STRIKE_DECAYED", target_user_id=user)
    assert decayed.count() == 2
    assert {e.actor_user_id for e in decayed} == {None}
    assert {e.reason_code for e in decayed} == {"STRIKE_DECAY"}


def test_zero_tolerance_goes_straight_to_a_suspension_request():
    user = _eligible_user()
    strike = _issue(user, "child_safety", points=1)  # the points do not matter
    assert POLICIES["child_safety"].zero_tolerance
    assert "suspension_request" in strike.actions_applied
    (approval,) = _approvals(user)
    assert approval.status == "pending"
    assert AuditEntry.objects.filter(action="APPROVAL_REQUESTED", target_user_id=user).exists()
    assert PlatformUser.objects.get(pk=user).status != "suspended"
    assert {a for _, a in _commands(user)} == {"listing_hide", "pauses", "contact_block"}


def test_a_second_person_approves_the_suspension():
    user = _eligible_user()
    _issue(user, "threats")
    (approval,) = _approvals(user)
    second = Actor.staff(make_staff(Role.OPS))
    platform.approval_decide(actor=second, approval=approval, approve=True,
                             reason_code="POLICY_VIOLATION")
    assert PlatformUser.objects.get(pk=user).status == "suspended"


@pytest.mark.parametrize("how", ["reversal", "decay"])
def test_a_suspension_request_whose_cause_is_gone_can_no_longer_be_approved(how):
    user = _eligible_user()
    strike = _issue(user, "threats")
    (ladder,) = _approvals(user)
    if how == "reversal":
        strikes.strike_reverse(actor=analyst(), strike=strike, reason_code="CUSTOMER_REQUEST")
    else:
        strikes.strikes_decay(now=strike.decay_at + timedelta(seconds=1))
    ladder.refresh_from_db()
    assert ladder.status == "withdrawn"
    entry = AuditEntry.objects.get(action="APPROVAL_WITHDRAWN")
    assert entry.resource == f"approval:{ladder.id}"
    assert entry.reason_code == ("CUSTOMER_REQUEST" if how == "reversal" else "STRIKE_DECAY")
    with pytest.raises(Conflict):
        platform.approval_decide(actor=Actor.staff(make_staff(Role.ADMIN)), approval=ladder,
                                 approve=True, reason_code="POLICY_VIOLATION")
    assert PlatformUser.objects.get(pk=user).status != "suspended"


def test_appeal_reversal_lifts_what_is_no_longer_met():
    user = _eligible_user()
    keep = _issue(user, "spam")
    strike = _issue(user, "harassment")  # 4 points: listing_hide, pauses
    assert strike.actions_applied == ["pauses"]
    reversal = strikes.strike_reverse(actor=analyst(), strike=strike,
                                      reason_code="CUSTOMER_REQUEST")
    assert reversal.points == -3 and reversal.reverses_id == strike.id
    assert reversal.decay_at == strike.decay_at
    assert reversal.actions_applied == ["lift:pauses"]
    assert _commands(user) == [(APPLY_COMMAND, "listing_hide"), (APPLY_COMMAND, "pauses"),
                               (LIFT_COMMAND, "pauses")]
    p = _profile(user)
    assert (p.strike_points_active, p.strikes_active_count) == (1, 1)
    assert AuditEntry.objects.filter(action="STRIKE_REVERSED", resource=f"strike:{strike.id}"
                                     ).count() == 1
    with pytest.raises(Conflict):
        strikes.strike_reverse(actor=analyst(), strike=strike, reason_code="CUSTOMER_REQUEST")
    with pytest.raises(Conflict):
        strikes.strike_reverse(actor=analyst(), strike=reversal,
                               reason_code="CUSTOMER_REQUEST")
    strikes.strike_reverse(actor=analyst(), strike=keep, reason_code="CUSTOMER_REQUEST")
    assert _commands(user)[-1] == (LIFT_COMMAND, "listing_hide")
    assert _profile(user).instant_book_eligible
    # The decay of reversed strikes sends nothing more.
    strikes.strikes_decay(now=now() + timedelta(days=400))
    assert len(_commands(user)) == 4


def test_adult_content_strike_closes_the_nsfw_toggle_until_it_decays():
    user = _eligible_user()
    assert _profile(user).nsfw_toggle_eligible
    start = now()
    _issue(user, "adult_content")
    p = _profile(user)
    assert p.adult_strike_active and not p.nsfw_toggle_eligible
    assert "adult_content_strike" in [r["code"] for r in p.nsfw_toggle_reasons]
    # The platform was told the flags moved, in the same transaction.
    told = [c for c in OutboxCommand.objects.filter(type="trust.profile.changed")
            if c.payload["user_id"] == user]
    assert told and told[-1].payload["flags"]["nsfw_toggle_eligible"] is False
    strikes.strikes_decay(now=start + timedelta(days=91))
    p = _profile(user)
    assert not p.adult_strike_active and p.nsfw_toggle_eligible


def test_one_transaction_nothing_kept_when_the_caller_fails():
    user = _eligible_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        _issue(user, "harassment")
        assert _profile(user).strike_points_active == 3  # inside: already moved
        raise RuntimeError("caller fails")
    assert not Strike.objects.filter(user_id=user).exists()
    assert not RestrictionChange.objects.filter(user_id=user).exists()
    assert _commands(user) == []
    assert _profile(user).strike_points_active == 0


def test_strike_issue_is_audited_with_its_actions():
    user = _eligible_user()
    strike = _issue(user, "scam")
    entry = AuditEntry.objects.get(action="STRIKE_ISSUED", resource=f"strike:{strike.id}")
    assert entry.id == strike.audit_entry_id
    assert entry.target_user_id == user and entry.reason_code == "POLICY_VIOLATION"
    assert entry.metadata["actions"] == ["listing_hide", "pauses"]
    assert strike.decay_at - strike.issued_at == timedelta(days=POLICIES["scam"].decay_days)


def test_validation():
    user = _eligible_user()
    with pytest.raises(ValidationFailed):
        _issue(user, "jaywalking")
    with pytest.raises(ValidationFailed):
        _issue(user, "spam", points=0)
    with pytest.raises(ValidationFailed):
        strikes.strike_issue(actor=analyst(), user_id=user, policy="spam", reason="x")


@pytest.mark.parametrize("model", [Strike, RestrictionChange])
def test_the_ledger_refuses_update_and_delete(model):
    user = _eligible_user()
    _issue(user, "harassment")
    with pytest.raises(DatabaseError), transaction.atomic():
        model.objects.filter(user_id=user).update(actor_id="x") if model is RestrictionChange \
            else model.objects.filter(user_id=user).update(points=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        model.objects.filter(user_id=user).delete()
    assert model.objects.filter(user_id=user).exists()


@pytest.mark.parametrize("role,allowed", [
    (Role.ANALYST, True), (Role.SUPPORT, True), (Role.OPS, True), (Role.ADMIN, True),
    (Role.VIEWER, False), (Role.LEGAL, False), (Role.PLATFORM, False),
])
def test_permissions_by_role(role, allowed):
    user = _eligible_user()
    actor = Actor.staff(make_staff(role))
    if allowed:
        _issue(user, "spam", actor=actor)
        assert Strike.objects.filter(user_id=user).count() == 1
    else:
        with pytest.raises(PermissionDenied):
            _issue(user, "spam", actor=actor)


def test_console_shows_the_strike_history_and_forms():
    from django.test import Client

    user = _eligible_user()
    strike = _issue(user, "harassment")
    client = Client()
    client.force_login(make_staff(Role.ANALYST))
    page = client.get(f"/trust/users/{user}/").content.decode()
    assert strike.id in page and "listing_hide, pauses" in page
    assert f"/trust/strikes/{strike.id}/reverse/" in page and "Issue a strike" in page
    viewer = Client()
    viewer.force_login(make_staff(Role.VIEWER))
    page = viewer.get(f"/trust/users/{user}/").content.decode()
    assert strike.id in page and "Issue a strike" not in page
