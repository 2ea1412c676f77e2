from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "casefile.trust"
    label = "trust"
