from django.apps import AppConfig, apps


class WebhooksConfig(AppConfig):
    name = "casefile.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        # A hold on a verification case covers its deliveries' bodies (webhooks/holds.py).
        if not apps.is_installed("casefile.holds"):
            return
        from casefile.holds import scopes
        from casefile.webhooks import holds

        scopes.register_parents("evidence", holds.verification_cases_of_blob)
        scopes.register_contents("verification_case", holds.verification_object_keys)
