from django.apps import AppConfig


class HoldsConfig(AppConfig):
    name = "casefile.holds"
    label = "holds"
