from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "casefile.events"
    label = "events"
