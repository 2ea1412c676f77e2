from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "casefile.accounts"
    label = "accounts"

    def ready(self) -> None:
        from casefile.accounts import sessions  # noqa: F401  (its user_logged_in receiver)
