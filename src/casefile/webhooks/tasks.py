"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.webhooks import services


@task()
def webhook_deliveries_sweep_held() -> int:
    return services.webhook_deliveries_sweep_held()


@task()
def webhook_bodies_expire() -> dict:
    return services.webhook_bodies_expire().as_dict()
