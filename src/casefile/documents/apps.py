from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "casefile.documents"
    label = "documents"
