from django.urls import path

from casefile.events import views

app_name = "events"
urlpatterns = [
    path("", views.explorer, name="explorer"),
    path("export/", views.export, name="export"),
    path("ingest/", views.ingest, name="ingest"),
    path("issues/<str:issue_id>/", views.issue_page, name="issue"),
    path("issues/<str:issue_id>/split/", views.issue_split, name="issue_split"),
    path("issues/<str:issue_id>/merge/", views.issue_merge, name="issue_merge"),
    path("<str:event_id>/", views.event_page, name="event"),
    path("<str:event_id>/link/", views.link, name="link"),
]
