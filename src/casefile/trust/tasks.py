"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.trust import services, statements, strikes


@task()
def verification_pii_expire() -> dict:
    return services.verification_pii_expire().as_dict()


@task()
def strikes_decay() -> dict:
    return strikes.strikes_decay().as_dict()


@task()
def statements_submit() -> dict:
    return statements.statements_submit().as_dict()
