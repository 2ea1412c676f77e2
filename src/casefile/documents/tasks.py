"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.documents import signing


@task()
def signing_links_expire() -> int:
    return signing.signing_links_expire()
