from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "casefile.storage"
    label = "storage"
