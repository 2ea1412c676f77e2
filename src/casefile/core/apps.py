from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "casefile.core"
    label = "core"

    def ready(self) -> None:
        from casefile.core import checks  # noqa: F401 - registers the system checks
