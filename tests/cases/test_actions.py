"""Case actions that act: suspend and refund run their platform operation (issue 9, item 3)."""

import pytest

from casefile.accounts.permissions import Perm, has_perm, roles_for
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.cases import selectors, services
from casefile.cases.policy import CASE_ACTIONS
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.platform import services as platform
from casefile.platform.models import Approval, OutboxCommand, PlatformUser
from tests.cases.helpers import move, open_case
from tests.conftest import CLI, make_staff

pytestmark = pytest.mark.django_db
REASON = "POLICY_VIOLATION"


@pytest.fixture
def subject():
    user, _ = platform.platform_user_upsert(actor=CLI, user_id="usr_mallory",
                                            email="m@shop.test")
    return user


def staff(*roles) -> Actor:
    return Actor.staff(make_staff(*roles))


def test_suspend_from_a_case_suspends_the_subject_with_its_command(subject):
    case = open_case(subject_user=subject.id)
    actor = staff(Role.SUPPORT)  # may suspend through the operation, so through the case too
    taken = services.case_action_take(actor=actor, case=case, action="suspend",
                                      payload={"days": 7}, reason_code=REASON)
    assert PlatformUser.objects.get(pk=subject.id).status == "suspended"
    command = OutboxCommand.objects.get(type="user.suspend")
    assert taken.command_id == command.id and not taken.approval_id
    assert command.payload["case_id"] == case.id and command.payload["user_id"] == subject.id
    operation = AuditEntry.objects.get(action="USER_SUSPEND")
    assert operation.resource == f"user:{subject.id}" and operation.metadata["case_id"] == case.id
    assert operation.details["diff"]["status"] == {"from": "active", "to": "suspended"}
    recorded = AuditEntry.objects.get(action="CASE_ACTION_SUSPEND")
    assert recorded.resource == f"case:{case.id}" and recorded.metadata["command_id"] == command.id
    assert {operation.actor_user_id, recorded.actor_user_id} == {actor.user.id}
    assert command.audit_entry_id == operation.id


def test_a_refused_operation_leaves_no_case_action(subject):
    case = open_case(subject_user=subject.id)
    actor = staff(Role.ANALYST)
    services.case_action_take(actor=actor, case=case, action="suspend", payload={},
                              reason_code=REASON)
    before = AuditEntry.objects.count()
    with pytest.raises(Conflict, match="already suspended"):
        services.case_action_take(actor=actor, case=case, action="suspend",
                                  payload={}, reason_code=REASON)
    assert AuditEntry.objects.count() == before
    assert case.actions.count() == 1 and OutboxCommand.objects.count() == 1


def test_suspend_needs_a_known_subject():
    case = open_case()
    with pytest.raises(ValidationFailed, match="names no user_id"):
        services.case_action_take(actor=staff(Role.ANALYST), case=case, action="suspend",
                                  payload={}, reason_code=REASON)
    with pytest.raises(NotFound, match="usr_nobody"):
        services.case_action_take(actor=staff(Role.ANALYST), case=case, action="suspend",
                                  payload={"user_id": "usr_nobody"}, reason_code=REASON)
    assert not case.actions.exists() and not OutboxCommand.objects.exists()


def test_small_refund_goes_out_at_once(subject):
    case = open_case(subject_user=subject.id, order_id="ord_4411")
    taken = services.case_action_take(
        actor=staff(Role.SUPPORT), case=case, action="refund",
        payload={"amount_cents": 1299, "currency": "EUR"}, reason_code="CUSTOMER_REQUEST")
    command = OutboxCommand.objects.get(type="order.refund")
    assert taken.command_id == command.id
    assert command.payload | {"audit_entry_id": None} == {
        "order_id": "ord_4411", "user_id": subject.id, "amount_cents": 1299, "currency": "EUR",
        "case_id": case.id, "reason_code": "CUSTOMER_REQUEST", "audit_entry_id": None}
    assert AuditEntry.objects.get(action="BILLING_REFUND").resource == "order:ord_4411"


def test_large_refund_waits_for_a_second_person(subject, settings):
    settings.FOUR_EYES_REFUND_CENTS = 10_000
    case = open_case(subject_user=subject.id, order_id="ord_9")
    requester = staff(Role.SUPPORT)
    taken = services.case_action_take(
        actor=requester, case=case, action="refund",
        payload={"amount_cents": 25_000, "currency": "EUR"}, reason_code="CUSTOMER_REQUEST")
    assert taken.approval_id and not taken.command_id
    assert not OutboxCommand.objects.exists()
    assert not AuditEntry.objects.filter(action="BILLING_REFUND").exists()
    approval = Approval.objects.get(pk=taken.approval_id)
    assert approval.operation == "order_refund" and approval.params["case_id"] == case.id
    (item,) = [i for i in selectors.timeline(case) if i["type"] == "action"]
    assert item["approval_status"] == "pending"

    platform.approval_decide(actor=staff(Role.ADMIN), approval=approval, approve=True,
                             reason_code="COMPLIANCE_REVIEW")
    command = OutboxCommand.objects.get(type="order.refund")
    assert command.payload["case_id"] == case.id and command.payload["amount_cents"] == 25_000
    refund = AuditEntry.objects.get(action="BILLING_REFUND")
    assert refund.actor_user_id == requester.user.id
    (item,) = [i for i in selectors.timeline(case) if i["type"] == "action"]
    assert item["approval_status"] == "approved"


@pytest.mark.parametrize(("action", "payload", "error"), [
    ("refund", {"order_id": "ord_1", "currency": "EUR"}, "amount_cents: Field required"),
    ("refund", {"order_id": "ord_1", "amount_cents": -5, "currency": "EUR"}, "greater than"),
    ("refund", {"order_id": "ord_1", "amount_cents": "5", "currency": "EUR"}, "valid integer"),
    ("refund", {"order_id": "ord_1", "amount_cents": 5, "currency": "euro"}, "currency"),
    ("refund", {"order_id": "ord_1", "amount_cents": 2**70, "currency": "EUR"}, "less than"),
    ("suspend", {"user_id": "usr_mallory", "colour": "red"}, "colour: Extra inputs"),
    ("suspend", {"user_id": "mallory"}, "user_id"),
    ("note", {}, "message: Field required"),
    ("teleport", {}, "unknown case action"),
])
def test_payloads_are_checked_by_the_action_schema(subject, action, payload, error):
    case = open_case(subject_user=subject.id)
    with pytest.raises(ValidationFailed, match=error):
        services.case_action_take(actor=staff(Role.ADMIN), case=case, action=action,
                                  payload=payload, reason_code=REASON)
    assert not case.actions.exists()


def test_closed_cases_take_no_action(subject):
    case = move(open_case(subject_user=subject.id), "closed")
    with pytest.raises(Conflict, match="closed"):
        services.case_action_take(actor=staff(Role.ADMIN), case=case, action="suspend",
                                  payload={}, reason_code=REASON)
    assert PlatformUser.objects.get(pk=subject.id).status == "active"


@pytest.mark.parametrize("role", [r for r in Role])
def test_the_same_act_needs_the_same_permission_everywhere(subject, role):
    """Whoever may run an operation may take the case action that runs it, and nobody else;
    whoever may edit a case one by one may do it in bulk."""
    for name, kind in CASE_ACTIONS.items():
        if kind.operation:
            assert kind.perm == platform.OPERATIONS[kind.operation].perm, name
    may_suspend = has_perm({role}, Perm.USER_SUSPEND)
    case = open_case(subject_user=subject.id)
    actor = Actor.staff(make_staff(role))
    if may_suspend:
        services.case_action_take(actor=actor, case=case, action="suspend", payload={},
                                  reason_code=REASON)
    else:
        with pytest.raises(PermissionDenied):
            services.case_action_take(actor=actor, case=case, action="suspend", payload={},
                                      reason_code=REASON)
    may_edit = role in roles_for(Perm.CASES_EDIT)
    if may_edit:
        (outcome,) = services.cases_bulk(actor=actor, case_ids=[case.id], operation="tag",
                                         value="wave", reason_code=REASON)
        assert outcome.ok
    else:
        with pytest.raises(PermissionDenied):
            services.cases_bulk(actor=actor, case_ids=[case.id], operation="tag", value="wave",
                                reason_code=REASON)


def test_bulk_all_or_nothing_changes_nothing_when_one_case_refuses():
    fresh = [open_case() for _ in range(3)]
    done = move(open_case(), "closed")
    actor = staff(Role.ANALYST)
    before = AuditEntry.objects.count()
    with pytest.raises(Conflict) as refused:
        services.cases_bulk(actor=actor, case_ids=[c.id for c in fresh] + [done.id],
                            operation="status", value="triage", reason_code="OPERATIONS",
                            all_or_nothing=True)
    assert refused.value.details["case_id"] == done.id
    assert AuditEntry.objects.count() == before
    assert {c.status for c in (selectors.case_get(c.id) for c in fresh)} == {"new"}
    outcomes = services.cases_bulk(actor=actor, case_ids=[c.id for c in fresh],
                                   operation="status", value="triage", reason_code="OPERATIONS",
                                   all_or_nothing=True)
    assert all(o.ok for o in outcomes)
    assert AuditEntry.objects.count() == before + 3
