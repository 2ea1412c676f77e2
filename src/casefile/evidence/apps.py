from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "casefile.evidence"
    label = "evidence"
