from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.cases import services
from tests.conftest import make_staff


def analyst() -> Actor:
    return Actor.staff(make_staff(Role.ANALYST))


def open_case(actor: Actor | None = None, **fields):
    fields = {"kind": "report", "title": "Harassment in thread", "priority": 3,
              "reason_code": "POLICY_VIOLATION", **fields}
    return services.case_create(actor=actor or analyst(), **fields)


def move(case, *statuses, actor: Actor | None = None):
    actor = actor or analyst()
    for status in statuses:
        case = services.case_transition(actor=actor, case=case, to=status,
                                        reason_code="INVESTIGATION")
    return case
