"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.accounts import services


@task()
def known_sign_in_sources_prune() -> int:
    return services.known_sign_in_sources_prune()
