from django.urls import path

from casefile.events import views

app_name = "events"
urlpatterns = [
    path("", views.explorer, name="explorer"),
    path("export/", views.export, name="export"),
    path("ingest/", views.ingest, name="ingest"),
    path("<str:event_id>/", views.event_page, name="event"),
    path("<str:event_id>/link/", views.link, name="link"),
]
