from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "casefile.platform"
    label = "platform_subjects"  # "platform" would shadow the standard library's name in apps
