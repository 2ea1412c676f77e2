"""The platform's side of trust & safety enforcement (issue 12): a receiver on 127.0.0.1 sees
every command the moderation rules, a moderator's review, the strike ladder, a four-eyes
suspension, the decay job and an appeal send — each applied once, each signed — through the real
services and the real outbox delivery (`outbox_deliver`), with a refused signature and a failed
answer on the way."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.core.timeutil import isoformat, now
from casefile.platform import delivery
from casefile.platform import services as platform
from casefile.platform.models import Approval, DeliveryAttempt, OutboxCommand, PlatformUser
from casefile.trust import moderation, strikes
from casefile.trust.models import RestrictionChange
from casefile.trust.strikes_policy import APPLY_COMMAND, LIFT_COMMAND
from tests.conftest import make_staff
from tests.platform.receiver import SECRET, PlatformReceiver, due_now
from tests.trust.helpers import profile

pytestmark = pytest.mark.django_db

BAD_SHA256 = hashlib.sha256(b"known bad file").hexdigest()
RULES = {"rules": [
    {"id": "nudity-blur", "description": "likely nudity",
     "condition": {"signal": "nudity", "gte": 0.8},
     "outcome": {"decision": "blur", "safe_mode_required": True, "reason": "nudity"}},
    {"id": "known-bad", "description": "a known bad file",
     "condition": {"sha256_list": "known_bad"},
     "outcome": {"decision": "remove", "needs_review": True, "reason": "known file"}},
]}
SUSPEND = "user.suspend"


class Platform(PlatformReceiver):
    """Answers 500, once, to the first lift of `contact_block` — after applying it, so the
    outbox retries a command the platform already holds."""

    def answer(self, key: str, body: dict[str, Any], seen: int) -> int:
        data = body.get("data", {})
        if (body.get("type"), data.get("action"), seen) == (LIFT_COMMAND, "contact_block", 1):
            return 500
        return 200


@pytest.fixture
def receiver(settings):
    found = Platform(SECRET)
    settings.PLATFORM_WEBHOOK_URL, settings.PLATFORM_WEBHOOK_SECRET = found.url, SECRET
    yield found
    found.close()


@pytest.fixture(autouse=True)
def _fresh_caches():
    moderation.clear_caches()
    yield
    moderation.clear_caches()


def staff(role: Role) -> Actor:
    return Actor.staff(make_staff(role))


def eligible_user() -> str:
    return profile(idv_status="passed", bg_status="clear", is_18plus_attested=True).user_id


def deliver() -> delivery.DeliveryReport:
    """What the worker does every few seconds; a retry's backoff is waited out first."""
    due_now()
    return delivery.outbox_deliver()


def steps(receiver: PlatformReceiver, user_id: str) -> list[tuple[str, str]]:
    """The enforcement the platform applied to a user, in the order it applied it."""
    out = []
    for body in receiver.applied.values():
        data = body["data"]
        if body["type"] in (APPLY_COMMAND, LIFT_COMMAND) and data["user_id"] == user_id:
            out.append((body["type"], data["action"]))
        elif body["type"] == SUSPEND and data["user_id"] == user_id:
            out.append((SUSPEND, data["status"]))
    return out


def issue(user_id: str, policy: str, actor: Actor):
    return strikes.strike_issue(actor=actor, user_id=user_id, policy=policy,
                                reason=f"{policy} found", reason_code="POLICY_VIOLATION")


def test_the_platform_sees_every_enforcement_command_once_signed(receiver, settings):
    ops, moderator, analyst = staff(Role.OPS), staff(Role.ANALYST), staff(Role.ANALYST)
    uploader = eligible_user()

    # Rules, published through the services; the platform asks for decisions.
    known = moderation.hash_list_create(actor=ops, name="known_bad", kind="sha256",
                                        reason_code="POLICY_VIOLATION")
    moderation.hash_list_add(actor=ops, hash_list=known, values=[BAD_SHA256],
                             reason_code="POLICY_VIOLATION")
    draft = moderation.rule_set_draft_save(actor=ops, rules_json=RULES,
                                           reason_code="POLICY_VIOLATION")
    moderation.rule_set_publish(actor=ops, version=draft.version, reason_code="POLICY_VIOLATION")
    the_platform = staff(Role.PLATFORM)

    def decide(item_id: str, **fields):
        return moderation.moderation_decide(actor=the_platform, item_data={
            "kind": "media", "item_id": item_id, "subject_user_id": uploader, **fields})

    nude = decide("med_nude", signals=[{"label": "nudity", "score": 0.93}])
    bad = decide("med_bad", sha256=BAD_SHA256)
    fine = decide("med_fine", signals=[{"label": "nudity", "score": 0.1}])
    assert (nude.final_decision, bad.final_decision, fine.final_decision) == (
        "blur", "remove", "allow")
    # A moderator overturns the hash match and removes the blurred item; agreeing with the
    # rules on the allowed one changes nothing for the platform.
    moderation.moderation_review(actor=moderator, item=bad, decision="allow",
                                 reason_code="POLICY_VIOLATION")
    moderation.moderation_review(actor=moderator, item=nude, decision="remove",
                                 reason_code="POLICY_VIOLATION")
    moderation.moderation_review(actor=moderator, item=fine, decision="allow",
                                 reason_code="POLICY_VIOLATION")

    # A platform whose secret is not Casefile's: every request refused (401), nothing applied,
    # each counted as a failure and retried.
    settings.PLATFORM_WEBHOOK_SECRET = "whsec_not_the_platforms"
    pending = set(OutboxCommand.objects.filter(status="pending").values_list("id", flat=True))
    refused = deliver()
    assert set(refused.failed) == pending and not refused.delivered
    assert {r.status for r in receiver.requests} == {401} and not receiver.applied
    assert {a.status_code for a in DeliveryAttempt.objects.all()} == {401}
    settings.PLATFORM_WEBHOOK_SECRET = SECRET
    wrongly_signed = len(receiver.requests)
    assert set(deliver().delivered) == pending
    enforced = [(b["data"]["item_id"], b["data"]["decision"], b["data"]["decided_by"])
                for b in receiver.applied.values() if b["type"] == moderation.ENFORCE_COMMAND]
    assert enforced == [("med_nude", "blur", "rules"), ("med_bad", "remove", "rules"),
                        ("med_bad", "allow", moderator.user.id),
                        ("med_nude", "remove", moderator.user.id)]

    # Strikes climb the ladder for one user; a second user's strike is appealed.
    start = now()
    ladder, appellant = eligible_user(), eligible_user()
    issue(ladder, "spam", analyst)  # 1 point, 30 days: listing_hide
    deliver()
    issue(ladder, "impersonation", analyst)  # 3, 90 days: pauses
    issue(ladder, "harassment", analyst)  # 6, 90 days: contact_block
    deliver()
    harassed = issue(appellant, "harassment", analyst)  # 3 at once: listing_hide and pauses
    issue(ladder, "scam", analyst)  # 9, 180 days: a suspension request, nothing sent yet
    (approval,) = Approval.objects.filter(operation="user_suspend", status="pending")
    assert approval.params["user_id"] == ladder
    deliver()
    assert SUSPEND not in {b["type"] for b in receiver.applied.values()}
    platform.approval_decide(actor=staff(Role.OPS), approval=approval, approve=True,
                             reason_code="POLICY_VIOLATION")  # four-eyes: another person
    strikes.strike_reverse(actor=analyst, strike=harassed, reason_code="CUSTOMER_REQUEST")
    deliver()

    # Time passes (not slept): the decay job lifts what the points no longer call for.
    strikes.strikes_decay(now=start + timedelta(days=31))  # 8: below the request only
    assert not deliver().delivered  # a suspension is lifted by staff, not by decay
    strikes.strikes_decay(now=start + timedelta(days=91))  # 3: contact_block lifted
    answered_500 = deliver()
    assert len(answered_500.failed) == 1 and not answered_500.delivered
    strikes.strikes_decay(now=start + timedelta(days=181))  # 0: the rest lifted
    deliver()

    assert steps(receiver, ladder) == [
        (APPLY_COMMAND, "listing_hide"), (APPLY_COMMAND, "pauses"),
        (APPLY_COMMAND, "contact_block"), (SUSPEND, "suspended"),
        (LIFT_COMMAND, "contact_block"), (LIFT_COMMAND, "listing_hide"),
        (LIFT_COMMAND, "pauses")]
    assert steps(receiver, appellant) == [
        (APPLY_COMMAND, "listing_hide"), (APPLY_COMMAND, "pauses"),
        (LIFT_COMMAND, "listing_hide"), (LIFT_COMMAND, "pauses")]
    assert strikes.applied_actions(ladder) == strikes.applied_actions(appellant) == set()
    assert PlatformUser.objects.get(pk=ladder).status == "suspended"

    # Every command once, as Casefile wrote it; every request after the secret was put right
    # signed; the one answered 500 was on the wire twice and applied once.
    commands = {c.id: c for c in OutboxCommand.objects.all()}
    assert set(receiver.applied) == set(commands)
    assert all(c.status == "delivered" for c in commands.values())
    for key, body in receiver.applied.items():
        command = commands[key]
        assert body == {"id": key, "type": command.type, "data": command.payload,
                        "created_at": isoformat(command.created_at)}
    assert all(r.valid for r in receiver.requests[wrongly_signed:])
    (retried,) = answered_500.failed
    assert receiver.applied[retried]["data"]["action"] == "contact_block"
    assert [r.status for r in receiver.requests if r.key == retried] == [500, 200]
    assert [a.status_code for a in commands[retried].log.order_by("number")] == [500, 200]
    twice = {r.key for r in receiver.requests[wrongly_signed:]
             if [w.key for w in receiver.requests[wrongly_signed:]].count(r.key) > 1}
    assert twice == {retried}
    # What the ladder records as sent is what the platform holds.
    sent = set(RestrictionChange.objects.exclude(command_id="").values_list("command_id",
                                                                            flat=True))
    assert sent and sent <= set(receiver.applied)

    # Nothing more to send, now or after the decay job runs again.
    seen = len(receiver.requests)
    assert deliver().as_dict() == {"delivered": 0, "failed": 0, "dead": 0}
    strikes.strikes_decay(now=start + timedelta(days=400))
    assert deliver().as_dict() == {"delivered": 0, "failed": 0, "dead": 0}
    assert len(receiver.requests) == seen
