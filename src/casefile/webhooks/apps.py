from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "casefile.webhooks"
    label = "webhooks"
